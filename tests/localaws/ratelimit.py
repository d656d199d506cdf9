"""Route 53's request rate limit: a token bucket, and the check of a limit spec.

No moto imports, so server.py can check its flags before loading moto.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable


class TokenBucket:
    """Route 53's account-wide request-rate bucket.

    It holds at most ``burst`` tokens and gains ``rate`` tokens a second,
    continuously, on a monotonic clock. Each Route 53 request takes one token;
    a request that finds less than one is throttled. A new bucket is full.
    The bucket has its own lock, so a throttled request never waits for
    control.STATE_LOCK.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self) -> bool:
        """Take a token: True if the request may go on, False if it is throttled."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def describe(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {"rate": self.rate, "burst": self.burst, "tokens": round(self._tokens, 3)}


def route53_limit(spec: Any) -> dict[str, Any] | None:
    """Check a Route 53 limit spec: None (off) or ``{"rate": R, "burst": B}``.

    ``rate`` is requests a second, a number > 0; ``burst`` is the bucket size,
    a whole number >= 1, by default ``rate`` rounded up. Returns the spec with
    the burst filled in."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError("the route53 limit must be an object {\"rate\", \"burst\"?} or null")
    unknown = sorted(set(spec) - {"rate", "burst"})
    if unknown:
        raise ValueError(f"unknown field(s) in the route53 limit: {', '.join(unknown)}")
    if "rate" not in spec:
        raise ValueError("the route53 limit needs a rate (requests per second)")
    rate = spec["rate"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise ValueError(
            f"rate must be a number of requests per second > 0, not {rate!r}"
            " (to switch the limit off: null, or off on the command line)"
        )
    burst = spec.get("burst")
    if burst is None:
        burst = max(1, math.ceil(rate))
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be a whole number >= 1, not {burst!r}")
    return {"rate": rate, "burst": burst}
