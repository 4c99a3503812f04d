"""Token verification (EdDSA JWTs issued by orders) and access checks every service applies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from oms_shared.errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
JWKS_PATH = "/.well-known/jwks.json"
LEVELS = ("none", "read", "change", "full")
Section = Literal["buyers", "orders"]
Level = Literal["none", "read", "change", "full"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of a supplier or buyer account, with access levels per section."""

    user_id: uuid.UUID
    account_id: uuid.UUID
    account_kind: Literal["supplier", "buyer"]
    is_owner: bool = False
    access: dict[str, str] = field(default_factory=dict)
    restricted_to_own_buyers: bool = False
    name: str = ""
    session_id: str | None = None  # the sign-in session the token was issued under (orders ends it)

    @property
    def is_supplier(self) -> bool:
        return self.account_kind == "supplier"

    @property
    def is_buyer(self) -> bool:
        return self.account_kind == "buyer"

    def level(self, section: Section) -> Level:
        if self.is_owner:
            return "full"
        value = self.access.get(section, "none")
        return value if value in LEVELS else "none"  # type: ignore[return-value]

    def has(self, section: Section, at_least: Level) -> bool:
        return LEVELS.index(self.level(section)) >= LEVELS.index(at_least)

    def require(self, section: Section, at_least: Level) -> None:
        if not self.is_supplier:
            raise Forbidden("this action is for the supplier's employees", code="supplier_only")
        if not self.has(section, at_least):
            raise Forbidden(
                f"needs at least '{at_least}' access to {section}; you have '{self.level(section)}'",
                code="access_denied",
            )

    def require_supplier(self) -> None:
        if not self.is_supplier:
            raise Forbidden("this action is for the supplier's employees", code="supplier_only")

    def require_buyer(self) -> None:
        if not self.is_buyer:
            raise Forbidden("this action is for the buyer's users", code="buyer_only")

    def require_tenant(self, account_id: uuid.UUID | str) -> None:
        """Refuse access to data of another account (R-ACC-4)."""
        if str(account_id) != str(self.account_id):
            raise Forbidden("this belongs to another account", code="foreign_tenant")


def generate_keypair(directory: Path | str) -> tuple[Path, Path]:
    """Create ``jwt-private.pem`` (mode 0600) and ``jwt-public.pem`` unless both exist; return their paths."""
    directory = Path(directory)
    private_path, public_path = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if private_path.is_file() and public_path.is_file():
        return private_path, public_path
    # Half a pair is useless (tokens would not verify), so regenerate both.
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_key_file(private_path, private_pem, 0o600)
    write_key_file(public_path, public_pem, 0o644)
    return private_path, public_path


def write_key_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with its final mode so the private key is never readable by others, even briefly;
    # written to a temp name and renamed so a concurrent reader never sees half a key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(data)
    os.replace(tmp, path)


def issue_token(
    private_key_pem: bytes,
    principal: Principal,
    *,
    issuer: str = "oms-orders",
    audience: str = "oms",
    ttl: timedelta = timedelta(hours=12),
    session_id: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(principal.user_id),
        "tid": str(principal.account_id),
        "akind": principal.account_kind,
        "own": principal.is_owner,
        "acc": principal.access,
        "rst": principal.restricted_to_own_buyers,
        "name": principal.name,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM, headers={"kid": kid_of_private(private_key_pem)})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key_pem: bytes) -> dict[str, str]:
    """The public key as a JWK (RFC 8037) whose ``kid`` is its RFC 7638 thumbprint."""
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("token keys are Ed25519")
    x = _b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def public_pem_of(private_key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


_KIDS: dict[bytes, str] = {}


def kid_of_private(private_key_pem: bytes) -> str:
    """The ``kid`` of the key pair a private key belongs to (cached: tokens are signed often)."""
    kid = _KIDS.get(private_key_pem)
    if kid is None:
        kid = _KIDS[private_key_pem] = public_jwk(public_pem_of(private_key_pem))["kid"]
    return kid


def jwks_document(public_key_pems: list[bytes]) -> dict[str, Any]:
    """The JWKS document orders publishes at ``/.well-known/jwks.json``: current key first, then previous ones."""
    keys: list[dict[str, str]] = []
    for pem in public_key_pems:
        jwk = public_jwk(pem)
        if all(k["kid"] != jwk["kid"] for k in keys):
            keys.append(jwk)
    return {"keys": keys}


class TokenVerifier:
    """Verifies tokens with public keys alone, chosen by the token's ``kid``.

    The keys are given (PEM files) or fetched from a JWKS URL and cached. A token naming a key the
    cache does not know makes the verifier fetch the document again, at most once per
    ``min_refresh_interval_s`` (so forged ``kid`` values cannot make it hammer the issuer); it also
    refreshes every ``refresh_interval_s`` in the background so a rotated-out key is dropped.
    """

    def __init__(
        self,
        public_key_pem: bytes | None = None,
        *,
        issuer: str = "oms-orders",
        audience: str = "oms",
        extra_public_key_pems: tuple[bytes, ...] = (),
        jwks_url: str = "",
        min_refresh_interval_s: float = 30.0,
        refresh_interval_s: float = 300.0,
        fetch_timeout_s: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.min_refresh_interval_s = min_refresh_interval_s
        self.refresh_interval_s = refresh_interval_s
        self.fetch_timeout_s = fetch_timeout_s
        self.keys: dict[str, Any] = {}
        pems = ([public_key_pem] if public_key_pem else []) + list(extra_public_key_pems)
        for pem in pems:
            self.keys[public_jwk(pem)["kid"]] = serialization.load_pem_public_key(pem)
        self.fetches = 0
        self.transport: httpx.AsyncBaseTransport | None = None  # tests fetch from an in-process app
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()
        # Tokens already verified: token -> (principal, the key that verified it, its exp). A page of the console
        # makes several calls with one token; the signature is checked once, the expiry and the key every time.
        self._verified: dict[str, tuple[Principal, Any, float]] = {}
        self.max_verified = 4096

    @property
    def public_key(self) -> Any:
        """The first known key (kept for callers that used the single-key verifier)."""
        return next(iter(self.keys.values()), None)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> TokenVerifier:
        return cls(Path(path).read_bytes(), **kwargs)

    @classmethod
    def from_jwks(cls, url: str, **kwargs: Any) -> TokenVerifier:
        return cls(None, jwks_url=url, **kwargs)

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS document (if a URL is set and the last fetch is old enough); True if it was fetched."""
        if not self.jwks_url:
            return False
        async with self._lock:
            now = time.monotonic()
            if not force and self.keys and now - self._last_fetch < self.min_refresh_interval_s:
                return False
            self._last_fetch = now
            self.fetches += 1
            try:
                async with httpx.AsyncClient(timeout=self.fetch_timeout_s, transport=self.transport) as client:
                    response = await client.get(self.jwks_url)
                    response.raise_for_status()
                    document = response.json()
                keys = {}
                for entry in document.get("keys", []):
                    if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519" and entry.get("kid"):
                        keys[str(entry["kid"])] = jwt.PyJWK.from_dict(entry, algorithm=ALGORITHM).key
            except (httpx.HTTPError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as exc:
                log.warning("could not fetch the token keys from %s: %s", self.jwks_url, exc)
                return False
            if keys:
                self.keys = keys
            return True

    async def keep_fresh(self) -> None:
        """Background task: fetch at start (retrying until the issuer answers), then every refresh interval."""
        while True:
            fetched = await self.refresh(force=True)
            await asyncio.sleep(self.refresh_interval_s if fetched and self.keys else min(self.refresh_interval_s, 2.0))

    @staticmethod
    def _kid(token: str) -> str | None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token", code="invalid_token") from exc
        return str(kid) if kid is not None else None

    async def verify_async(self, token: str) -> Principal:
        """Verify; a token signed by a key not known yet makes the verifier look at the JWKS again (bounded)."""
        kid = self._kid(token)
        if kid is not None and kid not in self.keys and self.jwks_url:
            await self.refresh()
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, key, exp = known
            if time.time() < exp and any(k is key for k in self.keys.values()):
                return principal
            del self._verified[token]  # expired, or its key rotated out: verified afresh (and refused) below
        kid = self._kid(token)
        if kid is not None:
            if kid not in self.keys:
                raise Unauthorized("invalid token: signed by an unknown key", code="invalid_token")
            candidates = [self.keys[kid]]
        else:
            candidates = list(self.keys.values())  # tokens signed before keys had ids
        if not candidates:
            raise Unauthorized("token verification is not configured", code="auth_unavailable")
        for index, key in enumerate(candidates):
            try:
                return self._verify_with(token, key)
            except Unauthorized:
                if index == len(candidates) - 1:
                    raise
        raise AssertionError("unreachable")

    def _verify_with(self, token: str, public_key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "tid", "akind"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired; sign in again", code="token_expired") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # Never the library's reason (decoding details): a plain refusal.
            raise Unauthorized("invalid token", code="invalid_token") from exc
        try:
            principal = Principal(
                user_id=uuid.UUID(claims["sub"]),
                account_id=uuid.UUID(claims["tid"]),
                account_kind=claims["akind"],
                is_owner=bool(claims.get("own", False)),
                access=dict(claims.get("acc") or {}),
                restricted_to_own_buyers=bool(claims.get("rst", False)),
                name=str(claims.get("name", "")),
                session_id=str(claims["sid"]) if claims.get("sid") else None,
            )
            exp = float(claims["exp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("invalid token", code="invalid_token") from exc
        self._remember(token, principal, public_key, exp)
        return principal

    def _remember(self, token: str, principal: Principal, key: Any, exp: float) -> None:
        if len(self._verified) >= self.max_verified:
            now = time.time()
            for old in [t for t, (_p, _k, e) in self._verified.items() if e <= now]:
                del self._verified[old]
            while len(self._verified) >= self.max_verified:  # still full: the oldest go first
                del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, key, exp)


# Declares the bearer scheme in OpenAPI (the "Authorize" button in /docs); the token is checked below.
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="An access token from POST /api/v1/auth/token of the orders service (renewed by /auth/refresh).",
    auto_error=False,
)


async def current_principal(
    request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", code="missing_token")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Unauthorized("token verification is not configured", code="auth_unavailable")
    principal = await verifier.verify_async(token.strip())
    access = request.scope.get("oms.access")  # the access log's record of who called (AccessLogMiddleware)
    if isinstance(access, dict):
        access.update(user_id=str(principal.user_id), account_id=str(principal.account_id))
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
