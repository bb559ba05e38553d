"""The aisstream.io collector: subscribe, receive, land raw lines in rolling per-day files, reconnect.

Landing keeps the exact received text, one message per line, so parsing and cleaning can be re-run
later with new rules. Files are keyed by each message's own `time_utc` day (`landing.py`): written
off the event loop to a temporary name and renamed when complete, so readers only see whole files.
Malformed messages are counted by reason and quarantined; they never stop the stream.

Connections come from websockets' reconnecting `connect` iterator with our `Backoff` (`reconnect.py`):
drops (1006, 1011, a slow-reader 1008, a server's 1000 when running forever), timeouts, 5xx and 429
are retried; the two documented fatal replies (`FATAL_ERRORS`, matched exactly) and a refused
handshake raise `AisStreamFatal`. Any other `{"error": ...}` reply is quarantined (`error_reply`) and
counted, and the connection is left to the server, which closes it (then it is retried) or not.
Every frame received is exactly one of: landed, quarantined, a tolerated first frame (`control`),
or the fatal reply that ends the run.
No error, log line or file ever contains the API key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections import Counter, deque
from contextlib import aclosing
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI

from shipchips_core.ais.journal import recover_journals
from shipchips_core.ais.landing import Lander, remove_stale_temporaries
from shipchips_core.ais.messages import MalformedMessage, decode_frame, parse_message, parse_time_utc, show_value
from shipchips_core.ais.reconnect import Backoff, HandshakeRefused
from shipchips_core.ais.shipping import Shipper
from shipchips_core.config import AisConfig, Config, S3Config
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage, is_remote

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG, the subscription (with the API key) included: cap its logger
_ws_log = logging.getLogger(f"{__name__}.websocket")
_ws_log.setLevel(logging.INFO)
QUARANTINE_DIR = "ais/quarantine"  # for malformed messages whose day cannot be read
QUARANTINE_RAW_CHARS = 64 * 1024  # a quarantined frame's text is kept up to this (an envelope is ~1 KB)
FILES_KEPT = 1000  # CollectStats.files keeps the newest names only: a forever process stays bounded
# aisstream's documented fatal replies, matched exactly: any other error text is transient
FATAL_ERRORS = frozenset({"Api Key Is Not Valid", "Subscription Object Is Malformed"})
ERROR_TEXTS_KEPT = 100  # CollectStats.server_errors counts at most this many distinct texts (then "(other)")


class AisStreamError(RuntimeError):
    """aisstream refused or broke the stream; the message never contains the API key."""


class AisStreamFatal(AisStreamError):
    """Retrying cannot help (bad key, malformed subscription, refused handshake): fix the config."""


_AIS = AisConfig()  # the defaults
_S3 = S3Config()


@dataclass(frozen=True)
class CollectorSettings:
    url: str
    api_key: str = field(repr=False)
    bounding_boxes: Sequence  # aisstream's latitude-first [[[lat, lon], [lat, lon]], ...]
    message_types: Sequence[str]
    # the `ais` config keys of the same names (meanings and defaults live there)
    flush_messages: int = _AIS.flush_messages
    flush_seconds: float = _AIS.flush_seconds
    sync_seconds: float = _AIS.sync_seconds
    connect_timeout_seconds: float = _AIS.connect_timeout_seconds
    reconnect_base_seconds: float = _AIS.reconnect_base_seconds
    reconnect_max_seconds: float = _AIS.reconnect_max_seconds
    rate_limited_seconds: float = _AIS.rate_limited_seconds
    receive_queue: int = _AIS.receive_queue
    max_pending_lines: int = _AIS.max_pending_lines
    stats_interval_seconds: float = _AIS.stats_interval_seconds
    # with an s3:// dataset root: the local folder journals are kept in until landed and put (`shipping`)
    spool_dir: str = _S3.collector_spool

    def subscription(self) -> dict[str, Any]:
        boxes = [[list(corner) for corner in box] for box in self.bounding_boxes]
        sub: dict[str, Any] = {"APIKey": self.api_key, "BoundingBoxes": boxes}
        if self.message_types:
            sub["FilterMessageTypes"] = list(self.message_types)
        return sub


# the tuning fields taken from the `ais` config as they are (url and message types are handled apart)
_FROM_CONFIG = tuple(f.name for f in fields(CollectorSettings)
                     if f.name in {g.name for g in fields(AisConfig)} - {"url", "message_types"})


def settings_from_config(cfg: Config, api_key: str, **overrides: Any) -> CollectorSettings:
    """Config areas ([min_lon, min_lat, max_lon, max_lat]) become latitude-first aisstream boxes;
    every `ais` key CollectorSettings shares is taken from the config unless overridden."""
    boxes = [[[a.bbox[1], a.bbox[0]], [a.bbox[3], a.bbox[2]]] for a in cfg.areas]
    shared = {name: getattr(cfg.ais, name) for name in _FROM_CONFIG}
    return CollectorSettings(
        url=cfg.ais.url,
        api_key=api_key,
        bounding_boxes=boxes,
        message_types=list(cfg.ais.message_types),
        **{"spool_dir": cfg.s3.collector_spool, **shared, **overrides},
    )


@dataclass
class CollectStats:
    received: int = 0  # frames read from the socket
    landed: int = 0  # messages put in a landing file (durable once committed)
    committed: int = 0  # lines (landed and quarantined) fsynced in journals or landing files
    flushed: int = 0  # lines (landed and quarantined) in renamed, fsynced files
    quarantined: int = 0
    control: int = 0  # tolerated non-AIS first frames (a subscription confirmation)
    by_type: Counter = field(default_factory=Counter)  # landed messages per MessageType
    malformed: Counter = field(default_factory=Counter)  # quarantined messages per reason
    files: deque = field(default_factory=lambda: deque(maxlen=FILES_KEPT))  # newest files, landing order
    files_written: int = 0
    connections: int = 0  # successful handshakes
    reconnects: int = 0  # successful handshakes after the first
    connect_failures: int = 0  # failed handshakes, retried or not
    rate_limited: int = 0  # of which HTTP 429
    disconnects: Counter = field(default_factory=Counter)  # close code (1006 = no close frame) → count
    server_errors: Counter = field(default_factory=Counter)  # transient {"error": ...} texts (quarantined)
    stale_temporaries_removed: int = 0
    journals_recovered: int = 0  # a killed run's journals landed at start-up
    lines_recovered: int = 0  # lines in them
    torn_bytes_dropped: int = 0  # their incomplete last lines (a power cut mid-write)
    stop_reason: str = ""  # "stop_at", "max_seconds", "server_close", "SIGTERM", "SIGINT"

    def summary(self) -> dict[str, Any]:
        """The counters as plain JSON-ready values (without the file list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "files"}
        return {k: {str(c): n for c, n in v.items()} if isinstance(v, Counter) else v for k, v in out.items()}


class _Session:
    """Turns each received frame into a landed or quarantined line."""

    def __init__(self, lander: Lander, stats: CollectStats, stop_at: datetime | None, api_key: str):
        self.lander, self.stats, self.stop_at, self.api_key = lander, stats, stop_at, api_key
        self.first = True  # the next frame is the first of its connection
        self.delivered = False  # this connection has delivered data

    def opened(self) -> None:
        self.stats.connections += 1
        self.stats.reconnects = self.stats.connections - 1
        self.first, self.delivered = True, False

    def accept(self, data: str | bytes) -> bool:
        """Land one frame; True when it reaches `stop_at` (it is then not landed)."""
        self.stats.received += 1
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        first, self.first = self.first, False
        try:
            env = decode_frame(text)  # any JSON value, however deep; a frame too deep is bad_json
        except MalformedMessage as exc:
            self._quarantine(text, None, exc)
            return False
        if isinstance(env, dict) and "MetaData" not in env and "Message" not in env:
            if "error" in env:
                self._server_error(text, env["error"])
                return False
            if first:  # e.g. a SubscriptionConfirmation: nothing to land
                self.stats.control += 1
                log.info("aisstream's first frame is not a report (%s): ignored", show_value(env.get("MessageType")))
                return False
        try:
            rec = parse_message(env)
        except MalformedMessage as exc:
            self._quarantine(text, env, exc)
            return False
        if self.stop_at is not None and rec.time_utc >= self.stop_at:
            return True
        if "\n" in text or "\r" in text:  # only JSON whitespace can hold raw newlines: keep one line each
            text = text.replace("\r", " ").replace("\n", " ")
        ms = int(rec.time_utc.timestamp() * 1000)
        self.lander.write(_day_folder(rec.time_utc.date()), "aisstream", ms, text.encode("utf-8"))
        self.stats.landed += 1
        self.stats.by_type[rec.msg_type] += 1
        self.delivered = True
        return False

    def _server_error(self, frame: str, error: Any) -> None:
        """A documented fatal reply ends the run; any other is quarantined and counted, and the
        connection is the server's to close."""
        if isinstance(error, str) and error in FATAL_ERRORS:
            raise AisStreamFatal(f"aisstream replied with an error: {error}")
        shown = redact(error if isinstance(error, str) else show_value(error), self.api_key)[:200]
        errors = self.stats.server_errors
        errors[shown if shown in errors or len(errors) < ERROR_TEXTS_KEPT else "(other)"] += 1
        log.warning("aisstream replied with an error (not a fatal one): %s", shown)
        self._quarantine(frame, None, MalformedMessage("error_reply", f"aisstream replied with an error: {shown}"))

    def _quarantine(self, text: str, env: Any, exc: MalformedMessage) -> None:
        when = _message_time(env)
        folder = _day_folder(when.date()) if when else QUARANTINE_DIR
        ms = int((when.timestamp() if when else time.time()) * 1000)
        record = {"reason": exc.reason, "detail": redact(exc.detail, self.api_key),
                  "raw": redact(text, self.api_key)[:QUARANTINE_RAW_CHARS]}
        if len(text) > QUARANTINE_RAW_CHARS:  # a huge frame keeps its start and its size
            record["raw_chars"] = len(text)
        line = json.dumps(record)
        self.lander.write(folder, "quarantine", ms, line.encode("utf-8"))
        self.stats.quarantined += 1
        self.stats.malformed[exc.reason] += 1
        self.delivered = True


@lru_cache(maxsize=64)
def _day_folder(day: date) -> str:
    return paths.ais_landing_dir(day)


def _message_time(env: Any) -> datetime | None:
    try:
        return parse_time_utc(env["MetaData"]["time_utc"])
    except (MalformedMessage, TypeError, KeyError):
        return None


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


async def collect(
    settings: CollectorSettings,
    storage: Any,
    *,
    stop_at: datetime | None = None,
    max_seconds: float | None = None,
    stop_on_server_close: bool = True,
    handle_signals: bool = False,
    stats: CollectStats | None = None,
) -> CollectStats:
    """Collect until `stop_at` (message time), `max_seconds` (wall clock), SIGTERM/SIGINT (with
    `handle_signals`) or, with `stop_on_server_close`, a normal (1000) server close; every other
    disconnect is followed by a reconnect. Whatever arrived is landed before returning or raising.
    Pass `stats` to watch the counters while it runs."""
    if stop_at is not None and stop_at.tzinfo is None:
        raise ValueError(f"stop_at must be timezone-aware (UTC), got {stop_at!r}")
    stats = CollectStats() if stats is None else stats
    local, shipper = storage, None
    if is_remote(storage):  # journals stay local; landed files are put in the bucket (`shipping`)
        local = LocalStorage(settings.spool_dir)
        shipper = Shipper(local, storage)
    stats.stale_temporaries_removed = remove_stale_temporaries(local)
    stats.journals_recovered, stats.lines_recovered, stats.torn_bytes_dropped = recover_journals(local.path(""))
    if shipper is not None:
        shipper.ship_all()
    lander = Lander(local, stats, flush_messages=settings.flush_messages, flush_seconds=settings.flush_seconds,
                    max_pending=settings.max_pending_lines, sync_seconds=settings.sync_seconds, shipper=shipper)
    session = _Session(lander, stats, stop_at, settings.api_key)
    stop = _Stop(max_seconds, handle_signals)
    tasks = [asyncio.create_task(c) for c in (
        _connections(settings, session, stop_on_server_close), stop.wait(), lander.flush_periodically(),
        _log_periodically(stats, settings.stats_interval_seconds))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stats.stop_reason = next(iter(done)).result()  # a helper only ends by raising
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # closes the socket
        stop.remove()
        await lander.close()  # whatever arrived is landed, also on errors and cancellation
    log.info("AIS collector stopped (%s): %s", stats.stop_reason, _brief(stats))
    return stats


def run_collector(settings: CollectorSettings, storage: Any, **kwargs: Any) -> CollectStats:
    """Synchronous wrapper around `collect` (same keyword arguments)."""
    return asyncio.run(collect(settings, storage, **kwargs))


class _Stop:
    """The wall-clock limit and the signals, as one awaitable stop reason."""

    def __init__(self, max_seconds: float | None, handle_signals: bool):
        self.loop = asyncio.get_running_loop()
        self.event, self.reason = asyncio.Event(), ""
        self.signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for sig in self.signals:
            self.loop.add_signal_handler(sig, self.set, sig.name)
        self.timer = self.loop.call_later(max_seconds, self.set, "max_seconds") if max_seconds is not None else None

    def set(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    async def wait(self) -> str:
        await self.event.wait()
        return self.reason

    def remove(self) -> None:
        for sig in self.signals:
            self.loop.remove_signal_handler(sig)
        if self.timer is not None:
            self.timer.cancel()


async def _connections(settings: CollectorSettings, session: _Session, stop_on_server_close: bool) -> str:
    stats = session.stats
    backoff = Backoff(settings.reconnect_base_seconds, settings.reconnect_max_seconds,
                      settings.rate_limited_seconds, on_failure=lambda exc, limited: _count_failure(stats, exc, limited))
    try:
        connections = connect(
            settings.url, open_timeout=settings.connect_timeout_seconds, max_queue=settings.receive_queue,
            close_timeout=2.0, logger=_ws_log, process_exception=backoff.classify, reconnect_delays=backoff.delays,
        )
    except InvalidURI as exc:
        raise AisStreamFatal(f"cannot use the aisstream URL: {exc}") from None
    try:
        async with aclosing(aiter(connections)) as sockets:
            async for ws in sockets:
                session.opened()
                try:
                    if await _pump(ws, session, settings):
                        return "stop_at"
                except ConnectionClosed as exc:
                    # the server's close code; else ours (1009: a frame over websockets' 1 MiB limit,
                    # 1007: a text frame that is not UTF-8); else 1006, no close frame at all
                    close = exc.rcvd or exc.sent
                    code, why = (close.code, close.reason) if close is not None else (1006, "no close frame")
                    if code == 1000 and stop_on_server_close:
                        return "server_close"
                    stats.disconnects[code] += 1
                delay = backoff.after_drop(session.delivered)
                log.warning("aisstream connection ended (code %s: %s); reconnecting in %.1f s", code,
                            redact(why, settings.api_key), delay)
                await asyncio.sleep(delay)
    except HandshakeRefused as exc:
        raise AisStreamFatal(redact(str(exc), settings.api_key)) from None
    raise AssertionError("unreachable: the connect iterator never ends")


async def _pump(ws: ClientConnection, session: _Session, settings: CollectorSettings) -> bool:
    """Subscribe (aisstream closes sockets that stay silent for 3 s), then land frames until closed."""
    await ws.send(json.dumps(settings.subscription()))
    lander = session.lander
    while True:
        if session.accept(await ws.recv()):
            return True
        if lander.backlogged:
            await lander.wait_backlog()


def _count_failure(stats: CollectStats, exc: BaseException, rate_limited: bool) -> None:
    stats.connect_failures += 1
    stats.rate_limited += rate_limited


async def _log_periodically(stats: CollectStats, every: float) -> None:
    last, t_last = stats.received, time.monotonic()
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        log.info("AIS collector: %.0f msg/s, %s", (stats.received - last) / (now - t_last), _brief(stats))
        last, t_last = stats.received, now


def _brief(s: CollectStats) -> str:
    return (f"{s.received} received, {s.landed} landed, {s.quarantined} quarantined, {s.flushed} flushed in "
            f"{s.files_written} files, {s.reconnects} reconnects, {s.connect_failures} failed connects "
            f"({s.rate_limited} HTTP 429), disconnects {dict(s.disconnects)}, malformed {dict(s.malformed)}")
