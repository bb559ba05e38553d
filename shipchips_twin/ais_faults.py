"""Faults the aisstream twin injects on request, so tests can drive the collector through them.

Positions count valid messages the twin has sent in total, over every connection, so a test knows
exactly what the collector should have landed and quarantined. Each fault fires once, except the
slow-reader check, which watches every client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

MALFORMED_KINDS = ("bad_json", "unknown_type", "missing_field", "bad_value")


@dataclass(frozen=True)
class Faults:
    # drop the socket without a close frame (the client sees 1006) once this many messages are sent
    drop_after: tuple[int, ...] = ()
    # answer the first K handshakes with HTTP 429, as aisstream does with too many connections
    reject_handshakes: int = 0
    retry_after: int | None = None  # seconds, in a Retry-After header of those 429s
    # on the first connection that gets this far, send {"error": error_reply} and close (1008)
    error_reply: str | None = None
    error_after: int = 0
    # a broken frame of this kind (MALFORMED_KINDS) just before the message at this position
    malformed: Mapping[int, str] = field(default_factory=dict)
    # a non-report first frame on every connection, as a subscription confirmation would be
    confirmation: bool = False
    # close (1008) a client once this many bytes wait unsent for it (it reads slower than we send)
    slow_reader_bytes: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.malformed.values()) - set(MALFORMED_KINDS)
        if unknown:
            raise ValueError(f"unknown malformed kinds {sorted(unknown)}; use {MALFORMED_KINDS}")

    @property
    def per_message(self) -> bool:
        """Whether the replay must check faults before every message (the fast path skips them)."""
        return bool(self.drop_after or self.error_reply or self.malformed or self.slow_reader_bytes)


CONFIRMATION = json.dumps({"MessageType": "SubscriptionConfirmation", "Status": "subscribed"})


def malformed_frame(kind: str, text: str) -> str:
    """A broken version of the envelope `text`: the collector must quarantine it under `kind`.
    All but bad_json keep a readable `time_utc`, so they are quarantined in that day's folder."""
    if kind == "bad_json":
        return text[: len(text) // 2]  # cut mid-message
    env = json.loads(text)
    msg_type = env["MessageType"]
    body = env["Message"][msg_type]
    if kind == "unknown_type":
        env["MessageType"] = "BaseStationReport"
        env["Message"] = {"BaseStationReport": body}
    elif kind == "missing_field":
        del env["MetaData"]["MMSI"]
    else:  # bad_value: a latitude no report can carry (91 is the not-available code)
        env["MessageType"] = "PositionReport"
        env["Message"] = {"PositionReport": {**body, "Latitude": 123.4, "Longitude": 4.0, "Sog": 1.0, "Cog": 2.0,
                                             "TrueHeading": 3, "NavigationalStatus": 0}}
    return json.dumps(env)
