"""The development Ed25519 key pair that orders signs access tokens with and every service verifies."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_KEY_NAME = "jwt-private.pem"
PUBLIC_KEY_NAME = "jwt-public.pem"


def ensure_dev_keys(keys_dir: Path | str) -> tuple[Path, Path]:
    """Create ``jwt-private.pem`` (mode 0600) and ``jwt-public.pem`` unless both exist; return their paths."""
    keys_dir = Path(keys_dir)
    private_path, public_path = keys_dir / PRIVATE_KEY_NAME, keys_dir / PUBLIC_KEY_NAME
    if private_path.is_file() and public_path.is_file():
        return private_path, public_path
    # Half a pair is useless (tokens would not verify), so regenerate both.
    keys_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write(private_path, private_pem, 0o600)
    _write(public_path, public_pem, 0o644)
    return private_path, public_path


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode so the private key is never readable by others, even briefly.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        # A leftover temp file from a crashed run keeps its old mode unless set again.
        os.fchmod(fh.fileno(), mode)
        fh.write(data)
    os.replace(tmp, path)
