"""Fault injection for the STAC twin: the failures a real catalogue shows, on demand, in order.

The first `fail` search requests get an HTTP error (503 by default, as a busy Earth Search
answers), the next `stall` ones answer only after `stall_s` seconds (a client timeout), then the
API behaves. `seen` counts the search requests that arrived, so tests can assert the retries.
`damage` serves chosen items incomplete (an asset or property left out), as catalogues sometimes do.
`asset_fail` answers the first COG (`.tif`) requests with 503, as S3 throttles ("SlowDown");
`asset_seen` counts the COG requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.responses import JSONResponse


@dataclass
class StacFaults:
    fail: int = 0
    status: int = 503
    stall: int = 0
    stall_s: float = 0.0
    seen: int = 0
    # item id → dotted paths left out wherever the item is served: "assets.nir", "properties.proj:code"
    damage: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    asset_fail: int = 0
    asset_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_fault(self) -> str | None:
        with self._lock:
            self.seen += 1
            n = self.seen
        if n <= self.fail:
            return "fail"
        if n <= self.fail + self.stall:
            return "stall"
        return None

    def next_asset_fault(self) -> str | None:
        with self._lock:
            self.asset_seen += 1
            return "fail" if self.asset_seen <= self.asset_fail else None

    def damaged(self, item: dict) -> dict:
        """The served `item` (a copy, changed in place) without the paths `damage` names for it."""
        for path in self.damage.get(item.get("id"), ()):
            *parents, last = path.split(".")
            node = item
            for key in parents:
                node = node.get(key) or {}
            node.pop(last, None)
        return item


class FaultMiddleware:
    """ASGI middleware applying `StacFaults` to `/search` and COG requests."""

    def __init__(self, app, faults: StacFaults):
        self.app, self.faults = app, faults

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith(".tif"):
            if self.faults.next_asset_fault() == "fail":
                response = JSONResponse({"code": "SlowDown", "description": "injected fault"}, status_code=503)
                return await response(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["type"] != "http" or not scope["path"].endswith("/search"):
            return await self.app(scope, receive, send)
        fault = self.faults.next_fault()
        if fault == "fail":
            response = JSONResponse({"code": "ServiceUnavailable", "description": "injected fault"}, status_code=self.faults.status)
            return await response(scope, receive, send)
        if fault == "stall":
            await asyncio.sleep(self.faults.stall_s)
        return await self.app(scope, receive, send)
