"""Parse one aisstream.io envelope into a flat record (SPEC-NOTES §2).

Values are kept as sent, including the ITU not-available codes (lat 91, SOG 102.3, heading 511 ...):
cleaning decides what to do with them, so a landed file can always be re-cleaned with new rules.
Only things that cannot be interpreted at all raise `MalformedMessage`: text that is not JSON (or
nests too deeply to decode), a missing field, a wrong type, and a value no AIS message can encode
(`FIELD_RANGES`: the field's bit width in ITU-R M.1371, e.g. NavigationalStatus is 4 bits, so 0..15;
an MMSI has 9 digits; non-finite numbers; a time outside `TIME_RANGE`; text that is not Unicode,
such as a lone surrogate). Such a value is poison for every later stage, so it never leaves here.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

POSITION_TYPES = {"PositionReport": "A", "StandardClassBPositionReport": "B"}
STATIC_TYPES = ("ShipStaticData", "StaticDataReport")
MALFORMED_REASONS = ("bad_json", "unknown_type", "missing_field", "bad_value")

# where a value outside its range cannot be nulled (it places the message: who, where): inclusive
FIELD_RANGES = {
    "MMSI": (0, 999_999_999),  # 9 digits (leading zeros for base stations, AtoN ...)
    "Latitude": (-91.0, 91.0),  # 91 = not available
    "Longitude": (-181.0, 181.0),  # 181 = not available
}
INT64 = (-(2**63), 2**63 - 1)  # every other integer must fit the tables' Int64 columns
# AIS exists since 2000; the upper bound keeps every time inside what the tables (ns timestamps) hold
TIME_RANGE = (datetime(1990, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))


def _bounded_repr() -> reprlib.Repr:
    r = reprlib.Repr()  # (keyword arguments only from Python 3.12)
    r.maxlevel, r.maxstring, r.maxother, r.maxlong, r.maxlist, r.maxdict = 2, 60, 60, 30, 4, 4
    return r


show_value = _show = _bounded_repr().repr  # a value in an error message: bounded in size and depth, never recursing

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
        raise MalformedMessage("bad_value", f"MetaData.time_utc {_show(text)} is not a '... +0000 UTC' time")
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=timezone.utc)
    except ValueError as exc:
        raise MalformedMessage("bad_value", f"MetaData.time_utc {text!r}: {exc}") from None
    if not TIME_RANGE[0] <= when < TIME_RANGE[1]:
        raise MalformedMessage("bad_value", f"MetaData.time_utc {text!r} is outside "
                               f"{TIME_RANGE[0]:%Y}..{TIME_RANGE[1].year - 1}")
    return when


def parse_message(raw: str | bytes | dict) -> PositionRecord | StaticRecord:
    """One envelope (JSON text or already-decoded dict) → a record, or raise MalformedMessage."""
    env = _decode(raw)
    msg_type = _get(env, "MessageType", "")
    if not isinstance(msg_type, str) or (msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES):
        raise MalformedMessage("unknown_type", f"MessageType {_show(msg_type)} is not handled")
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
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedMessage("bad_json", f"not JSON: {exc}") from None
    except RecursionError:  # e.g. [[[[... 100 000 deep: the decoder needs a stack frame per level
        raise MalformedMessage("bad_json", "not JSON this parser can read: nested too deeply") from None
    if not isinstance(env, dict):
        raise MalformedMessage("bad_json", f"envelope is a {type(env).__name__}, not an object")
    return env


def decode_frame(raw: str | bytes) -> Any:
    """Any JSON value of one frame, or MalformedMessage("bad_json") with what broke (the collector
    looks at non-envelope frames too: error replies, confirmations)."""
    try:
        return json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage("bad_json", f"not JSON: {exc}") from None
    except RecursionError:
        raise MalformedMessage("bad_json", "not JSON this parser can read: nested too deeply") from None


def _position(body: dict, msg_type: str, mmsi: int, when: datetime) -> PositionRecord:
    p = f"Message.{msg_type}."
    lat, lon = _num(body, "Latitude", p), _num(body, "Longitude", p)  # 91 / 181: not available
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
        raise MalformedMessage("bad_value", f"{prefix}{key} must be a {kind.__name__}, got {_show(value)}")
    return value


def _num(obj: dict, key: str, prefix: str) -> float:
    value = _get(obj, key, prefix)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedMessage("bad_value", f"{prefix}{key} must be a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    _check_range(number, key, prefix, value)
    return number


def _int(obj: dict, key: str, prefix: str) -> int:
    value = _get(obj, key, prefix)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedMessage("bad_value", f"{prefix}{key} must be an integer, got {_show(value)}")
    _check_range(value, key, prefix, value)
    return value


def _check_range(number: float, key: str, prefix: str, value: Any) -> None:
    """NaN and ±inf are never values; an integer must fit 64 bits; FIELD_RANGES bound the fields
    that place a message."""
    if isinstance(number, float) and not math.isfinite(number):
        raise MalformedMessage("bad_value", f"{prefix}{key} must be a finite number, got {_show(value)}")
    low, high = FIELD_RANGES.get(key, INT64 if isinstance(number, int) else (-math.inf, math.inf))
    if not low <= number <= high:
        raise MalformedMessage("bad_value", f"{prefix}{key} {_show(value)} is outside {low}..{high}")


def _text(obj: dict, key: str, prefix: str) -> str | None:
    """AIS 6-bit text is padded with spaces or '@'; empty means not available. Text that is not
    Unicode (a lone surrogate from a `\\ud800` escape) cannot be stored as UTF-8: refused."""
    value = _get(obj, key, prefix, str)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedMessage("bad_value", f"{prefix}{key} is not valid Unicode ({exc.reason} at "
                                            f"{exc.start}): {_show(value)}") from None
    return value.strip(" @") or None
