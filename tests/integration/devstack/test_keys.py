"""The development key pair signs and verifies EdDSA access tokens."""

from __future__ import annotations

from pathlib import Path

import jwt

from oms_devstack.keys import ensure_dev_keys


def test_generated_keys_sign_and_verify_an_eddsa_token(tmp_path: Path) -> None:
    private_path, public_path = ensure_dev_keys(tmp_path / "keys")

    token = jwt.encode({"sub": "buyer-1", "aud": "oms"}, private_path.read_bytes(), algorithm="EdDSA")
    claims = jwt.decode(token, public_path.read_bytes(), algorithms=["EdDSA"], audience="oms")

    assert claims["sub"] == "buyer-1"
    assert private_path.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in private_path.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public_path.read_bytes()


def test_existing_keys_are_kept(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in ensure_dev_keys(tmp_path)]
    second = [p.read_bytes() for p in ensure_dev_keys(tmp_path)]
    assert first == second


def test_half_a_pair_is_replaced_by_a_matching_pair(tmp_path: Path) -> None:
    private_path, public_path = ensure_dev_keys(tmp_path)
    public_path.unlink()

    private_path, public_path = ensure_dev_keys(tmp_path)

    token = jwt.encode({"sub": "x"}, private_path.read_bytes(), algorithm="EdDSA")
    assert jwt.decode(token, public_path.read_bytes(), algorithms=["EdDSA"])["sub"] == "x"
