"""When to reconnect to aisstream, and how long to wait first.

websockets' `connect`, iterated, already retries failed handshakes with `process_exception` (which
failures are transient) and `reconnect_delays` (how long to wait). Its defaults do not fit here:
HTTP 429 is fatal to them, but aisstream answers 429 while an account has too many sockets open —
usually our own previous one, not yet reaped — so it is retried, with a longer floor (or the
server's Retry-After); and the first delay is a random 0–5 s. `Backoff` supplies both hooks:
exponential delays with full jitter (uniform in [0, min(cap, base·2^n)]), plus the 429 floor.

The iterator resets its delays on every successful handshake, so a server that accepts and then
drops the socket at once would be retried in a tight loop: `after_drop` backs those off too, while a
connection that delivered data is followed by an immediate reconnect (a live feed loses what is sent
while nobody listens).
"""

from __future__ import annotations

import logging
import random
from typing import Callable, Iterator

from websockets.exceptions import InvalidProxy, InvalidStatus, InvalidURI

log = logging.getLogger(__name__)
RETRIED_4XX = (408, 429)  # request timeout, too many requests


class HandshakeRefused(RuntimeError):
    """A handshake failure that retrying cannot fix (bad URL, 401/403/404 ...)."""


class Backoff:
    """Full-jitter exponential backoff, with a higher floor after HTTP 429; counts failures."""

    def __init__(self, base: float, cap: float, rate_limited_floor: float, rng: random.Random | None = None,
                 on_failure: Callable[[BaseException, bool], None] | None = None):
        self.base, self.cap, self.rate_limited_floor = base, cap, rate_limited_floor
        self.rng = rng or random.Random()
        self.on_failure = on_failure  # (exception, rate_limited) for the collector's stats
        self._floor = 0.0
        self._drops = 0  # consecutive connections that ended before delivering anything

    def delay(self, attempt: int, floor: float = 0.0) -> float:
        """Full jitter below the capped exponential, on top of `floor` (what a 429 asks us to wait)."""
        return floor + self.rng.uniform(0.0, min(self.cap, self.base * 2 ** min(attempt, 32)))

    def delays(self) -> Iterator[float]:
        """`reconnect_delays` for websockets: a fresh series after every successful handshake."""
        attempt = 0
        while True:
            yield self.delay(attempt, self._floor)
            attempt += 1

    def classify(self, exc: Exception) -> Exception | None:
        """`process_exception` for websockets: None = transient (retry), an exception = give up."""
        status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
        self._floor = _retry_after(exc, self.rate_limited_floor) if status == 429 else 0.0
        if self.on_failure is not None:
            self.on_failure(exc, status == 429)
        if isinstance(exc, (InvalidURI, InvalidProxy)):
            return HandshakeRefused(f"cannot use the aisstream URL: {exc}")
        if status is not None and 400 <= status < 500 and status not in RETRIED_4XX:
            return HandshakeRefused(f"aisstream refused the handshake with HTTP {status}")
        return None  # network errors, timeouts, 5xx, 408/429, garbled handshakes: try again

    def after_drop(self, delivered: bool) -> float:
        """Seconds to wait after an open connection closed: 0 if it delivered data, else backing off."""
        self._drops = 0 if delivered else self._drops + 1
        return 0.0 if delivered else self.delay(self._drops - 1)


def _retry_after(exc: InvalidStatus, floor: float) -> float:
    value = exc.response.headers.get("Retry-After", "")
    return max(floor, float(value)) if value.isdigit() else floor
