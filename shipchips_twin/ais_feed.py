"""aisstream.io envelopes generated from the synthetic `World` (SPEC-NOTES §2).

Each vessel's reports are computed as numpy columns (times, noisy positions, SOG/COG, heading), all
vessels' columns are sorted once by time, and envelopes are built lazily only for the messages that
pass the box / type / MMSI filter — so a subscription costs little beyond what it receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

import numpy as np

from shipchips_twin import vessel_lies
from shipchips_twin.world import Vessel, World, epoch

POSITION_A = "PositionReport"
POSITION_B = "StandardClassBPositionReport"
STATIC_A = "ShipStaticData"
STATIC_B = "StaticDataReport"
MESSAGE_TYPES = (POSITION_A, POSITION_B, STATIC_A, STATIC_B)
STATIC_INTERVAL_S = 360.0  # static/voyage data every 6 minutes
DEG_QUANTUM = 1 / 600_000  # AIS positions are sent in 1/10000 arc-minute
_FMT_SUFFIX = "000 +0000 UTC"  # microsecond times, written with aisstream's 9 fractional digits


@dataclass
class _Columns:
    """One entry per message, sorted by (time, vessel, kind)."""

    t_us: np.ndarray  # epoch microseconds
    vessel: np.ndarray  # index into world.vessels
    kind: np.ndarray  # 0 position report, 1 static data
    lat: np.ndarray
    lon: np.ndarray
    sog: np.ndarray
    cog: np.ndarray
    heading: np.ndarray
    type_code: np.ndarray  # index into MESSAGE_TYPES


def iter_messages(
    world: World,
    start: datetime,
    end: datetime,
    *,
    bounding_boxes: Iterable | None = None,
    message_types: Iterable[str] | None = None,
    mmsis: Iterable[int | str] | None = None,
) -> Iterator[tuple[float, dict]]:
    """(epoch seconds, envelope) for every message in [start, end), sorted by time.

    `bounding_boxes` are aisstream's latitude-first boxes `[[[lat1, lon1], [lat2, lon2]], ...]`
    (either corner order), matched against the message's position; None means everywhere.
    """
    if not world.vessels:
        return
    cols = _columns(world, start, end)
    idx = np.flatnonzero(_mask(world, cols, bounding_boxes, message_types, mmsis))
    stamps = np.datetime_as_string(cols.t_us[idx].astype("datetime64[us]"))
    rows = zip(*(getattr(cols, name)[idx].tolist() for name in ("t_us", "vessel", "type_code", "lat", "lon")))
    motion = zip(cols.sog[idx].tolist(), cols.cog[idx].tolist(), cols.heading[idx].tolist())
    vessels = world.vessels
    for (t_us, vi, code, lat, lon), (sog, cog, heading), stamp in zip(rows, motion, stamps):
        vessel = vessels[vi]
        msg_type = MESSAGE_TYPES[code]
        if code < 2:
            body = _position_body(vessel, msg_type, t_us, lat, lon, sog, cog, int(heading))
        else:
            body = _static_body(vessel, msg_type, world)
        meta = {
            "MMSI": vessel.mmsi,
            "MMSI_String": str(vessel.mmsi),
            "ShipName": vessel.name[:20].ljust(20),
            "latitude": lat,
            "longitude": lon,
            "time_utc": stamp.replace("T", " ") + _FMT_SUFFIX,
        }
        yield t_us / 1e6, {"MessageType": msg_type, "MetaData": meta, "Message": {msg_type: body}}


def _columns(world: World, start: datetime, end: datetime) -> _Columns:
    parts = [_vessel_columns(world, i, v, start, end) for i, v in enumerate(world.vessels)]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((merged["kind"], merged["vessel"], merged["t_us"]))
    return _Columns(**{k: a[order] for k, a in merged.items()})


def _vessel_columns(world: World, i: int, v: Vessel, start: datetime, end: datetime) -> dict[str, np.ndarray]:
    t0, t1 = epoch(start), epoch(end)
    t_pos = world.report_times(v, start, end)
    dx, dy = world.gps_noise_m(v, t_pos)
    x, y = v.track.position(t_pos)
    lon, lat = world.utm_to_lonlat(x + dx, y + dy)
    # static data on its own per-vessel 6-minute clock; its MetaData position is the true one
    t_static = np.arange(t0 + (v.report_phase_s * 12.0) % STATIC_INTERVAL_S, t1, STATIC_INTERVAL_S)
    s_lon, s_lat = world.utm_to_lonlat(*v.track.position(t_static))
    t = np.concatenate([t_pos, t_static])
    sog, cog, heading = _motion(world, v, t)
    if not vessel_lies.reports_heading(world, v):
        heading = np.full(t.size, float(vessel_lies.HEADING_511_VALUE))
    n_pos, n_static = t_pos.size, t_static.size
    code_pos, code_static = (0, 2) if v.ais_class == "A" else (1, 3)
    # microsecond times, never rounded up onto `end` (the window is half-open)
    t_us = np.minimum(np.round(t * 1e6), np.ceil(t1 * 1e6) - 1).astype("int64")
    return {
        "t_us": t_us,
        "vessel": np.full(t.size, i),
        "kind": np.repeat([0, 1], [n_pos, n_static]),
        "lat": _quantise(np.concatenate([lat, s_lat])),
        "lon": _quantise(np.concatenate([lon, s_lon])),
        "sog": np.round(sog, 1),
        "cog": np.round(cog, 1) % 360.0,  # 360 would mean "not available"
        "heading": np.where(heading == vessel_lies.HEADING_511_VALUE, heading, np.round(heading) % 360.0),
        "type_code": np.repeat([code_pos, code_static], [n_pos, n_static]),
    }


def _motion(world: World, v: Vessel, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SOG, COG and true heading at times `t`: evaluated once per track segment, then indexed.
    Each segment is sampled at its midpoint: at its start, a float→datetime round trip can fall a
    microsecond short of the vertex and pick the previous segment."""
    times = np.asarray(v.track.times)
    probes = (times[:-1] + times[1:]) / 2 if len(times) > 1 else times
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(probes) - 1)
    per_seg = np.array(
        [(*v.track.sog_cog(s), world.heading_deg(v.mmsi, datetime.fromtimestamp(s, timezone.utc))) for s in probes]
    )
    return per_seg[seg, 0], per_seg[seg, 1], per_seg[seg, 2]


def _quantise(deg: np.ndarray) -> np.ndarray:
    return np.round(deg / DEG_QUANTUM) * DEG_QUANTUM


def _mask(world: World, cols: _Columns, boxes, types, mmsis) -> np.ndarray:
    keep = np.ones(cols.t_us.size, dtype=bool)
    if types is not None:
        wanted = [i for i, name in enumerate(MESSAGE_TYPES) if name in set(types)]
        keep &= np.isin(cols.type_code, wanted)
    if mmsis is not None:
        wanted_mmsi = {int(m) for m in mmsis}
        wanted = [i for i, v in enumerate(world.vessels) if v.mmsi in wanted_mmsi]
        keep &= np.isin(cols.vessel, wanted)
    if boxes is not None:
        inside = np.zeros_like(keep)
        for (lat1, lon1), (lat2, lon2) in boxes:
            inside |= (
                (cols.lat >= min(lat1, lat2))
                & (cols.lat <= max(lat1, lat2))
                & (cols.lon >= min(lon1, lon2))
                & (cols.lon <= max(lon1, lon2))
            )
        keep &= inside
    return keep


def _position_body(v: Vessel, msg_type: str, t_us: int, lat, lon, sog, cog, heading: int) -> dict:
    body = {
        "Cog": cog,
        "CommunicationState": 0,
        "Latitude": lat,
        "Longitude": lon,
        "MessageID": 1 if msg_type == POSITION_A else 18,
        "PositionAccuracy": msg_type == POSITION_A,
        "Raim": False,
        "RepeatIndicator": 0,
        "Sog": sog,
        "Timestamp": (t_us // 1_000_000) % 60,  # UTC second of the report
        "TrueHeading": heading,
        "UserID": v.mmsi,
        "Valid": True,
    }
    if msg_type == POSITION_A:
        body.update(NavigationalStatus=v.nav_status, RateOfTurn=0, SpecialManoeuvreIndicator=0, Spare=0)
    else:  # class B carries no navigational status
        body.update(
            AssignedMode=False, ClassBBand=True, ClassBDisplay=False, ClassBDsc=True, ClassBMsg22=True,
            ClassBUnit=True, CommunicationStateIsItdma=True, Spare1=0, Spare2=0,
        )
    return body


def _static_body(v: Vessel, msg_type: str, world: World) -> dict:
    dims = vessel_lies.reported_dims(world, v)
    if msg_type == STATIC_A:
        day = world.spec.days[0]
        return {
            "AisVersion": 2,
            "CallSign": v.call_sign.ljust(7),
            "Destination": "ROTTERDAM".ljust(20, "@"),
            "Dimension": dims,
            "Dte": False,
            "Eta": {"Month": day.month, "Day": day.day, "Hour": 18, "Minute": 0},
            "FixType": 1,
            "ImoNumber": v.imo or 0,
            "MaximumStaticDraught": round(v.length_m / 20.0, 1),
            "MessageID": 5,
            "Name": v.name[:20].ljust(20),
            "RepeatIndicator": 0,
            "Spare": False,
            "Type": v.ship_type,
            "UserID": v.mmsi,
            "Valid": True,
        }
    return {
        "MessageID": 24,
        "PartNumber": False,
        "RepeatIndicator": 0,
        "Reserved": 0,
        "UserID": v.mmsi,
        "Valid": True,
        "ReportA": {"Name": v.name[:20].ljust(20, "@"), "Valid": True},
        "ReportB": {
            "CallSign": v.call_sign.ljust(7, "@"),
            "Dimension": dims,
            "FixType": 1,
            "ShipType": v.ship_type,
            "Spare": 0,
            "Valid": True,
            "VenderIDModel": 0,
            "VenderIDSerial": 0,
            "VendorIDName": "TWIN",
        },
    }
