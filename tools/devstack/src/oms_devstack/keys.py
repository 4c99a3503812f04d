"""The development Ed25519 key pair that orders signs access tokens with and every service verifies."""

from __future__ import annotations

from oms_shared.auth import generate_keypair as ensure_dev_keys

PRIVATE_KEY_NAME = "jwt-private.pem"
PUBLIC_KEY_NAME = "jwt-public.pem"

__all__ = ["PRIVATE_KEY_NAME", "PUBLIC_KEY_NAME", "ensure_dev_keys"]
