"""A NOAA MarineCadastre day of realistic size, in the real 2015–2024 format, for `ais_archive`.

~7.3 M rows (~800 MB) from ~17.5 k vessels around US ports, written in time order like the real
files, with the faults real days carry: not-available codes (heading 511 is common, SOG 102.3,
COG 360, lat 91 / lon 181), non-ship MMSIs, exact and conflicting duplicates, glitched positions,
a few rows of the next day, and empty static fields. Seeded: the same bytes on every machine.
"""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DAY = date(2022, 6, 20)
N_ROWS = 7_300_000
N_SHIPS, N_NON_SHIPS = 17_500, 400
HEADER = ("MMSI", "BaseDateTime", "LAT", "LON", "SOG", "COG", "Heading", "VesselName", "IMO", "CallSign",
          "VesselType", "Status", "Length", "Width", "Draft", "Cargo", "TransceiverClass")
# (lon, lat, spread in degrees, weight): where US AIS traffic concentrates
HOTSPOTS = np.array([
    (-94.8, 29.3, 0.4, 9), (-90.1, 29.9, 0.5, 8), (-118.2, 33.7, 0.3, 8), (-122.4, 37.8, 0.3, 6),
    (-122.5, 47.6, 0.4, 6), (-74.0, 40.6, 0.3, 8), (-75.4, 39.4, 0.4, 4), (-76.3, 37.0, 0.4, 5),
    (-80.1, 25.8, 0.4, 5), (-87.6, 41.9, 0.5, 3), (-83.0, 42.3, 0.4, 3), (-123.3, 46.2, 0.3, 3),
    (-82.6, 27.8, 0.3, 3), (-88.0, 30.6, 0.3, 3), (-71.0, 42.3, 0.3, 3), (-152.4, 57.8, 0.5, 2),
    (-157.9, 21.3, 0.3, 2), (-66.1, 18.5, 0.3, 2), (-79.9, 32.7, 0.3, 2), (-97.3, 27.8, 0.3, 2),
    (-91.0, 28.0, 1.5, 6), (-70.5, 41.5, 0.6, 3), (-117.2, 32.7, 0.2, 2), (-81.1, 32.0, 0.2, 2),
])
# the benchmark's configured areas: Los Angeles / Long Beach and Houston / Galveston approaches
AREAS = ((-118.6, 33.4, -117.9, 33.95), (-95.2, 29.0, -94.4, 29.8))
WORDS = np.array([
    "SEA", "STAR", "OCEAN", "MARIA", "ATLANTIC", "PACIFIC", "GULF", "SPIRIT", "EXPRESS",
    "QUEEN", "LADY", "MISS", "CAPT", "JOHN", "BELLE", "RIVER", "BAY", "NORTH", "SOUTH", "GRACE", "HOPE",
    "EAGLE", "FALCON", "VOYAGER", "PRIDE", "LIBERTY", "ENDEAVOR",
])
TYPES = np.array([30, 31, 52, 60, 70, 80, 37, 36, 35, 90, 50, 1001, 1019])  # NOAA keeps its own 1001+ codes
TYPE_P = np.array([12, 10, 12, 4, 18, 10, 14, 6, 1, 6, 3, 2, 2], dtype=float)


def files(cache: Path) -> tuple[Path, Path, dict]:
    """(csv, zip, facts about the day) of the benchmark day under `cache`, generated once."""
    csv_path = cache / f"AIS_{DAY:%Y_%m_%d}.csv"
    zip_path = cache / f"AIS_{DAY:%Y_%m_%d}.zip"
    facts_path = cache / f"AIS_{DAY:%Y_%m_%d}.facts.json"
    if not (csv_path.exists() and facts_path.exists()):
        cache.mkdir(parents=True, exist_ok=True)
        tmp = csv_path.with_suffix(".csv.part")
        facts = write_csv(tmp)
        tmp.rename(csv_path)
        facts_path.write_text(json.dumps(facts, indent=1))
    if not zip_path.exists():
        tmp = zip_path.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(csv_path, csv_path.name)
        tmp.rename(zip_path)
    return csv_path, zip_path, json.loads(facts_path.read_text())


def _vessels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = N_SHIPS + N_NON_SHIPS
    mids = rng.choice([366, 367, 368, 369, 338, 636, 538, 353, 477, 311, 563, 229, 215], n,
                      p=[.12, .28, .25, .08, .07, .05, .04, .03, .02, .02, .02, .01, .01])
    mmsi = mids * 1_000_000 + rng.integers(0, 1_000_000, n)
    mmsi[N_SHIPS:] = np.where(rng.random(N_NON_SHIPS) < .5, 3_669_000, 993_669_000) + np.arange(N_NON_SHIPS)
    mmsi = np.unique(mmsi)  # a collision merges two vessels: harmless
    n = len(mmsi)
    hot = rng.choice(len(HOTSPOTS), n, p=HOTSPOTS[:, 3] / HOTSPOTS[:, 3].sum())
    class_a = rng.random(n) < 0.6
    moving = rng.random(n) < 0.6
    length = rng.uniform(3600, 86_400, n)  # seconds the vessel is heard
    return {
        "mmsi": mmsi, "class_a": class_a, "moving": moving,
        "lon": HOTSPOTS[hot, 0] + rng.normal(0, 1, n) * HOTSPOTS[hot, 2],
        "lat": HOTSPOTS[hot, 1] + rng.normal(0, 0.6, n) * HOTSPOTS[hot, 2],
        "knots": np.where(moving, rng.uniform(3, 20, n), 0.0), "course": rng.uniform(0, 360, n),
        "weight": rng.lognormal(0, 0.9, n) * np.where(class_a, 1.6, 0.6),
        "length": length, "start": rng.uniform(0, 1, n) * (86_400 - length),
    }


def _static_table(rng: np.random.Generator, v: dict) -> pa.Table:
    """One row of static fields per vessel, NOAA-formatted (empty where not available)."""
    n, a = len(v["mmsi"]), v["class_a"]
    words = rng.choice(WORDS, (n, 2))
    name = np.char.add(np.char.add(words[:, 0], " "), words[:, 1])
    imo = np.char.add("IMO", rng.integers(7_000_000, 9_999_999, n).astype(str))
    call = np.char.add("WD", rng.integers(10_000, 99_999, n).astype(str))
    length = np.where(a, rng.uniform(20, 300, n), rng.uniform(6, 25, n)).round()

    def some(values, p):
        return pa.array(values, mask=rng.random(n) >= p)

    return pa.table({
        "VesselName": some(name, 0.95), "IMO": some(imo, np.where(a, 0.45, 0.0)), "CallSign": some(call, 0.85),
        "VesselType": some(rng.choice(TYPES, n, p=TYPE_P / TYPE_P.sum()), 0.9),
        "Status": pa.array(rng.choice([0, 0, 0, 1, 5, 15, 12], n), mask=~a),
        "Length": some(length.astype(int), 0.85), "Width": some((length / 5).round().astype(int), 0.85),
        "Draft": some(np.where(a, rng.uniform(2, 14, n), 0).round(1), np.where(a, 0.7, 0.0)),
        "Cargo": some(rng.choice([0, 31, 52, 70, 71, 80, 99], n), np.where(a, 0.5, 0.0)),
        "TransceiverClass": pa.array(np.where(a, "A", "B")),
    })


def _rows(rng: np.random.Generator, v: dict) -> dict[str, np.ndarray]:
    """Positions of every vessel along its straight track, one report every few seconds."""
    n_v = len(v["mmsi"])
    counts = np.floor(v["weight"] / v["weight"].sum() * N_ROWS * 0.982).astype(int) + 1
    counts = np.minimum(counts, (v["length"] / 2).astype(int))  # at most one report every 2 s
    vid = np.repeat(np.arange(n_v), counts)
    rank = np.arange(len(vid)) - np.repeat(np.cumsum(counts) - counts, counts)
    step = v["length"][vid] / counts[vid]
    t = v["start"][vid] + (rank + rng.uniform(0, 0.5, len(vid))) * step
    metres = v["knots"][vid] * 1852 / 3600 * t
    course = np.radians(v["course"][vid])
    jitter = rng.normal(0, 3e-5, (2, len(vid)))  # GPS noise, a few metres
    lat = v["lat"][vid] + metres * np.cos(course) / 111_195 + jitter[0]
    lon = v["lon"][vid] + metres * np.sin(course) / (111_195 * np.cos(np.radians(v["lat"][vid]))) + jitter[1]
    sog = np.maximum(v["knots"][vid] + rng.normal(0, 0.3, len(vid)), 0) * v["moving"][vid]
    cog = (v["course"][vid] + rng.normal(0, 2, len(vid))) % 360
    heading = np.where(v["class_a"][vid] & (rng.random(len(vid)) < 0.85), np.round(cog) % 360, 511.0)
    return {"vid": vid, "t": t, "lat": lat, "lon": lon, "sog": sog, "cog": cog, "heading": heading}


def _faults(rng: np.random.Generator, r: dict, facts: dict) -> dict[str, np.ndarray]:
    """Inject what real days carry, then append exact (1.5 %) and conflicting (0.3 %) duplicates."""
    n = len(r["t"])

    def pick(share, name=None):
        chosen = rng.random(n) < share
        if name:
            facts[name] = int(chosen.sum())
        return chosen

    r["sog"] = np.where(pick(0.003, "sog_102.3"), 102.3, r["sog"])
    cog_360, negative = pick(0.01, "cog_360"), pick(0.0005, "cog_negative")  # NOAA has negative courses
    r["cog"] = np.where(cog_360, 360.0, np.where(negative, -rng.uniform(1, 200, n), r["cog"]))
    r["lat"] = np.where(pick(0.0001, "lat_91"), 91.0, r["lat"])
    r["lon"] = np.where(pick(0.0001, "lon_181"), 181.0, r["lon"])
    glitch = pick(0.0005, "position_glitches")
    r["lat"] = np.where(glitch, r["lat"] + rng.choice([-1, 1], n) * rng.uniform(0.3, 4, n), r["lat"])
    r["t"] = np.where(pick(0.0001, "next_day"), 86_400 + rng.uniform(0, 60, n), r["t"])
    exact = rng.choice(n, int(n * 0.015), replace=False)
    other = rng.choice(n, int(n * 0.003), replace=False)
    facts.update(exact_duplicates=len(exact), conflicting_duplicates=len(other))
    out = {k: np.concatenate([a, a[exact], a[other]]) for k, a in r.items()}
    shifted = slice(n + len(exact), None)
    out["lat"][shifted] += rng.normal(0, 2e-4, len(other))
    out["sog"][shifted] = np.round(out["sog"][shifted] + 0.1, 1)
    return out


def _fmt_decimal(values: np.ndarray, digits: int, nonzero_frac: bool = False) -> pa.Array:
    """Like NOAA writes them: `12.3`, `0.0`, `511.0` (one decimal at least), `29.31278`."""
    text = pc.cast(pa.array(np.round(values, digits)), pa.string())
    if nonzero_frac:
        text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    return text


def _chunk(rows: dict, order: np.ndarray, static: pa.Table, mmsi: np.ndarray) -> pa.Table:
    day_start = np.datetime64(DAY.isoformat(), "s")
    t = day_start + rows["t"][order].astype("int64").astype("timedelta64[s]")
    stamp = pc.replace_substring(pc.cast(pa.array(t), pa.string()), " ", "T")
    vid = rows["vid"][order]
    cols = {
        "MMSI": pa.array(mmsi[vid]), "BaseDateTime": stamp,
        "LAT": _fmt_decimal(rows["lat"][order], 5), "LON": _fmt_decimal(rows["lon"][order], 5),
        "SOG": _fmt_decimal(rows["sog"][order], 1, True), "COG": _fmt_decimal(rows["cog"][order], 1, True),
        "Heading": _fmt_decimal(rows["heading"][order], 1, True),
    }
    st = static.take(pa.array(vid))
    for name in HEADER[7:]:
        col = st.column(name)
        cols[name] = _fmt_decimal(col.to_numpy(zero_copy_only=False), 1, True) if name == "Draft" else col
    cols["Draft"] = pc.if_else(st.column("Draft").is_null(), pa.scalar(None, pa.string()), cols["Draft"])
    return pa.table({k: cols[k] for k in HEADER})


def write_csv(path: Path, seed: int = 20220620) -> dict:
    """Write the day to `path`; return facts about it (rows, MMSIs, injected faults)."""
    rng = np.random.default_rng(seed)
    vessels = _vessels(rng)
    static = _static_table(rng, vessels)
    facts: dict = {}
    rows = _faults(rng, _rows(rng, vessels), facts)
    order = np.argsort(np.floor(rows["t"]), kind="stable")  # file order: by second, vessels interleaved
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")  # NOAA quotes nothing
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(HEADER) + "\n").encode())
        for start in range(0, len(order), 500_000):
            pacsv.write_csv(_chunk(rows, order[start:start + 500_000], static, vessels["mmsi"]), sink, options)
    mmsi = vessels["mmsi"][np.unique(rows["vid"])]
    heading = rows["heading"]
    return {"day": DAY.isoformat(), "rows": len(order), "mmsis": len(mmsi),
            "ship_mmsis": int(((mmsi // 1_000_000 >= 201) & (mmsi // 1_000_000 <= 775)).sum()),
            "heading_511_share": round(float((heading == 511).mean()), 3), **facts}
