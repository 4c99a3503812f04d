"""Print the figures of fault runs (the JSON files ``OMS_FAULTS_REPORT``, its ``-broker`` sibling,
``OMS_FAULTS_DB_REPORT`` and ``OMS_FAULTS_POISON_REPORT`` name) as small tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _audit(figures: dict[str, object]) -> tuple[dict[str, object], str]:
    audit = figures.get("audit") or {}
    assert isinstance(audit, dict)
    checks = len(audit)
    passed = sum(1 for v in audit.values() if v == "ok")
    return audit, f"{passed} of {checks}" if checks else "none ran (the run failed before)"


def _per_service(value: object) -> str:
    """``{"orders": 6.0, "inventory": 0.0}`` as "orders 6" (the services above zero), "none" when all are zero."""
    if not isinstance(value, dict):
        return "?"
    above = [f"{name} {float(n):g}" for name, n in value.items() if float(n)]
    return ", ".join(above) or "none"


def _of_relays(figures: dict[str, object], figure: str) -> dict[str, float] | None:
    """One figure of each service's relay (``{"orders": {"resent": 183.0, ...}}`` → ``{"orders": 183.0}``)."""
    relays = figures.get("relays")
    if not isinstance(relays, dict):
        return None
    return {name: float(values.get(figure, 0)) for name, values in relays.items() if isinstance(values, dict)}


def _rows(figures: dict[str, object], passed: str) -> list[tuple[str, str]]:
    kind = figures.get("kind", "kill")
    if kind == "database_outage":
        not_ready = figures.get("not_ready_during_outage")
        return [
            ("orders", str(figures.get("orders", "?"))),
            ("PostgreSQL down (s)", str(figures.get("down_s", "?"))),
            (
                "services not ready while it was down",
                ", ".join(str(n) for n in not_ready) if isinstance(not_ready, list) else "?",
            ),
            ("every service ready again after (s)", str(figures.get("ready_again_after_s", "?"))),
            ("HTTP calls retried while it was down", str(figures.get("retried_calls", "?"))),
            ("events held and retried in place", _per_service(figures.get("consumer_transient_retries"))),
            ("services restarted by the supervisor", _per_service(figures.get("restarts"))),
            ("audit checks passed", passed),
            ("load (s)", str(figures.get("load_s", "?"))),
            ("whole run (s)", str(figures.get("total_s", "?"))),
        ]
    if kind == "broker":
        return [
            ("orders", str(figures.get("orders", "?"))),
            ("broker killed (SIGKILL) and restarted", str(figures.get("broker_kills", "?"))),
            ("outbox rows sent again", _per_service(_of_relays(figures, "resent"))),
            ("losses older than the kept window", _per_service(_of_relays(figures, "unrecoverable"))),
            ("services restarted by the supervisor", _per_service(figures.get("restarts"))),
            ("HTTP calls retried while it was down", str(figures.get("retried_calls", "?"))),
            ("audit checks passed", passed),
            ("load (s)", str(figures.get("load_s", "?"))),
            ("whole run (s)", str(figures.get("total_s", "?"))),
        ]
    if kind == "poison":
        return [
            ("topics x partitions poisoned", str(figures.get("poisoned", "?"))),
            ("malformed letters (one per consumer)", str(figures.get("malformed_letters", "?"))),
            ("events applied behind a poison", str(figures.get("events_behind", "?"))),
            ("events refused for a lost replica", str(figures.get("refused", "?"))),
            ("replays (oms dlq replay)", str(figures.get("replays", "?"))),
            ("audit checks passed", passed),
            ("whole run (s)", str(figures.get("total_s", "?"))),
        ]
    return [
        ("orders", str(figures.get("orders", "?"))),
        ("services killed (SIGKILL)", str(figures.get("kills", "?"))),
        ("SMTP catcher down (s)", str(figures.get("smtp_down_s", "no")) if figures.get("smtp_outage") else "no"),
        ("HTTP calls retried while a service was down", str(figures.get("retried_calls", "?"))),
        ("audit checks passed", passed),
        ("load (s)", str(figures.get("load_s", "?"))),
        ("whole run (s)", str(figures.get("total_s", "?"))),
    ]


def table(figures: dict[str, object]) -> str:
    audit, passed = _audit(figures)
    rows = _rows(figures, passed)
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'what'.ljust(width)} | result |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    lines += [f"  {'ok  ' if v == 'ok' else 'FAIL'} {k}" for k, v in audit.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    rc = 0
    for name in argv or ["var/faults.json"]:
        path = Path(name)
        if not path.is_file():
            print(f"no figures in {path}: the fault run did not get as far as starting the stack", file=sys.stderr)
            rc = 1
            continue
        print(f"\n{path.name}:")
        print(table(json.loads(path.read_text())))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
