"""A synthetic world day from the live feed, for `ais_archive --live`: aisstream's message shapes, landed
as the collector lands them (`ais/YYYYMMDD/aisstream-{ms}-{seq}.jsonl`, `FILE_LINES` lines each, in time
order). ~300 msg/s all day is ~26 M messages from ~80 k vessels; 5 % are ShipStaticData repeating each
vessel's static data. Seeded: the same files on every machine; generated once under the cache.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

DAY = date(2026, 6, 15)
FILE_LINES = 5000  # ais.flush_messages
STATIC_SHARE = 0.05


def files(cache: Path, messages: int, vessels: int = 80_000, seed: int = 26) -> Path:
    """The dataset root holding the day's landing files (generated once)."""
    root = cache / f"live-{messages}"
    done = root / "done.json"
    if done.exists():
        return root
    rng = np.random.default_rng(seed)
    mmsi = np.unique(rng.integers(201_000_000, 775_999_999, vessels))
    lon0, lat0 = rng.uniform(-180, 180, len(mmsi)), rng.uniform(-70, 70, len(mmsi))
    knots, course = rng.uniform(0, 20, len(mmsi)), rng.uniform(0, 360, len(mmsi))
    folder = root / "ais" / f"{DAY:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc).timestamp()
    for n, first in enumerate(range(0, messages, FILE_LINES)):
        count = min(FILE_LINES, messages - first)
        t = start + np.sort(rng.uniform(first, first + count, count)) * 86_400 / messages
        v = rng.integers(0, len(mmsi), count)
        static = rng.random(count) < STATIC_SHARE
        metres = knots[v] * 1852 / 3600 * (t - start)
        lat = np.clip(lat0[v] + metres * np.cos(np.radians(course[v])) / 111_195, -89.9, 89.9)
        lon = (lon0[v] + metres * np.sin(np.radians(course[v])) / (111_195 * np.maximum(np.cos(np.radians(lat0[v])), 0.2))
               + 180) % 360 - 180
        rows = zip(mmsi[v].tolist(), t.tolist(), lat.round(6).tolist(), lon.round(6).tolist(), knots[v].round(1).tolist(),
                   course[v].round(1).tolist(), static.tolist())
        lines = [_static(m, ts) if s else _position(m, ts, la, lo, sog, cog) for m, ts, la, lo, sog, cog, s in rows]
        (folder / f"aisstream-{int(t[0] * 1000)}-{n:06d}.jsonl").write_text("\n".join(lines) + "\n")
    done.write_text(json.dumps({"messages": messages, "vessels": len(mmsi)}))
    return root


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "000 +0000 UTC"


def _position(mmsi: int, ts: float, lat: float, lon: float, sog: float, cog: float) -> str:
    """aisstream's PositionReport text (a template: json.dumps per line would take the generation hours)."""
    return (f'{{"MessageType": "PositionReport", "MetaData": {{"MMSI": {mmsi}, "MMSI_String": "{mmsi}", '
            f'"ShipName": "", "latitude": {lat}, "longitude": {lon}, "time_utc": "{_stamp(ts)}"}}, '
            f'"Message": {{"PositionReport": {{"UserID": {mmsi}, "Latitude": {lat}, "Longitude": {lon}, '
            f'"Sog": {sog}, "Cog": {cog}, "TrueHeading": {int(cog) % 360}, "NavigationalStatus": 0, '
            f'"Timestamp": {int(ts) % 60}, "Valid": true}}}}}}')


def _static(mmsi: int, ts: float) -> str:
    body = {"UserID": mmsi, "Name": f"SHIP {mmsi % 100000}".ljust(20), "CallSign": f"C{mmsi % 10000:04d}  ",
            "ImoNumber": 9_000_000 + mmsi % 999_999, "Type": 70, "Destination": "ROTTERDAM@@@",
            "Dimension": {"A": 50, "B": 20, "C": 6, "D": 6}, "Valid": True}
    meta = {"MMSI": mmsi, "MMSI_String": str(mmsi), "ShipName": body["Name"].strip(), "latitude": 0.0,
            "longitude": 0.0, "time_utc": _stamp(ts)}
    return json.dumps({"MessageType": "ShipStaticData", "MetaData": meta, "Message": {"ShipStaticData": body}})
