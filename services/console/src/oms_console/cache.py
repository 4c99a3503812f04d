"""A small per-user cache of names (buyers, price lists, people) that pages show instead of ids.

Keyed by the user, so nobody sees what another user may read; kept a short while, so a renamed buyer shows
its new name within ``ttl_s``. Bounded: the oldest entries go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any


class NameCache:
    def __init__(self, ttl_s: float = 30.0, max_entries: int = 2000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()

    async def get(self, user_id: str, kind: str, load: Callable[[], Awaitable[Any]]) -> Any:
        key = (user_id, kind)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        value = await load()
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def forget(self, user_id: str) -> None:
        for key in [k for k in self._entries if k[0] == user_id]:
            del self._entries[key]
