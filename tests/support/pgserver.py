"""A private PostgreSQL server for one test: initdb in a temporary directory, started on a free port, stopped and
started again at will (a real restart: every connection is dropped, new ones are refused while it is down). The
machine's own PostgreSQL is never touched."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: Debian keeps them off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent  # a link on PATH: the tools next to the real one (createdb too)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(candidates[-1]).parent if candidates else None


# Skipped on a developer's machine without the server binaries; never in CI, where the test fails instead.
needs_postgres_server = pytest.mark.skipif(
    postgres_bin_dir() is None and not IN_CI,
    reason="needs the PostgreSQL server binaries (initdb, pg_ctl: Debian's postgresql package)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """``start()``, ``stop()``, ``start()`` again ...; ``close()`` stops it and deletes its files. Run as root, the
    server runs as the ``postgres`` user (it refuses to run as root) in a directory it owns."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="oms-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-locale"
        )
        self.running = False

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stdout}{done.stderr}\n{log}")

    def start(self) -> None:
        """Start it and wait until it accepts connections (on the same port every time)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "120", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``fast`` ends every session and shuts down cleanly (a restart), ``immediate`` as a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")
        self.running = False

    def create_databases(self, count: int) -> list[str]:
        """``count`` new empty databases; their SQLAlchemy URLs."""
        names = [f"oms_t_{uuid.uuid4().hex[:12]}" for _ in range(count)]
        for name in names:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return [f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}" for name in names]

    def close(self) -> None:
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
