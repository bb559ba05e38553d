"""The world-day benchmark on a small fleet (20 vessels, 12 h, chips on a real LocalCluster): every
stage measured, counts that agree from stage to stage, and a world projection built from them (no
timing checks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import _world_fleet as fleet
from benchmarks import world_day
from benchmarks._world_sizing import STAGES
from shipchips_twin.world import World

pytestmark = pytest.mark.slow  # a day through every stage and a Dask cluster: ~1 min on a busy machine


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    cache = tmp_path_factory.mktemp("bench-cache")
    return world_day.main(["--vessels", "100000", "--scale", "0.0002", "--hours", "12", "--cache-dir", str(cache)])


def test_every_stage_measured(report):
    assert tuple(report["stages"]) == STAGES
    for name, s in report["stages"].items():
        assert s["items"] > 0 and s["wall_s"] > 0 and s["cpu_s"] >= 0, name
        assert s["peak_rss_mb"] > 0 and s["cpu_ms_per_item"] >= 0, name
    for name in ("collection", "cleaning", "chipping"):
        assert report["stages"][name]["bytes"] > 0, name
    assert report["stages"]["chipping"]["processes"] >= 3  # the driver and the cluster's two workers


def test_counts_agree_from_stage_to_stage(report):
    f, s = report["fleet"], report["stages"]
    assert f["vessels"] == 20
    assert s["collection"]["items"] == s["cleaning"]["items"] == f["messages"]
    assert s["cleaning"]["rows_out"] == f["positions"]
    assert s["planning"]["items"] == 20
    chips, ok, pairs = s["chipping"]["ok"], s["matching"]["ok"], s["matching"]["items"]
    assert 0 < chips <= ok <= pairs
    assert s["chipping"]["items"] <= pairs
    assert s["matching"]["vessels_ok"] <= s["planning"]["items"]
    assert s["chipping"]["files"] >= 5 * chips  # image, masks, quicklook, document, label per chip
    assert all(t["pass"] for t in report["targets"]), [t for t in report["targets"] if not t["pass"]]


def test_projection_scales_the_measured_items(report):
    w, s = report["world"], report["stages"]
    factor = 100_000 / 20
    assert w["factor"] == pytest.approx(factor)
    assert w["messages_per_day"] == pytest.approx(s["collection"]["items"] * factor * 2)  # 12 h simulated
    assert w["chips_per_day"] == pytest.approx(s["chipping"]["ok"] * factor)
    expected_cpu = sum(s[n]["cpu_s"] / max(s[n]["items"], 1) * w["stages"][n]["items"]
                       for n in STAGES if n != "scenes")
    assert w["cpu_s_per_day"] == pytest.approx(expected_cpu)
    assert w["stages"]["scenes"]["items"] is None  # the twin's granules are no sample of the world's
    saved = json.loads(Path(report["json_path"]).read_text())
    assert saved["world"]["chips_per_day"] == pytest.approx(w["chips_per_day"])


def test_cadence_and_overpass_share():
    """ITU-R M.1371 intervals; the daily share under an overpass from swath and revisit."""
    is_a = np.array([True, True, True, True, False, False])
    anchored = np.array([True, False, False, False, False, False])
    turning = np.array([False, False, False, True, False, False])
    sog = np.array([0.0, 10.0, 18.0, 18.0, 5.0, 1.0])
    assert fleet.report_interval_s(is_a, anchored, turning, sog).tolist() == [180.0, 10.0, 6.0, 2.0, 30.0, 180.0]
    assert fleet.EQUATOR_SHARE == pytest.approx(0.207, abs=1e-3)  # ~ once every 5 days at the equator
    assert fleet.daily_share(np.array([0.0, 60.0, 85.0])) == pytest.approx([0.207, 0.414, 1.0], abs=1e-3)
    spec = fleet.FleetSpec(100_000, 0.01)
    world = World()
    f = fleet.build_fleet(spec, world)
    assert len(np.unique(f.mmsi)) == 1000
    share = fleet.daily_share(f.lat_home).mean()
    assert abs(f.under.mean() - share) < 0.05  # drawn with each vessel's own chance
