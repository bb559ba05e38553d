"""The benchmark scene over HTTP with range requests, counting what the `.tif` files cost.

The app is the twin's own (`stac_server.create_app`: STAC API plus `/data/...` files served by
starlette's FileResponse, which answers `Range` with 206), wrapped in an ASGI middleware that counts
requests, response statuses and response body bytes of `.tif` paths. Counters are thread-safe and
reset between benchmark phases; uvicorn runs in a daemon thread of the benchmark's main process,
while the phases run in their own processes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from pathlib import Path

import uvicorn

from shipchips_twin.stac_server import create_app


class CountingMiddleware:
    """Counts `.tif` requests (by method and status) and the body bytes sent for them."""

    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests, self._bytes, self._statuses, self._methods = 0, 0, Counter(), Counter()
            self._ranges: list[tuple[str, int, int]] = []

    def snapshot(self) -> dict:
        with self._lock:
            return {"requests": self._requests, "bytes": self._bytes,
                    "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                    "methods": dict(sorted(self._methods.items()))}

    def ranges(self) -> list[tuple[str, int, int]]:
        """(path, first byte, last byte) of every body sent since the last reset."""
        with self._lock:
            return list(self._ranges)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith(".tif"):
            return await self.app(scope, receive, send)
        # make FileResponse send its body as ordinary messages we can count, never via pathsend
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items() if k != "http.response.pathsend"}
        scope = {**scope, "extensions": extensions}
        with self._lock:
            self._requests += 1
            self._methods[scope["method"]] += 1

        async def counting_send(message):
            if message["type"] == "http.response.start":
                span = _body_span(scope["method"], message)
                with self._lock:
                    self._statuses[message["status"]] += 1
                    if span:
                        self._ranges.append((scope["path"], *span))
            elif message["type"] == "http.response.body":
                with self._lock:
                    self._bytes += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting_send)


def _body_span(method: str, start_message: dict) -> tuple[int, int] | None:
    """The byte span a response carries: its Content-Range, or the whole file for a plain 200 GET."""
    headers = {k.decode().lower(): v.decode() for k, v in start_message.get("headers", [])}
    if start_message["status"] == 206 and headers.get("content-range", "").startswith("bytes "):
        first, last = headers["content-range"][6:].split("/")[0].split("-")
        return int(first), int(last)
    if start_message["status"] == 200 and method == "GET" and headers.get("content-length", "0") != "0":
        return 0, int(headers["content-length"]) - 1
    return None


class CountingServer:
    """`create_app(catalog_dir)` behind `CountingMiddleware`, on 127.0.0.1 and a free port."""

    def __init__(self, catalog_dir: str | Path, host: str = "127.0.0.1"):
        self.counter = CountingMiddleware(create_app(Path(catalog_dir)))
        self.host, self.url = host, None
        self._server = self._thread = None

    def __enter__(self) -> CountingServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.url = f"http://{self.host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.counter, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="bench-http")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the benchmark HTTP server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
