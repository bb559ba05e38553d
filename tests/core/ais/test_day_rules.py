"""The day rules on Arrow runs (`day_rules.finish_run`) equal `clean.finish_with` on the same rows, then
its Arrow conversion: same rows, values (nulls included) and counts by reason; and the MMSI buckets of
the stage give each MMSI whole, in MMSI order, its rows in read order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shipchips_core.ais import clean, day_rules, day_stream, mmsi_buckets
from tests.core.ais import frame_oracle

T0 = pd.Timestamp("2026-06-15T00:00:00Z").value


def glitchy_run(n: int, seed: int) -> pa.Table:
    """Stage rows in read order: repeated (mmsi, time) pairs, jumps, not-available and missing values."""
    rng = np.random.default_rng(seed)
    mmsi = rng.choice([244_000_001, 244_000_002, 244_000_003, 366_000_004], n)
    t = T0 + rng.integers(0, 600, n) * 10**9 + rng.choice([0, 1, 999], n)  # ns apart: equal once in µs
    lat = 52.0 + (mmsi % 7) * 0.01 + (rng.random(n) < 0.05) * rng.choice([-3.0, 3.0], n)
    lon = 4.0 + (t - T0) / 1e9 * 1e-5
    pick = lambda *values: rng.choice(np.array(values, dtype=object), n)  # noqa: E731
    return pa.table({
        "mmsi": mmsi, "time_ns": t, "lat": lat, "lon": lon,
        "sog_kn": pa.array(pick(12.0, 102.3, 0.0, None), pa.float64()),
        "cog_deg": pa.array(pick(90.0, 360.0, None), pa.float64()),
        "heading_deg": pa.array(pick(88.0, 511.0), pa.float64()),
        "nav_status": pa.array(pick(0, 15, 16, None), pa.int64()),
        "msg_type": pa.array(pick("PositionReport", "StandardClassBPositionReport", None), pa.string()),
        "ais_class": pa.array(pick("A", "B"), pa.string()),
    }, schema=day_stream.STAGE_SCHEMA)


def static_records() -> pd.DataFrame:
    """Static data for two of the four MMSIs: one with A/B/C/D, one with a reported size only."""
    return pd.DataFrame({
        "mmsi": [244_000_001, 244_000_002, 244_000_002], "time_utc": pd.to_datetime([T0, T0, T0 + 10**9], utc=True),
        "ship_name": ["NOORDZEE", None, "ZUIDER"], "imo": pd.array([9123456, None, 0], "Int64"),
        "call_sign": ["PD1234", "PE5678", None], "ship_type": pd.array([70, 300, 80], "Int64"),
        "dim_a": pd.array([50, None, None], "Int64"), "dim_b": pd.array([10, None, None], "Int64"),
        "dim_c": pd.array([6, None, None], "Int64"), "dim_d": pd.array([6, None, None], "Int64"),
        "length_m": [None, 0.0, 120.0], "beam_m": [None, 20.0, None],
    })


def statics() -> pd.DataFrame:
    return clean.latest_static(static_records())


def as_frame(run: pa.Table) -> pd.DataFrame:
    """The run as the frame-based streaming gave it to `finish_with` (the whole-day frame's dtypes)."""
    t = pc.cast(run.column("time_ns"), pa.timestamp("ns", "UTC"))
    table = run.drop_columns(["time_ns"]).append_column("time_utc", t).select(list(clean.POSITION_FIELDS))
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("static", [statics, lambda: clean.latest_static(static_records().iloc[:0])],
                         ids=["static", "none"])
def test_finish_run_equals_finish_with(seed, static):
    run = glitchy_run(600, seed)
    want_counts, got_counts = {}, {}
    want = frame_oracle.as_table(clean.finish_with(as_frame(run), static(), want_counts, "noaa"))
    got = day_rules.finish_run(run, day_rules.Vessels.of(static()), got_counts, "noaa")
    assert got.schema == day_rules.CODED_SCHEMA
    assert day_rules.coded_as_stored(got).equals(want)
    assert got_counts == want_counts and want_counts["duplicate"] > 0 and want_counts["impossible_jump"] > 0
    assert want_counts["not_available_heading_deg"] > 0 and want_counts["not_available_nav_status"] > 0


def test_finish_run_of_an_empty_run():
    counts = {}
    got = day_rules.finish_run(glitchy_run(0, 0), day_rules.Vessels.of(statics()), counts, "noaa")
    assert got.num_rows == 0 and counts["positions_kept"] == 0 and got.schema == day_rules.CODED_SCHEMA


def test_coded_text_is_checked_on_its_words():
    """The contract on dictionary-encoded text: a word outside the allowed set is refused, with its row."""
    from shipchips_core.dataset import arrow_contract, schemas

    run = glitchy_run(50, 1)
    i = run.schema.get_field_index("msg_type")
    run = run.set_column(i, "msg_type", pc.fill_null(run.column(i), "PositionReport"))  # required
    table = day_rules.finish_run(run, day_rules.Vessels.of(statics()), {}, "noaa")
    arrow_contract.validate_batch("ais_snapshots", table)
    bad = pc.if_else(pc.equal(pc.cast(table.column("ais_class"), pa.string()), "B"), "C", table.column("ais_class"))
    broken = table.set_column(table.schema.get_field_index("ais_class"), "ais_class", pc.cast(bad, day_rules.CODE))
    with pytest.raises(schemas.SchemaViolation, match="column=ais_class .*value='C'"):
        arrow_contract.validate_batch("ais_snapshots", broken)


@pytest.mark.parametrize("chunk_rows, batch_rows, run_rows", [(37, 5, 20), (1000, 4096, 100), (64, 8, 1 << 20)])
def test_stage_buckets_hold_whole_mmsis_in_read_order(tmp_path, chunk_rows, batch_rows, run_rows, monkeypatch):
    monkeypatch.setattr(mmsi_buckets, "BATCH_ROWS", batch_rows)
    rng = np.random.default_rng(5)
    n = 900
    rows = pa.table({"mmsi": rng.integers(1, 40, n), "seq": np.arange(n), "text": rng.choice(["x", "y", None], n)})
    stage = mmsi_buckets.Stage(tmp_path / "stage.arrow", rows.schema)
    for start in range(0, n, chunk_rows):
        stage.add(rows.slice(start, chunk_rows))
    runs = list(stage.runs(run_rows))
    assert not (tmp_path / "stage.arrow").exists()
    seen = []
    for run in runs:
        mmsi, seq = run.column("mmsi").to_numpy(), run.column("seq").to_numpy()
        for m in np.unique(mmsi):
            assert (np.diff(seq[mmsi == m]) > 0).all()  # read order within an MMSI
        seen.append(np.unique(mmsi))
    flat = np.concatenate(seen)
    assert (np.diff(flat) > 0).all() and set(flat) == set(rows.column("mmsi").to_pylist())  # whole, in order
    back = pa.concat_tables([r.cast(pa.schema([("mmsi", pa.int64()), ("seq", pa.int64()), ("text", pa.string())]))
                             for r in runs]).sort_by("seq")
    assert back.equals(rows)  # every row once, text decoded
    assert run_rows >= n or len(runs) > 1
