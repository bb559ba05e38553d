"""The reports' view of a day's AIS: a stored day, queried, answers as the whole frame does; a big day's
map tracks are thinned to the cap, keeping each vessel's first and last fix."""

from __future__ import annotations

import pandas as pd

from shipchips_core.ais import day_view
from shipchips_core.ais.day_view import AisDayView
from shipchips_core.ais.vessels import latest_vessel_facts
from shipchips_core.catalog.qa_report import build_qa_report
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from tests.core.ais.test_archives import DAY
from tests.core.ais.test_snapshot_dataset import stored  # noqa: F401  (the stored NOAA day, a fixture)


def test_a_stored_day_counts_its_fixes_and_vessels_as_the_frame(stored):
    ds, df = stored
    view = AisDayView(ds)
    assert view.n_positions == len(df) > 1000
    assert view.n_vessels == df["mmsi"].nunique() > 20
    assert view.positions_per_vessel.to_dict() == df.groupby("mmsi").size().to_dict()
    pd.testing.assert_frame_equal(view.vessels, latest_vessel_facts(df))


def test_a_day_under_the_cap_maps_every_fix(stored):
    ds, df = stored
    tracks = AisDayView(ds).tracks
    want = df[["mmsi", "time_utc", "lon", "lat"]].sort_values(["mmsi", "time_utc"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(tracks, want)
    pd.testing.assert_frame_equal(AisDayView(df).tracks, want)


def test_a_day_over_the_cap_is_thinned_the_same_in_sql_and_on_a_frame(stored, monkeypatch):
    ds, df = stored
    monkeypatch.setattr(day_view, "MAX_MAP_FIXES", 500)
    from_sql, from_frame = AisDayView(ds), AisDayView(df)
    step = from_sql.track_step
    assert step == -(-len(df) // 500) > 1
    pd.testing.assert_frame_equal(from_sql.tracks, from_frame.tracks)
    tracks, full = from_sql.tracks, df.sort_values(["mmsi", "time_utc"])
    assert len(tracks) <= 500 + from_sql.n_vessels  # every step-th fix, plus each vessel's last
    ends = full.groupby("mmsi")["time_utc"].agg(["min", "max"])
    pd.testing.assert_frame_equal(tracks.groupby("mmsi")["time_utc"].agg(["min", "max"]), ends)
    first = full[full["mmsi"] == full["mmsi"].iloc[0]]["time_utc"].reset_index(drop=True)
    kept = tracks[tracks["mmsi"] == full["mmsi"].iloc[0]]["time_utc"].reset_index(drop=True)
    assert kept.iloc[:-1].tolist() == first.iloc[::step].tolist()[: len(kept) - 1]


def test_the_qa_report_of_a_stored_day_is_the_report_of_its_frame(stored, tmp_path):
    ds, df = stored
    empty = {"plan": schemas.empty_frame("acquisition_plan"), "scenes": schemas.empty_frame("s2_scene_metadata"),
             "chips": schemas.empty_frame("chips")}
    pages = []
    for name, ais in (("dataset", ds), ("frame", df)):
        storage = LocalStorage(tmp_path / name)
        summary = build_qa_report(DAY, ais=ais, storage=storage, **empty)
        assert summary.iloc[0]["n_ais_positions"] == len(df)
        pages.append(storage.path(summary["report_path"].iloc[0]).read_bytes())
    assert pages[0] == pages[1]
    assert f'<th>AIS positions</th><td class="num">{len(df)}</td>'.encode() in pages[0]
