"""Container health check: asks this container's OMS service on 127.0.0.1 for /health (or the path given).

The image runs any of the services; the port is read from the service's own settings, found by the command
the container runs (``oms-inventory`` -> ``oms_inventory.settings``), so an ``OMS_<SERVICE>_HTTP_PORT``
override is honoured. Exits 0 when the answer is 2xx, 1 otherwise.
"""

from __future__ import annotations

import importlib
import sys
import urllib.request
from pathlib import Path


def service_module(cmdline: bytes | None = None) -> str | None:
    """``oms_<service>`` of the command this container runs (PID 1), or None for a one-shot task."""
    if cmdline is None:
        cmdline = Path("/proc/1/cmdline").read_bytes()
    for arg in cmdline.split(b"\0"):
        name = Path(arg.decode(errors="replace")).name
        if name.startswith("oms-") and name not in {"oms-topics"}:
            return name.replace("-", "_")
    return None


def main(argv: list[str] | None = None, cmdline: bytes | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "/health"
    module = service_module(cmdline)
    if module is None:
        return 0
    port = importlib.import_module(f"{module}.settings").Settings().http_port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=4) as answer:
            return 0 if 200 <= answer.status < 300 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
