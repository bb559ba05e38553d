"""Which failures the collector retries, and the delays it waits (exponential, full jitter)."""

from __future__ import annotations

import random
from itertools import islice

from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage, InvalidStatus, InvalidURI
from websockets.http11 import Response

from shipchips_core.ais.reconnect import Backoff, HandshakeRefused


def _status(code: int, **headers) -> InvalidStatus:
    return InvalidStatus(Response(code, "x", Headers(**headers)))


def test_full_jitter_grows_exponentially_and_is_capped():
    b = Backoff(base=1.0, cap=8.0, rate_limited_floor=10.0, rng=random.Random(1))
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (10, 8), (500, 8)]:
        samples = [b.delay(attempt) for _ in range(300)]
        assert 0 <= min(samples) and max(samples) <= ceiling
        assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling  # jitter over the whole range


def test_transient_failures_are_retried_and_429_waits_longer():
    failures = []
    b = Backoff(base=0.5, cap=4.0, rate_limited_floor=10.0, rng=random.Random(2),
                on_failure=lambda exc, limited: failures.append(limited))
    for exc in (OSError("refused"), TimeoutError(), InvalidMessage("eof"), _status(503), _status(408)):
        assert b.classify(exc) is None
        assert next(b.delays()) <= 0.5
    assert b.classify(_status(429)) is None
    assert all(10.0 <= d <= 14.0 for d in islice(b.delays(), 20))  # the floor, then jitter capped at 4
    assert b.classify(_status(429, **{"Retry-After": "30"})) is None
    assert next(b.delays()) >= 30.0  # the server's Retry-After wins over a lower floor
    assert failures == [False] * 5 + [True, True]


def test_refused_handshakes_and_bad_urls_are_fatal():
    b = Backoff(base=0.5, cap=4.0, rate_limited_floor=10.0)
    for exc in (_status(401), _status(403), _status(404), InvalidURI("http://x", "scheme")):
        assert isinstance(b.classify(exc), HandshakeRefused)


def test_after_drop_reconnects_at_once_after_data_and_backs_off_when_flapping():
    b = Backoff(base=1.0, cap=8.0, rate_limited_floor=10.0, rng=random.Random(3))
    assert b.after_drop(delivered=True) == 0.0
    ceilings = [1, 2, 4, 8, 8]
    delays = [b.after_drop(delivered=False) for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert b.after_drop(delivered=True) == 0.0 and b.after_drop(delivered=False) <= 1.0  # reset by data
