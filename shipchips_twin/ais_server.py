"""An offline twin of `wss://stream.aisstream.io/v0/stream`, replaying the synthetic World.

It speaks aisstream's protocol (SPEC-NOTES §2): the client sends a subscription within 3 s, gets
`{"error": ...}` and a close for a bad key or a malformed subscription, then receives the envelopes
of `ais_feed.iter_messages` that match its boxes / types / MMSIs. A newer subscription on the same
socket replaces the filter. The server runs on its own event loop in a background thread so a
synchronous test or demo can point a real client at `twin.url`.

Like a live feed, the replay clock is shared by all connections: a new connection resumes after the
last message sent on the previous one (deterministically: nothing is skipped while nobody listens).
`Faults` (`ais_faults.py`) injects what the real service does to a client: 1006 drops, HTTP 429 at
the handshake, error replies, malformed frames, a confirmation first frame, slow-reader closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from shipchips_twin.ais_faults import CONFIRMATION, Faults, malformed_frame
from shipchips_twin.ais_feed import iter_messages
from shipchips_twin.world import World

PATH = "/v0/stream"
SUBSCRIBE_TIMEOUT_S = 3.0
MAX_MMSI_FILTERS = 50
# frame-level DEBUG logs would echo clients' API keys
_ws_log = logging.getLogger(f"{__name__}.websocket")
_ws_log.setLevel(logging.INFO)
ERR_KEY = "Api Key Is Not Valid"
ERR_MALFORMED = "Subscription Object Is Malformed"
# the message type names aisstream accepts in FilterMessageTypes
KNOWN_TYPES = frozenset(
    """PositionReport UnknownMessage AddressedSafetyMessage AddressedBinaryMessage AidsToNavigationReport
    AssignedModeCommand BaseStationReport BinaryAcknowledge BinaryBroadcastMessage ChannelManagement
    CoordinatedUTCInquiry DataLinkManagementMessage ExtendedClassBPositionReport GroupAssignmentCommand
    GnssBroadcastBinaryMessage Interrogation LongRangeAisBroadcastMessage MultiSlotBinaryMessage
    SafetyBroadcastMessage ShipStaticData SingleSlotBinaryMessage StandardClassBPositionReport
    StandardSearchAndRescueAircraftReport StaticDataReport""".split()
)


class SubscriptionRejected(Exception):
    """The subscription cannot be served; the message is the error text aisstream sends."""


@dataclass(frozen=True)
class Subscription:
    boxes: tuple[tuple[float, float, float, float], ...]  # (lat_min, lat_max, lon_min, lon_max)
    types: frozenset[str] | None
    mmsis: frozenset[str] | None

    def matches(self, lat: float, lon: float, msg_type: str, mmsi: str) -> bool:
        if self.types is not None and msg_type not in self.types:
            return False
        if self.mmsis is not None and mmsi not in self.mmsis:
            return False
        return any(a <= lat <= b and c <= lon <= d for a, b, c, d in self.boxes)


def parse_subscription(raw: str | bytes, api_key: str) -> Subscription:
    """Validate a subscription the way aisstream does, or raise SubscriptionRejected(error text)."""
    try:
        sub = json.loads(raw)
    except ValueError:
        raise SubscriptionRejected(ERR_MALFORMED) from None
    if not isinstance(sub, dict):
        raise SubscriptionRejected(ERR_MALFORMED)
    if sub.get("APIKey") != api_key:
        raise SubscriptionRejected(ERR_KEY)
    boxes = sub.get("BoundingBoxes")
    if not isinstance(boxes, list) or not boxes:
        raise SubscriptionRejected(ERR_MALFORMED)
    types = sub.get("FilterMessageTypes")
    if types is not None and not (isinstance(types, list) and all(t in KNOWN_TYPES for t in types)):
        raise SubscriptionRejected(ERR_MALFORMED)
    mmsis = sub.get("FiltersShipMMSI")
    if mmsis is not None and not _valid_mmsis(mmsis):
        raise SubscriptionRejected(ERR_MALFORMED)
    return Subscription(
        boxes=tuple(_box(b) for b in boxes),
        types=frozenset(types) if types else None,
        mmsis=frozenset(mmsis) if mmsis else None,
    )


def _box(box) -> tuple[float, float, float, float]:
    """`[[lat1, lon1], [lat2, lon2]]`, either corner order → (lat_min, lat_max, lon_min, lon_max)."""
    try:
        (lat1, lon1), (lat2, lon2) = box
    except (TypeError, ValueError):
        raise SubscriptionRejected(ERR_MALFORMED) from None
    nums = (lat1, lon1, lat2, lon2)
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in nums):
        raise SubscriptionRejected(ERR_MALFORMED)
    if not (-90 <= lat1 <= 90 and -90 <= lat2 <= 90 and -180 <= lon1 <= 180 and -180 <= lon2 <= 180):
        raise SubscriptionRejected(ERR_MALFORMED)
    return min(lat1, lat2), max(lat1, lat2), min(lon1, lon2), max(lon1, lon2)


def _valid_mmsis(mmsis) -> bool:
    return (
        isinstance(mmsis, list)
        and len(mmsis) <= MAX_MMSI_FILTERS
        and all(isinstance(m, str) and len(m) == 9 and m.isdigit() for m in mmsis)
    )


class AisStreamTwin:
    """The aisstream twin serving `world` over [start, end); use as a context manager."""

    def __init__(
        self,
        world: World,
        start: datetime,
        end: datetime,
        *,
        api_key: str = "twin-key",
        speedup: float | None = None,
        close_when_done: bool = True,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.world, self.start_time, self.end_time = world, start, end
        self.api_key = api_key
        self.speedup = speedup
        self.close_when_done = close_when_done
        self.faults = faults or Faults()
        self.host, self.port = host, port
        self.subscribe_timeout_s = SUBSCRIBE_TIMEOUT_S
        self._messages: list[tuple[float, float, float, str, str, str]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.rewind()

    def rewind(self) -> None:
        """Back to the start of the replay, with every counter at zero and every fault re-armed."""
        self.messages_sent = 0  # valid messages, over all connections
        self.malformed_sent = 0
        self.connections = 0  # subscriptions accepted or rejected (handshake completed)
        self.handshakes = 0
        self.rejected_handshakes = 0
        self.slow_reader_drops = 0
        self.sent_per_connection: list[int] = []  # per replaying connection, in order
        self._cursor = 0  # index of the next message of the shared replay clock
        self._drops = set(self.faults.drop_after)
        self._malformed = dict(self.faults.malformed)
        self._error_pending = self.faults.error_reply is not None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    @property
    def total_messages(self) -> int:
        """Messages in the replay window, before any subscription filter."""
        return len(self._messages)

    @property
    def replay_done(self) -> bool:
        return self._cursor >= len(self._messages)

    def __enter__(self) -> AisStreamTwin:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # (time, lat, lon, type, mmsi, JSON text) of every message, serialised once for all clients
        self._messages = [
            (t, env["MetaData"]["latitude"], env["MetaData"]["longitude"], env["MessageType"],
             env["MetaData"]["MMSI_String"], json.dumps(env))
            for t, env in iter_messages(self.world, self.start_time, self.end_time)
        ]
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), name="ais-twin", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error is not None or not self._ready.is_set():
            self.stop()
            raise RuntimeError(f"AIS twin failed to start: {self._error!r}")

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._thread = None

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        limit = self.faults.slow_reader_bytes
        # with a slow-reader limit, sends must not wait for the client before the limit is seen
        extra = {"write_limit": 4 * limit, "close_timeout": 1.0} if limit else {}
        try:
            async with serve(self._handle, self.host, self.port, process_request=self._check_request,
                             logger=_ws_log, **extra) as server:
                self.port = server.sockets[0].getsockname()[1]
                self._ready.set()
                await self._stopping.wait()
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    def _check_request(self, connection: ServerConnection, request):
        if request.path.split("?")[0] != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        self.handshakes += 1
        if self.handshakes <= self.faults.reject_handshakes:
            self.rejected_handshakes += 1
            response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
            if self.faults.retry_after is not None:
                response.headers["Retry-After"] = str(self.faults.retry_after)
            return response
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.faults.slow_reader_bytes:  # a small kernel buffer, so a lagging client shows in ours
            ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        try:
            raw = await asyncio.wait_for(ws.recv(), self.subscribe_timeout_s)
        except TimeoutError:
            await ws.close(1008, "no subscription received within 3 s")
            return
        except ConnectionClosed:
            return
        current = [await self._subscribe(ws, raw)]
        if current[0] is None:
            return
        replay = asyncio.create_task(self._replay(ws, current))
        try:
            async for raw in ws:  # a newer subscription replaces the filter
                sub = await self._subscribe(ws, raw)
                if sub is None:
                    break
                current[0] = sub
        except ConnectionClosed:  # dropped by a fault, or by the client
            pass
        finally:
            replay.cancel()
            await asyncio.gather(replay, return_exceptions=True)

    async def _subscribe(self, ws: ServerConnection, raw: str | bytes) -> Subscription | None:
        try:
            return parse_subscription(raw, self.api_key)
        except SubscriptionRejected as exc:
            await ws.send(json.dumps({"error": str(exc)}))
            await ws.close(1008, str(exc))
            return None

    async def _replay(self, ws: ServerConnection, current: list[Subscription]) -> None:
        """Send the matching messages from the shared clock's cursor on, paced by `speedup`."""
        conn = len(self.sent_per_connection)
        self.sent_per_connection.append(0)
        loop = asyncio.get_running_loop()
        first, faulty = self._cursor, self.faults.per_message
        wall0 = loop.time()
        t0 = self._messages[first][0] if first < len(self._messages) else 0.0
        try:
            if self.faults.confirmation:
                await ws.send(CONFIRMATION)
            for i in range(first, len(self._messages)):
                t, lat, lon, msg_type, mmsi, text = self._messages[i]
                if self.speedup:
                    delay = (t - t0) / self.speedup - (loop.time() - wall0)
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif (i - first) % 500 == 0:
                    await asyncio.sleep(0)  # let subscription updates and closes be handled
                if not current[0].matches(lat, lon, msg_type, mmsi):
                    continue
                if faulty and await self._fault_before(ws, text):
                    return
                await ws.send(text)
                self.messages_sent += 1
                self.sent_per_connection[conn] += 1
                self._cursor = i + 1
                if faulty and self.messages_sent in self._drops:
                    self._drops.discard(self.messages_sent)
                    ws.transport.close()  # FIN after the buffered frames, no close frame: 1006
                    return
            self._cursor = len(self._messages)
            if self.close_when_done:
                await ws.close(1000, "replay complete")
        except ConnectionClosed:
            pass

    async def _fault_before(self, ws: ServerConnection, text: str) -> bool:
        """Inject what is due before the next message; True when the connection was closed."""
        limit = self.faults.slow_reader_bytes
        if limit and ws.transport.get_write_buffer_size() > limit:
            self.slow_reader_drops += 1
            await ws.close(1008, "slow reader: too many messages queued")
            return True
        if self._error_pending and self.messages_sent >= self.faults.error_after:
            self._error_pending = False
            await ws.send(json.dumps({"error": self.faults.error_reply}))
            await ws.close(1008, self.faults.error_reply)
            return True
        kind = self._malformed.pop(self.messages_sent, None)
        if kind is not None:
            await ws.send(malformed_frame(kind, text))
            self.malformed_sent += 1
        return False
