"""Pure checks of the contracts parser and access levels (no broker, no database)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from oms_shared.auth import Principal, TokenVerifier, generate_keypair, issue_token
from oms_shared.contracts import ContractError, UnknownEventError, parse_event
from oms_shared.errors import Forbidden, Unauthorized
from tests.support.services import WAIT_SCALE


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"{}", "missing event_type"),
        (b'{"event_type": "order.placed", "schema_version": "x"}', "not an integer"),
        (b'{"event_type": "order.placed", "schema_version": 99}', "unknown event order.placed v99"),
        (b'{"event_type": "order.placed", "schema_version": 1}', "invalid order.placed v1"),
    ],
)
def test_a_bad_message_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    """Every way a message can be wrong has a reason a person can read in the dead-letter header."""
    with pytest.raises(ContractError, match=reason):
        parse_event(raw)


def test_an_unknown_version_is_its_own_error() -> None:
    body = json.dumps({"event_type": "stock.updated", "schema_version": 2}).encode()
    with pytest.raises(UnknownEventError):
        parse_event(body)


def test_access_levels_per_section_R_ACC_1() -> None:
    """R-ACC-1: none/read/change/full per section; the owner has everything; buyers are not employees."""
    owner = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", is_owner=True)
    reader = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", access={"orders": "read", "buyers": "none"})
    buyer = Principal(uuid.uuid4(), uuid.uuid4(), "buyer")
    owner.require("orders", "full")
    reader.require("orders", "read")
    with pytest.raises(Forbidden, match="needs at least 'change' access to orders; you have 'read'"):
        reader.require("orders", "change")
    with pytest.raises(Forbidden):
        reader.require("buyers", "read")
    with pytest.raises(Forbidden) as refused:
        buyer.require("orders", "read")
    assert refused.value.code == "supplier_only"
    with pytest.raises(Forbidden) as foreign:
        reader.require_tenant(uuid.uuid4())
    assert foreign.value.code == "foreign_tenant"


def test_a_verified_token_is_taken_again_only_until_it_expires_or_its_key_goes(tmp_path: Path) -> None:
    """The signature of a token is checked once (a console page makes several calls with it); its expiry and
    its key still count on every call."""
    private, public = generate_keypair(tmp_path)
    principal = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", access={"orders": "change"}, name="Anna")
    verifier = TokenVerifier.from_file(public)
    short = issue_token(private.read_bytes(), principal, ttl=timedelta(seconds=1))
    assert verifier.verify(short) == principal

    def refused_as_expired() -> bool:
        try:
            verifier.verify(short)
        except Unauthorized as exc:
            return exc.code == "token_expired"
        return False

    deadline = time.monotonic() + 5 * WAIT_SCALE
    while not refused_as_expired():
        assert time.monotonic() < deadline, "a verified token was still taken after it expired"
        time.sleep(0.05)
    token = issue_token(private.read_bytes(), principal)
    assert verifier.verify(token) == principal
    assert verifier.verify(token) == principal
    verifier.keys = {}  # the key rotated out
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    verifier = TokenVerifier.from_file(public)
    verifier.max_verified = 2
    tokens = [issue_token(private.read_bytes(), principal, session_id=str(n)) for n in range(5)]
    assert [verifier.verify(t).session_id for t in tokens] == ["0", "1", "2", "3", "4"]
    assert len(verifier._verified) == 2


def test_tokens_round_trip_and_a_tampered_token_is_refused(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path)
    principal = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", access={"orders": "change"}, name="Anna")
    token = issue_token(private.read_bytes(), principal)
    verifier = TokenVerifier.from_file(public)
    assert verifier.verify(token) == principal
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    with pytest.raises(Unauthorized):
        verifier.verify(tampered)
    assert oct(private.stat().st_mode & 0o777) == "0o600"
