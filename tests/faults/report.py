"""Print the figures of a fault run (the JSON file ``OMS_FAULTS_REPORT`` names) as a small table."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def table(figures: dict[str, object]) -> str:
    audit = figures.get("audit") or {}
    assert isinstance(audit, dict)
    checks = len(audit)
    passed = sum(1 for v in audit.values() if v == "ok")
    rows = [
        ("orders", str(figures.get("orders", "?"))),
        ("services killed (SIGKILL)", str(figures.get("kills", "?"))),
        ("SMTP catcher stopped and restarted", "yes" if figures.get("smtp_outage") else "no"),
        ("HTTP calls retried while a service was down", str(figures.get("retried_calls", "?"))),
        ("audit checks passed", f"{passed} of {checks}" if checks else "none ran (the run failed before)"),
        ("load (s)", str(figures.get("load_s", "?"))),
        ("whole run (s)", str(figures.get("total_s", "?"))),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'what'.ljust(width)} | result |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    lines += [f"  {'ok  ' if v == 'ok' else 'FAIL'} {k}" for k, v in audit.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "var/faults.json")
    if not path.is_file():
        print(f"no figures in {path}: the fault run did not get as far as starting the stack", file=sys.stderr)
        return 1
    print(table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
