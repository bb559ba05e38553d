"""The aisstream.io collector: subscribe, receive, land raw lines in rolling per-day files.

Landing keeps the exact received text, one message per line, so parsing and cleaning can be re-run
later with new rules. Files are keyed by each message's own `time_utc` day and written through
`storage.open_write` (temporary name, renamed when complete), so readers only ever see whole files.
Messages that cannot be parsed are counted and quarantined instead of stopping the stream.
Reconnects and back-off are the caller's business: every failure surfaces as `AisStreamError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .. import layout
from ..config import Config
from ..storage import LocalStorage
from .messages import MalformedMessage, parse_message, parse_time_utc

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG, the subscription (with the API key) included: cap its logger
_ws_log = logging.getLogger(f"{__name__}.websocket")
_ws_log.setLevel(logging.INFO)
QUARANTINE_DIR = "ais/quarantine"  # for malformed messages whose day cannot be read


class AisStreamError(RuntimeError):
    """aisstream refused or broke the stream; the message never contains the API key."""


class AisStreamDisconnected(AisStreamError):
    """The connection could not be opened or was lost; `code` is the close code if one arrived."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CollectorSettings:
    url: str
    api_key: str = field(repr=False)
    bounding_boxes: Sequence  # aisstream's latitude-first [[[lat, lon], [lat, lon]], ...]
    message_types: Sequence[str]
    flush_messages: int = 5000
    flush_seconds: float = 5.0
    connect_timeout_seconds: float = 10.0

    def subscription(self) -> dict[str, Any]:
        boxes = [[list(corner) for corner in box] for box in self.bounding_boxes]
        sub: dict[str, Any] = {"APIKey": self.api_key, "BoundingBoxes": boxes}
        if self.message_types:
            sub["FilterMessageTypes"] = list(self.message_types)
        return sub


def settings_from_config(cfg: Config, api_key: str) -> CollectorSettings:
    """Config areas ([min_lon, min_lat, max_lon, max_lat]) become latitude-first aisstream boxes."""
    boxes = [[[a.bbox[1], a.bbox[0]], [a.bbox[3], a.bbox[2]]] for a in cfg.areas]
    return CollectorSettings(
        url=cfg.ais.url,
        api_key=api_key,
        bounding_boxes=boxes,
        message_types=list(cfg.ais.message_types),
        flush_messages=cfg.ais.flush_messages,
        flush_seconds=cfg.ais.flush_seconds,
        connect_timeout_seconds=cfg.ais.connect_timeout_seconds,
    )


@dataclass
class CollectStats:
    received: int = 0
    landed: int = 0
    quarantined: int = 0
    by_type: Counter = field(default_factory=Counter)  # landed messages per MessageType
    malformed: Counter = field(default_factory=Counter)  # quarantined messages per reason
    files: list[str] = field(default_factory=list)  # landed + quarantine files, in landing order
    stop_reason: str = ""  # "stop_at", "max_seconds" or "server_close"

    @property
    def files_written(self) -> int:
        return len(self.files)


@dataclass
class _OpenFile:
    rel: str
    opened: float
    lines: list[bytes] = field(default_factory=list)


class _Lander:
    """Rolling landing files, one per (folder, kind), landed after N messages or S seconds.

    Lines are buffered in memory and written with one `write_bytes` (temp file, fsync, rename) when
    the file rolls: nothing is visible before it is complete, and a crash loses at most the current
    roll — the same as an open temporary file would — at the cost of one syscall per file, not per line."""

    def __init__(self, storage: LocalStorage, settings: CollectorSettings, stats: CollectStats):
        self.storage, self.settings, self.stats = storage, settings, stats
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self._seq = 0

    def write(self, folder: str, kind: str, epoch_ms: int, line: str, now: float) -> None:
        f = self._open.get((folder, kind)) or self._start(folder, kind, epoch_ms, now)
        f.lines.append(line.encode("utf-8"))
        if len(f.lines) >= self.settings.flush_messages:
            self._finish((folder, kind))

    def roll_due(self, now: float) -> None:
        for key, f in list(self._open.items()):
            if now - f.opened >= self.settings.flush_seconds:
                self._finish(key)

    def next_due(self) -> float | None:
        return min((f.opened + self.settings.flush_seconds for f in self._open.values()), default=None)

    def close_all(self) -> None:
        for key in list(self._open):
            self._finish(key)

    def _start(self, folder: str, kind: str, epoch_ms: int, now: float) -> _OpenFile:
        rel = f"{folder}/{kind}-{epoch_ms}-{self._seq:06d}.jsonl"
        taken = {f.rel for f in self._open.values()}
        while rel in taken or self.storage.exists(rel):  # never replace a file an earlier run landed
            self._seq += 1
            rel = f"{folder}/{kind}-{epoch_ms}-{self._seq:06d}.jsonl"
        self._seq += 1
        f = self._open[(folder, kind)] = _OpenFile(rel, now)
        return f

    def _finish(self, key: tuple[str, str]) -> None:
        f = self._open.pop(key)
        self.storage.write_bytes(f.rel, b"\n".join(f.lines) + b"\n")  # temp file, fsync, rename
        self.stats.files.append(f.rel)
        log.debug("landed %s (%d messages)", f.rel, len(f.lines))


class _Session:
    """Turns each received frame into a landed or quarantined line."""

    def __init__(self, lander: _Lander, stats: CollectStats, stop_at: datetime | None):
        self.lander, self.stats, self.stop_at = lander, stats, stop_at

    def accept(self, data: str | bytes, now: float) -> bool:
        """Land one message; True when it reaches `stop_at` (it is then not landed)."""
        self.stats.received += 1
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        try:
            env = json.loads(text)
        except ValueError as exc:
            self._quarantine(text, None, MalformedMessage("bad_json", str(exc)), now)
            return False
        if isinstance(env, dict) and "error" in env and "MessageType" not in env:
            raise AisStreamError(f"aisstream replied with an error: {env['error']}")
        try:
            rec = parse_message(env)
        except MalformedMessage as exc:
            self._quarantine(text, env, exc, now)
            return False
        if self.stop_at is not None and rec.time_utc >= self.stop_at:
            return True
        if "\n" in text or "\r" in text:  # only JSON whitespace can hold raw newlines: keep one line each
            text = text.replace("\r", " ").replace("\n", " ")
        ms = int(rec.time_utc.timestamp() * 1000)
        self.lander.write(layout.ais_landing_dir(rec.time_utc.date()), "aisstream", ms, text, now)
        self.stats.landed += 1
        self.stats.by_type[rec.msg_type] += 1
        return False

    def _quarantine(self, text: str, env: Any, exc: MalformedMessage, now: float) -> None:
        when = _message_time(env)
        folder = layout.ais_landing_dir(when.date()) if when else QUARANTINE_DIR
        ms = int((when.timestamp() if when else datetime.now().timestamp()) * 1000)
        line = json.dumps({"reason": exc.reason, "detail": exc.detail, "raw": text})
        self.lander.write(folder, "quarantine", ms, line, now)
        self.stats.quarantined += 1
        self.stats.malformed[exc.reason] += 1


def _message_time(env: Any) -> datetime | None:
    try:
        return parse_time_utc(env["MetaData"]["time_utc"])
    except (MalformedMessage, TypeError, KeyError):
        return None


async def collect(
    settings: CollectorSettings,
    storage: LocalStorage,
    *,
    stop_at: datetime | None = None,
    max_seconds: float | None = None,
    stop_on_server_close: bool = True,
) -> CollectStats:
    """Collect until `stop_at` (message time), `max_seconds` (wall clock) or a normal server close."""
    if stop_at is not None and stop_at.tzinfo is None:
        raise ValueError(f"stop_at must be timezone-aware (UTC), got {stop_at!r}")
    stats = CollectStats()
    lander = _Lander(storage, settings, stats)
    loop = asyncio.get_running_loop()
    deadline = None if max_seconds is None else loop.time() + max_seconds
    ws = await _connect(settings)
    try:
        await ws.send(json.dumps(settings.subscription()))
        session = _Session(lander, stats, stop_at)
        stats.stop_reason = await _pump(ws, session, deadline, stop_on_server_close)
    except ConnectionClosed as exc:  # closed while sending the subscription
        raise _disconnected(exc) from None
    finally:
        lander.close_all()  # whatever arrived is landed, also on errors and cancellation
        await ws.close()
    log.info("AIS collector stopped (%s): %d received, %d landed, %d quarantined, %d files",
             stats.stop_reason, stats.received, stats.landed, stats.quarantined, stats.files_written)
    return stats


def run_collector(settings: CollectorSettings, storage: LocalStorage, **kwargs: Any) -> CollectStats:
    """Synchronous wrapper around `collect` (same keyword arguments)."""
    return asyncio.run(collect(settings, storage, **kwargs))


async def _connect(settings: CollectorSettings) -> ClientConnection:
    try:
        # a deep receive queue absorbs disk hiccups; aisstream drops readers that fall behind
        return await connect(
            settings.url, open_timeout=settings.connect_timeout_seconds, max_queue=4096, logger=_ws_log
        )
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        raise AisStreamDisconnected(f"cannot connect to {settings.url}: {exc}") from None


async def _pump(ws: ClientConnection, session: _Session, deadline: float | None, stop_on_close: bool) -> str:
    loop = asyncio.get_running_loop()
    lander = session.lander
    while True:
        now = loop.time()
        if deadline is not None and now >= deadline:
            return "max_seconds"
        lander.roll_due(now)
        wake = min((w for w in (deadline, lander.next_due()) if w is not None), default=None)
        try:
            async with asyncio.timeout_at(wake):
                data = await ws.recv()
        except TimeoutError:
            continue
        except ConnectionClosed as exc:
            if stop_on_close and exc.rcvd is not None and exc.rcvd.code == 1000:
                return "server_close"
            raise _disconnected(exc) from None
        if session.accept(data, loop.time()):
            return "stop_at"


def _disconnected(exc: ConnectionClosed) -> AisStreamDisconnected:
    code = exc.rcvd.code if exc.rcvd is not None else None
    reason = exc.rcvd.reason if exc.rcvd is not None else "no close frame"
    return AisStreamDisconnected(f"aisstream connection closed (code {code}: {reason})", code)
