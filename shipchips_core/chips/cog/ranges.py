"""Byte ranges of a local file or an http(s) object: what a COG reader needs and nothing more.

`open_ranges(href)` returns a `Ranges` (`size`, thread-safe `fetch(start, stop)`); `RangeFile` makes
it a read-only binary file (buffered) for parsers such as tifffile. Over HTTP every read is a
`Range: bytes=a-b` GET through a urllib3 pool that retries connection errors, 429 and 5xx with
backoff. Errors name the object without its query string (signed URLs carry their token there).
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

import urllib3

HEAD_BYTES = 16 * 1024  # the first request: a COG's header and first IFDs (GDAL reads the same)
RETRY = urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=True)
TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)


class RangeError(OSError):
    pass


class RangesNotSupported(RangeError):
    """The server answers range requests with the whole object: leave the file to GDAL."""


def public_name(href: str) -> str:
    """`href` without query string or fragment: safe to log."""
    parts = urlsplit(str(href))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts.scheme else str(href)


def is_local(href: str) -> bool:
    """A path or file:// URL; GDAL's virtual paths (/vsis3/..., /vsicurl/...) are not files."""
    return urlsplit(str(href)).scheme in ("", "file") and not str(href).startswith("/vsi")


def supports(href: str) -> bool:
    """Whether `open_ranges` can read `href` (a local path or an http(s) URL)."""
    return is_local(href) or urlsplit(str(href)).scheme in ("http", "https")


def open_ranges(href: str, pool: urllib3.PoolManager | None = None) -> "Ranges":
    if is_local(href):
        path = urlsplit(href).path if str(href).startswith("file:") else href
        return LocalRanges(Path(path))
    if urlsplit(href).scheme in ("http", "https"):
        return HttpRanges(href, _via_proxy(href) or pool or http_pool())
    raise ValueError(f"no byte-range reader for {public_name(href)} (local paths and http(s) only)")


def http_pool(connections: int = 8, retries: urllib3.Retry = RETRY) -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=16, maxsize=connections, retries=retries, timeout=TIMEOUT)


def _via_proxy(url: str) -> urllib3.ProxyManager | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY, ...) names for `url`, as curl and GDAL honour it."""
    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    return None if not proxy or proxy_bypass(parts.hostname or "") else _proxy_pool(proxy)


@lru_cache(maxsize=4)
def _proxy_pool(proxy: str) -> urllib3.ProxyManager:
    return urllib3.ProxyManager(proxy, num_pools=16, maxsize=8, retries=RETRY, timeout=TIMEOUT)  # as http_pool()


class Ranges:
    """`size` in bytes, `head` (the first bytes, read once) and `fetch(start, stop)`."""

    name: str
    size: int
    head: bytes

    def fetch(self, start: int, stop: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check(self, data: bytes, start: int, stop: int) -> bytes:
        if len(data) != stop - start:
            raise RangeError(f"{self.name}: asked for bytes {start}-{stop - 1}, got {len(data)} bytes")
        return data


class LocalRanges(Ranges):
    def __init__(self, path: Path):
        self.name = str(path)
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size
        self.head = self.fetch(0, min(HEAD_BYTES, self.size))

    def fetch(self, start: int, stop: int) -> bytes:
        return self._check(os.pread(self._fd, stop - start, start), start, stop)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class HttpRanges(Ranges):
    def __init__(self, url: str, pool: urllib3.PoolManager):
        self.url, self.name, self._pool = url, public_name(url), pool
        headers, self.head = self._get(0, HEAD_BYTES)
        total = headers.get("Content-Range", "").rpartition("/")[2]
        if not total.isdigit():
            raise RangeError(f"{self.name}: range request answered without a usable Content-Range")
        self.size = int(total)

    def fetch(self, start: int, stop: int) -> bytes:
        if stop <= len(self.head):
            return self.head[start:stop]
        return self._check(self._get(start, stop)[1], start, stop)

    def _get(self, start: int, stop: int) -> tuple[dict, bytes]:
        """Headers and body of a 206 answer; anything else is an error (its body is not read)."""
        try:
            response = self._pool.request("GET", self.url, headers={"Range": f"bytes={start}-{stop - 1}"},
                                          preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise RangeError(f"{self.name}: bytes {start}-{stop - 1}: {type(exc).__name__}") from None
        if response.status != 206:
            response.release_conn()
            if response.status == 200:
                raise RangesNotSupported(f"{self.name}: the server ignores range requests")
            raise RangeError(f"{self.name}: bytes {start}-{stop - 1}: HTTP {response.status}")
        try:
            return response.headers, response.data
        except urllib3.exceptions.HTTPError as exc:
            raise RangeError(f"{self.name}: bytes {start}-{stop - 1}: {type(exc).__name__}") from None
        finally:
            response.release_conn()


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over `Ranges`; wrap in `io.BufferedReader` to batch small reads."""

    def __init__(self, ranges: Ranges):
        self.ranges, self.pos = ranges, 0
        self.name = ranges.name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.ranges.size}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def readinto(self, buffer) -> int:
        stop = min(self.pos + len(buffer), self.ranges.size)
        if stop <= self.pos:
            return 0
        data = self.ranges.fetch(self.pos, stop)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)
