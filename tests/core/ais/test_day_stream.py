"""The streamed cleaning equals the frame-based one (rows, values, counts by reason) on archive and
landing days, cut into runs of a few rows so every MMSI straddles batches; invalid data never lands."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipchips_core.ais import archives, clean, day_stream, mmsi_buckets
from shipchips_core.ais.landing_day import build_ais_snapshots
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset.storage import LocalStorage
from tests.core.ais import frame_oracle
from tests.core.ais.test_archives import (
    DAY, DMA_DAY, DMA_HEADER, DMA_ROWS, GALVESTON, NOAA_ROWS, SKAGERRAK, noaa_2025_text, noaa_text, write_zip,
)
from tests.core.ais.test_clean import AREA, SHIP_A, SHIP_B, T0, land, position, static_a, static_b
from tests.core.ais.test_clean import DAY as LANDING_DAY


@pytest.fixture(params=[50, 1 << 18], ids=["runs_of_50_rows", "one_run"])
def run_rows(request, monkeypatch):
    """Tiny runs, staged chunks and batches force every MMSI across chunks and batches of the stage
    (its rows gathered from many pieces, in read order) and many buckets."""
    monkeypatch.setattr(day_stream, "RUN_ROWS", request.param)
    if request.param < 100:
        monkeypatch.setattr(day_stream, "STAGE_ROWS", 70)
        monkeypatch.setattr(mmsi_buckets, "BATCH_ROWS", 8)
    return request.param


def random_noaa_rows(n=2000, seed=7) -> list[str]:
    """A glitchy NOAA day: 40 vessels (a few non-ships), repeated and conflicting times, jumps,
    not-available codes, names that change during the day, rows outside the area and the day."""
    rng = np.random.default_rng(seed)
    mmsis = np.r_[rng.integers(366_000_000, 369_000_000, 36), [3669701, 993692001, 338123456, 338123457]]
    rows = []
    for _ in range(n):
        m = int(rng.choice(mmsis))
        t = DAY.isoformat() + f"T{rng.integers(0, 3):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60, ) // 5 * 5:02d}"
        lat = 29.3 + (m % 97) / 1000 + rng.normal(0, 0.002) + (rng.random() < 0.02) * rng.choice([-2, 2])
        lon = -94.8 + (m % 89) / 1000 + rng.normal(0, 0.002) + (rng.random() < 0.01) * 5
        sog = rng.choice(["12.4", "102.3", "0.0", ""])
        heading = rng.choice(["223.0", "511.0"])
        name = rng.choice(["SEA STAR", "SEA STAR II", ""])
        cls = rng.choice(["A", "B", "A", ""])
        day = "2022-06-21T00:00:01" if rng.random() < 0.01 else t
        rows.append(f"{m},{day},{lat:.5f},{lon:.5f},{sog},360.0,{heading},{name},IMO9869693,WDH3843,70,"
                    f"{rng.integers(0, 17)},{rng.choice(['183', '', '0'])},32,9.1,70,{cls}")
    return rows


def archive_cases(tmp_path) -> list[tuple]:
    noaa = tmp_path / "AIS_2022_06_20.csv"
    noaa.write_text(noaa_text())
    glitchy = tmp_path / "glitchy.csv"
    glitchy.write_text(noaa_text(random_noaa_rows()))
    zst = tmp_path / "ais-2022-06-20.csv.zst"
    with pa.CompressedOutputStream(str(zst), "zstd") as out:
        out.write(noaa_2025_text().encode())
    dma = write_zip(tmp_path / "aisdk-2023-03-18.zip", "aisdk-2023-03-18.csv",
                    DMA_HEADER + "\n" + "\n".join(DMA_ROWS) + "\n")
    return [(str(noaa), "noaa", DAY, [GALVESTON]), (str(glitchy), "noaa", DAY, [GALVESTON]),
            (str(glitchy), "noaa", DAY, [(-180, -90, 180, 90)]), (str(zst), "noaa", DAY, [GALVESTON]),
            (str(dma), "dma", DMA_DAY, [SKAGERRAK])]


def assert_same_day(streamed: tuple, oracle: tuple) -> None:
    (df, counts), (want, want_counts) = streamed, oracle
    assert counts == want_counts
    pd.testing.assert_frame_equal(df, frame_oracle.as_stored(want))


def test_streamed_archives_equal_the_frame_based_cleaning(tmp_path, run_rows):
    for location, fmt, day, areas in archive_cases(tmp_path):
        streamed = archives.read_archive(location, fmt, day, areas)
        assert_same_day(streamed, frame_oracle.read_archive(location, fmt, day, areas))
    glitchy = archives.read_archive(str(tmp_path / "glitchy.csv"), "noaa", DAY, [(-180, -90, 180, 90)])[1]
    assert glitchy["duplicate"] > 5 and glitchy["impossible_jump"] > 10 and glitchy["positions_kept"] > 800


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_a_file_read_in_parts_at_once_equals_the_frame_based_cleaning(tmp_path, monkeypatch, parts):
    """Parts parsed on threads of their own, cut at line ends, each in many blocks and staged chunks:
    the same rows, values, counts and latest static data as one serial read (conflicting repeats of an
    (mmsi, time) keep the first read, so the stage must give each MMSI's rows back in read order)."""
    monkeypatch.setattr(archives, "PARTS", parts)
    monkeypatch.setattr(archives, "PART_MIN_BYTES", 0)
    monkeypatch.setattr(archives, "BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr(archives, "REGROUP_BLOCKS", 2)
    monkeypatch.setattr(day_stream, "STAGE_ROWS", 300)
    monkeypatch.setattr(day_stream, "RUN_ROWS", 400)
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_bytes(b"\xef\xbb\xbf" + noaa_text(random_noaa_rows(6000, seed=11)).replace("\n", "\r\n").encode())
    cut = archives._parts(str(path))
    assert len(cut) == parts and cut[0][0] == 0 and cut[-1][1] is None
    assert all(path.read_bytes()[start - 1:start] == b"\n" for start, _ in cut[1:])
    for areas in ([GALVESTON], [(-180, -90, 180, 90)]):
        streamed = archives.read_archive(str(path), "noaa", DAY, areas)
        monkeypatch.setattr(archives, "PARTS", 1)
        assert_same_day(streamed, frame_oracle.read_archive(str(path), "noaa", DAY, areas))
        assert_same_day(streamed, archives.read_archive(str(path), "noaa", DAY, areas))
        monkeypatch.setattr(archives, "PARTS", parts)
    assert streamed[1]["rows_read"] == 6000 and streamed[1]["duplicate"] > 50


def landing_day(storage: LocalStorage, seed: int = 3) -> None:
    """Three landing files: two class A ships and a class B one, out of order across files, static data
    changing during the day (a renamed ship, class B halves apart), duplicates and a glitch."""
    rng = np.random.default_rng(seed)
    for f in range(3):
        lines = []
        for i in range(300):
            t = T0 + timedelta(seconds=int(rng.integers(0, 3600)))
            mmsi = int(rng.choice([SHIP_A, SHIP_B, 211000001]))
            lat = 52.2 + (t - T0).total_seconds() * 5e-5 + (rng.random() < 0.02) * 0.5
            lines.append(position(mmsi, t, lat, 3.8, cls="B" if mmsi == 211000001 else "A"))
            if i % 40 == 0:
                lines.append(static_a(SHIP_A, t, rng.choice(["NOORDZEE", "NOORDZEE 2"])))
                lines.append(static_b(211000001, t, name="SPIRIT") if f % 2 else static_b(211000001, t, dims=(5, 3, 1, 1)))
        lines.append(static_a(SHIP_B, T0 + timedelta(minutes=f), "ZUIDER", dims=(0, 0, 0, 0)))
        lines.append("{not json")
        land(storage, f"aisstream-{f}-000000.jsonl", lines)


def test_streamed_landing_day_equals_the_frame_based_cleaning(tmp_path, run_rows):
    storage = LocalStorage(tmp_path / "root")
    landing_day(storage)
    streamed = build_ais_snapshots(storage, LANDING_DAY, [AREA])
    assert_same_day(streamed, frame_oracle.build_ais_snapshots(storage, LANDING_DAY, [AREA]))
    df, counts = streamed
    assert counts["duplicate"] > 10 and counts["malformed_bad_json"] == 3 and set(df["mmsi"]) == {SHIP_A, SHIP_B, 211000001}


def _sink_with_rows(workdir, rows: int = 5):
    sink = day_stream.PositionSink(workdir)
    t = pd.date_range("2026-06-15T10:00:00Z", periods=rows, freq="10s")
    sink.add(pa.table({
        "mmsi": [SHIP_A] * rows, "time_utc": pa.array(t), "lat": [52.2] * rows, "lon": [3.8] * rows,
        "sog_kn": [10.0] * rows, "cog_deg": [0.0] * rows, "heading_deg": [0.0] * rows, "nav_status": [0] * rows,
        "msg_type": ["PositionReport"] * rows, "ais_class": ["A"] * rows,
    }))
    return sink


def _static(dim_a: int) -> pd.DataFrame:
    st = pd.DataFrame({"mmsi": [SHIP_A], "time_utc": [pd.Timestamp("2026-06-15T09:00:00Z")], "ship_name": ["NOORDZEE"],
                       "imo": [9123456], "call_sign": ["PD1234"], "ship_type": [70],
                       **{d: [v] for d, v in zip(("dim_a", "dim_b", "dim_c", "dim_d"), (dim_a, 10, 6, 6))}})
    static = clean.latest_static(st)
    static["dim_a"] = pd.array([dim_a], dtype="Int64")  # as a faulty rule would let through
    return static


def test_a_run_with_an_invalid_row_is_refused_and_nothing_lands(tmp_path):
    out = tmp_path / "part-0.parquet"
    out.write_bytes(b"the previous partition")
    (tmp_path / "work").mkdir()
    with pytest.raises(day_stream.SnapshotRefused, match=r"(?s)part-0.parquet refused, nothing written.*dim_a"):
        day_stream.write_snapshot(_sink_with_rows(tmp_path / "work"), _static(9999), {}, "aisstream", out)
    assert out.read_bytes() == b"the previous partition"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-0.parquet", "work"]


def test_a_valid_day_lands_with_its_counts(tmp_path):
    out, counts = tmp_path / "part-0.parquet", {}
    (tmp_path / "work").mkdir()
    day_stream.write_snapshot(_sink_with_rows(tmp_path / "work"), _static(50), counts, "aisstream", out)
    df = AisDataset(out).frame()
    assert len(df) == counts["positions_kept"] == 5 and set(df["length_m"]) == {60.0} and counts["duplicate"] == 0


def test_the_whole_table_rule_is_checked_in_sql(tmp_path):
    t = pa.array(pd.to_datetime(["2026-06-15T10:00:00Z"] * 2)).cast(pa.timestamp("us", "UTC"))
    pq.write_table(pa.table({"mmsi": [SHIP_A, SHIP_A], "time_utc": t}), tmp_path / "twice.parquet")
    with pytest.raises(day_stream.SnapshotRefused, match="1 rows repeat an"):
        day_stream.check_whole_table(tmp_path / "twice.parquet", tmp_path / "twice.parquet")


def test_the_stored_day_keeps_the_statistics_readers_prune_by(tmp_path, monkeypatch):
    """Row groups carry min/max of the sort keys (mmsi, time_utc) and of nothing else."""
    monkeypatch.setattr(day_stream, "ROW_GROUP_ROWS", 100)
    location, fmt, day, areas = archive_cases(tmp_path)[2]
    out = tmp_path / "day.parquet"
    archives.stream_archive(location, fmt, day, areas, out)
    md = pq.ParquetFile(out).metadata
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    assert md.num_row_groups > 3
    for g in range(md.num_row_groups):
        stats = {n: md.row_group(g).column(i).statistics for i, n in enumerate(names)}
        assert {n for n, st in stats.items() if st is not None and st.has_min_max} == {"mmsi", "time_utc"}
        assert stats["mmsi"].min <= stats["mmsi"].max < 10**9
    mins = [md.row_group(g).column(0).statistics.min for g in range(md.num_row_groups)]
    assert mins == sorted(mins)


def test_validate_file_rechecks_a_stored_day(tmp_path):
    location, fmt, day, areas = archive_cases(tmp_path)[1]
    out = tmp_path / "day.parquet"
    counts = archives.stream_archive(location, fmt, day, areas, out)
    assert day_stream.validate_file(out, rows=100) == counts["positions_kept"] == len(AisDataset(out))


def test_an_empty_day_lands_as_an_empty_typed_file(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    df, counts = build_ais_snapshots(storage, date(2026, 6, 16), [AREA])
    assert df.empty and list(df.columns) == list(clean.COLUMNS) and counts["positions_kept"] == 0
    assert str(df["time_utc"].dtype) == "datetime64[ns, UTC]"
