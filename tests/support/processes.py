"""A service as a real process (its console script under uvicorn), to be killed and restarted by a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.services import WAIT_SCALE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``oms-<service>`` started with its own port, database and the test's broker and keys."""

    def __init__(self, service: str, var_dir: Path, env: dict[str, str]) -> None:
        self.service = service
        self.prefix = f"OMS_{service.replace('-', '_').upper()}_"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var_dir = var_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        self.env.update(env)
        self.env.update({"OMS_VAR_DIR": str(var_dir), f"{self.prefix}HTTP_PORT": str(self.port)})
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.var_dir / f"{self.service}-{self.starts}.log"

    def start(self, ready_timeout_s: float = 90.0) -> None:
        self.starts += 1
        self.var_dir.mkdir(parents=True, exist_ok=True)
        script = Path(sys.executable).parent / f"oms-{self.service}"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(script)], env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + ready_timeout_s * WAIT_SCALE
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.service} exited: {self.log_path.read_text()[-3000:]}")
                try:
                    if client.get(f"{self.url}/ready").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.service} not ready: {self.log_path.read_text()[-3000:]}")
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no ``finally`` runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0
