"""Process and port helpers shared by the local-stack components (broker, SMTP catcher, services)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class PortInUseError(RuntimeError):
    """A port the stack wants is already taken by another process."""

    def __init__(self, host: str, port: int, what: str, hint: str = "") -> None:
        self.host, self.port, self.what = host, port, what
        message = f"port {port} ({what}) on {host} is already in use"
        super().__init__(f"{message}; {hint}" if hint else message)


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers (uvicorn, asyncio, tansu) bind with SO_REUSEADDR, so a port with only
        # TIME_WAIT leftovers is usable by them and must not count as taken here.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports the OS reports free on ``host``."""
    # Hold every socket open until all are picked so the OS cannot hand out the same port twice.
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """One port the OS reports free on ``host``."""
    return free_ports(1, host)[0]


def tcp_accepts(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def split_host_port(address: str, default_port: int = 9092) -> tuple[str, int]:
    """``"h:p"`` (first entry of a comma-separated bootstrap list) as ``(h, p)``."""
    first = address.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, sep, port = first.rpartition(":")
    if not sep:
        return first, default_port
    return host.strip("[]"), int(port)


def log_tail(path: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note saying why there are none."""
    if path is None:
        return "(no log file was configured)"
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            # 64 KiB is plenty for 40 lines of service logs and bounds the read on huge files.
            fh.seek(max(0, size - 65536))
            data = fh.read()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else f"({path} is empty)"


def process_start_ticks(pid: int) -> int | None:
    """The kernel start time of ``pid`` (Linux), used to tell a process from a later one reusing its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after the last ")" are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether ``pid`` exists (and is still the same process when ``start_ticks`` is known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(pid):
        return False
    if start_ticks is not None:
        current = process_start_ticks(pid)
        if current is not None and current != start_ticks:
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # killpg(0) also succeeds for an unreaped zombie leader; look for a member that is really running.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to a process group, ignoring a group that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(procs: Iterable[subprocess.Popen[bytes]], timeout_s: float = 10.0, kill_timeout_s: float = 5.0) -> None:
    """SIGTERM the process groups of our children, wait, then SIGKILL what is left (grandchildren too)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        # The leader may have exited while a grandchild it spawned still runs in the group.
        if proc.poll() is None or group_alive(proc.pid):
            signal_group(proc.pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=kill_timeout_s)


def stop_foreign_groups(pgids: Iterable[int], timeout_s: float = 10.0) -> None:
    """Like :func:`stop_groups` for groups whose leaders are not our children (``oms down``)."""
    pgids = [p for p in pgids if group_alive(p)]
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    # Wait for the leaders (the services shutting down gracefully), as stop_groups does; whatever is
    # left in a group after its leader is gone, or after the timeout, is killed.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(pid_alive(p) for p in pgids):
        time.sleep(0.1)
    for pgid in pgids:
        if group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(group_alive(p) for p in pgids):
        time.sleep(0.05)


def run_coro_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when the caller is inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A sync start() called from an async test fixture: the caller's loop is busy, so use a fresh
    # loop in a worker thread (the caller blocks briefly, which is what a sync start() means).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
