"""Parse one aisstream.io envelope into a flat record (SPEC-NOTES §2).

Values are kept as sent, including the ITU not-available codes (lat 91, SOG 102.3, heading 511 ...):
cleaning decides what to do with them, so a landed file can always be re-cleaned with new rules.
Only things that cannot be interpreted at all raise `MalformedMessage`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

POSITION_TYPES = {"PositionReport": "A", "StandardClassBPositionReport": "B"}
STATIC_TYPES = ("ShipStaticData", "StaticDataReport")
MALFORMED_REASONS = ("bad_json", "unknown_type", "missing_field", "bad_value")

# Go's time.String(): fractional digits vary (trailing zeros dropped), aisstream sends up to 9
_TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? \+0000 UTC$")


class MalformedMessage(ValueError):
    """An envelope that cannot be read; `reason` is one of MALFORMED_REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PositionRecord:
    mmsi: int
    time_utc: datetime
    lat: float
    lon: float
    sog_kn: float
    cog_deg: float
    heading_deg: float
    nav_status: int | None  # class B reports carry no navigational status
    msg_type: str
    ais_class: str


@dataclass(frozen=True, slots=True)
class StaticRecord:
    """Static vessel data; a field is None when this message did not carry it (e.g. one half of a
    class B StaticDataReport, or IMO 0 = not available)."""

    mmsi: int
    time_utc: datetime
    ship_name: str | None
    imo: int | None
    call_sign: str | None
    ship_type: int | None
    dim_a: int | None
    dim_b: int | None
    dim_c: int | None
    dim_d: int | None
    msg_type: str


def parse_time_utc(text: Any) -> datetime:
    """`2022-12-29 18:22:32.318353076 +0000 UTC` → aware datetime, trimmed to microseconds."""
    m = _TIME_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise MalformedMessage("bad_value", f"MetaData.time_utc {text!r} is not a '... +0000 UTC' time")
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=timezone.utc)
    except ValueError as exc:
        raise MalformedMessage("bad_value", f"MetaData.time_utc {text!r}: {exc}") from None


def parse_message(raw: str | bytes | dict) -> PositionRecord | StaticRecord:
    """One envelope (JSON text or already-decoded dict) → a record, or raise MalformedMessage."""
    env = _decode(raw)
    msg_type = _get(env, "MessageType", "")
    if not isinstance(msg_type, str) or (msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES):
        raise MalformedMessage("unknown_type", f"MessageType {msg_type!r} is not handled")
    meta = _get(env, "MetaData", "", dict)
    body = _get(_get(env, "Message", "", dict), msg_type, "Message.", dict)
    mmsi = _int(meta, "MMSI", "MetaData.")
    when = parse_time_utc(_get(meta, "time_utc", "MetaData."))
    if msg_type in POSITION_TYPES:
        return _position(body, msg_type, mmsi, when)
    if msg_type == "ShipStaticData":
        return _static_a(body, mmsi, when)
    return _static_b(body, mmsi, when)


def _decode(raw: str | bytes | dict) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        env = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage("bad_json", f"not JSON: {exc}") from None
    if not isinstance(env, dict):
        raise MalformedMessage("bad_json", f"envelope is a {type(env).__name__}, not an object")
    return env


def _position(body: dict, msg_type: str, mmsi: int, when: datetime) -> PositionRecord:
    p = f"Message.{msg_type}."
    lat, lon = _num(body, "Latitude", p), _num(body, "Longitude", p)
    # 91 / 181 are the not-available codes; anything beyond them cannot be a position at all
    if abs(lat) > 91 or abs(lon) > 181:
        raise MalformedMessage("bad_value", f"{p}Latitude/Longitude {lat}, {lon} out of range")
    ais_class = POSITION_TYPES[msg_type]
    return PositionRecord(
        mmsi=mmsi,
        time_utc=when,
        lat=lat,
        lon=lon,
        sog_kn=_num(body, "Sog", p),
        cog_deg=_num(body, "Cog", p),
        heading_deg=_num(body, "TrueHeading", p),
        nav_status=_int(body, "NavigationalStatus", p) if ais_class == "A" else None,
        msg_type=msg_type,
        ais_class=ais_class,
    )


def _static_a(body: dict, mmsi: int, when: datetime) -> StaticRecord:
    p = "Message.ShipStaticData."
    dims = _dims(body, p)
    return StaticRecord(
        mmsi=mmsi,
        time_utc=when,
        ship_name=_text(body, "Name", p),
        imo=_int(body, "ImoNumber", p) or None,  # 0 = not available
        call_sign=_text(body, "CallSign", p),
        ship_type=_int(body, "Type", p) or None,
        **dims,
        msg_type="ShipStaticData",
    )


def _static_b(body: dict, mmsi: int, when: datetime) -> StaticRecord:
    """Class B static data comes in two halves (A: name; B: type, call sign, dimensions); aisstream
    sends both objects and marks the half actually carried with Valid=true."""
    p = "Message.StaticDataReport."
    rep_a = _get(body, "ReportA", p, dict)
    rep_b = _get(body, "ReportB", p, dict)
    has_a, has_b = rep_a.get("Valid") is True, rep_b.get("Valid") is True
    if not (has_a or has_b):
        raise MalformedMessage("bad_value", f"{p}ReportA and ReportB are both marked not valid")
    dims = _dims(rep_b, p + "ReportB.") if has_b else dict.fromkeys(("dim_a", "dim_b", "dim_c", "dim_d"))
    return StaticRecord(
        mmsi=mmsi,
        time_utc=when,
        ship_name=_text(rep_a, "Name", p + "ReportA.") if has_a else None,
        imo=None,
        call_sign=_text(rep_b, "CallSign", p + "ReportB.") if has_b else None,
        ship_type=(_int(rep_b, "ShipType", p + "ReportB.") or None) if has_b else None,
        **dims,
        msg_type="StaticDataReport",
    )


def _dims(obj: dict, prefix: str) -> dict[str, int]:
    dim = _get(obj, "Dimension", prefix, dict)
    return {f"dim_{k.lower()}": _int(dim, k, prefix + "Dimension.") for k in "ABCD"}


def _get(obj: dict, key: str, prefix: str, kind: type | None = None) -> Any:
    if key not in obj:
        raise MalformedMessage("missing_field", f"{prefix}{key} is missing")
    value = obj[key]
    if kind is not None and not isinstance(value, kind):
        raise MalformedMessage("bad_value", f"{prefix}{key} must be a {kind.__name__}, got {value!r}")
    return value


def _num(obj: dict, key: str, prefix: str) -> float:
    value = _get(obj, key, prefix)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise MalformedMessage("bad_value", f"{prefix}{key} must be a number, got {value!r}")
    return float(value)


def _int(obj: dict, key: str, prefix: str) -> int:
    value = _get(obj, key, prefix)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedMessage("bad_value", f"{prefix}{key} must be an integer, got {value!r}")
    return value


def _text(obj: dict, key: str, prefix: str) -> str | None:
    """AIS 6-bit text is padded with spaces or '@'; empty means not available."""
    value = _get(obj, key, prefix, str)
    return value.strip(" @") or None
