"""In-process token buckets: sign-in and 1C ``checkauth`` attempts per login and per client address.

Each replica counts on its own (there is no shared store), so with N replicas behind a balancer a
client gets up to N times the rate; the limits are set with that in mind. Buckets live in a bounded
map (the least recently used go first), so a flood of distinct keys cannot grow memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from oms_shared.errors import OmsError


class Throttled(OmsError):
    """429 with ``Retry-After``: too many attempts; try again after that many seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(message, details={"retry_after_s": self.retry_after_s})
        self.headers = {"Retry-After": str(self.retry_after_s)}


class RateLimiter:
    """``burst`` attempts at once, then ``per_minute`` more each minute, per key."""

    def __init__(
        self,
        burst: int,
        per_minute: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = max(1, burst)
        self.rate = max(per_minute, 1e-9) / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may now) — without taking an attempt."""
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - updated) * self.rate)

    def hit(self, key: str) -> float:
        """Take one attempt for ``key``: 0 if allowed, else the seconds to wait (nothing is taken)."""
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens < 1:
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0.0


class AttemptGuard:
    """Attempts limited per client address and per login (both must allow; the address is asked first)."""

    def __init__(self, per_ip: RateLimiter, per_login: RateLimiter, what: str = "sign-in") -> None:
        self.per_ip = per_ip
        self.per_login = per_login
        self.what = what

    def wait_for(self, ip: str, login: str) -> float:
        """Take one attempt; 0 if allowed, else the seconds to wait."""
        wait = self.per_ip.wait_for(f"ip:{ip}")
        if wait == 0:
            wait = self.per_login.wait_for(f"login:{login}")
        if wait == 0:
            self.per_ip.hit(f"ip:{ip}")
            self.per_login.hit(f"login:{login}")
        return wait

    def check(self, ip: str, login: str) -> None:
        """Take one attempt or raise :class:`Throttled` (429)."""
        wait = self.wait_for(ip, login)
        if wait > 0:
            raise Throttled(f"too many {self.what} attempts; try again later", wait)
