"""Token verification (EdDSA JWTs issued by orders) and access checks every service applies."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request

from oms_shared.errors import Forbidden, Unauthorized

ALGORITHM = "EdDSA"
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
    _write_file(private_path, private_pem, 0o600)
    _write_file(public_path, public_pem, 0o644)
    return private_path, public_path


def _write_file(path: Path, data: bytes, mode: int) -> None:
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
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies tokens with the public key alone."""

    def __init__(self, public_key_pem: bytes, *, issuer: str = "oms-orders", audience: str = "oms") -> None:
        self.public_key = serialization.load_pem_public_key(public_key_pem)
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> TokenVerifier:
        return cls(Path(path).read_bytes(), **kwargs)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.public_key,  # type: ignore[arg-type]
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
            return Principal(
                user_id=uuid.UUID(claims["sub"]),
                account_id=uuid.UUID(claims["tid"]),
                account_kind=claims["akind"],
                is_owner=bool(claims.get("own", False)),
                access=dict(claims.get("acc") or {}),
                restricted_to_own_buyers=bool(claims.get("rst", False)),
                name=str(claims.get("name", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("invalid token", code="invalid_token") from exc


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", code="missing_token")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Unauthorized("token verification is not configured", code="auth_unavailable")
    return verifier.verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
