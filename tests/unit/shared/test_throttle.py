"""Token buckets behind the sign-in and 1C checkauth throttles."""

from __future__ import annotations

import pytest

from oms_shared.throttle import AttemptGuard, RateLimiter, Throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 6, clock=clock)  # 3 at once, then one every 10 s
    assert [limiter.hit("k") for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("k") == pytest.approx(10)
    clock.now += 5
    assert limiter.hit("k") == pytest.approx(5)
    clock.now += 5
    assert limiter.hit("k") == 0
    assert limiter.hit("other") == 0  # keys are independent


def test_the_map_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(1, 1, max_keys=100, clock=Clock())
    for n in range(10_000):
        limiter.hit(f"k{n}")
    assert len(limiter._buckets) == 100


def test_a_guard_refuses_with_retry_after_and_takes_nothing_when_refused() -> None:
    clock = Clock()
    guard = AttemptGuard(RateLimiter(3, 60, clock=clock), RateLimiter(1, 1, clock=clock))
    guard.check("10.0.0.1", "anna")
    with pytest.raises(Throttled) as refused:
        guard.check("10.0.0.1", "anna")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "60"}
    # The refused attempt took nothing from the address: two more logins still pass from it.
    guard.check("10.0.0.1", "boris")
    guard.check("10.0.0.1", "vera")
    with pytest.raises(Throttled):
        guard.check("10.0.0.1", "gleb")
