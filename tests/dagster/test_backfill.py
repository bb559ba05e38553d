"""`python -m shipchips_dagster.backfill`: the whole graph over a date range, one day at a time."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest
import yaml

from shipchips_core.ais.stream import run_collector, settings_from_config
from shipchips_core.config import CONFIG_ENV, load_config
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_dagster.backfill import WHOLE_GRAPH, backfill, main
from shipchips_dagster.definitions import build_definitions
from shipchips_twin.ais_server import AisStreamTwin
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.session import TWIN_API_KEY, replay_window
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY1 = date(2026, 6, 15)
# two consecutive days over 1024-px granules holding the anchorage and a lane: both days have ships
TWO_DAYS = WorldSpec(days=(DAY1, DAY1 + timedelta(days=1)), granule_px=1024, n_lane_vessels=24, n_anchored=8,
                     n_class_b=6, x_min=555_760.0, x_max=576_240.0, y_min=5_766_000.0, y_max=5_778_000.0)


def test_a_failing_day_is_reported_and_the_other_days_still_run(monkeypatch, tmp_path, shipped_config, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(CONFIG_ENV, str(shipped_config))  # main() points it at --config: restored after the test
    monkeypatch.setenv("SHIPCHIPS__DATASET_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHIPCHIPS__STAC__URL", "http://127.0.0.1:9")  # days without AIS never search
    # 2024-01-02 is read from an archive file that does not exist
    monkeypatch.setenv("SHIPCHIPS__AIS__ARCHIVES", '[{format: noaa, start_date: "2024-01-02", end_date: "2024-01-02", '
                                                   f'location: "{tmp_path}/AIS_{{date:%Y_%m_%d}}.csv"}}]')
    code = main(["--start", "2023-12-31", "--end", "2024-01-03", "--config", str(shipped_config)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [(o["partition"], o["success"]) for o in lines[:-1]] == [
        ("2023-12-31", False), ("2024-01-01", True), ("2024-01-02", False), ("2024-01-03", True), (WHOLE_GRAPH, True)]
    assert "not a daily partition" in lines[0]["error"]
    assert lines[2]["failed_steps"] == ["ais_snapshots"]
    assert lines[2]["error"].startswith("shipchips_core.ais.archives.ArchiveError: AIS archive") and "AIS_2024_01_02.csv" in lines[2]["error"]
    assert lines[-1] == {"failed": ["2023-12-31", "2024-01-02"]}
    plans = tmp_path / "root" / paths.table_dataset("acquisition_plan")
    assert sorted(p.name for p in plans.iterdir()) == ["date=2024-01-01", "date=2024-01-03"]


def test_on_a_terminal_the_days_are_a_bar_and_plain_lines_not_json(monkeypatch, tmp_path, shipped_config, capsys):
    from shipchips_dagster import backfill as module

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(CONFIG_ENV, str(shipped_config))
    monkeypatch.setenv("SHIPCHIPS__DATASET_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHIPCHIPS__STAC__URL", "http://127.0.0.1:9")
    monkeypatch.setattr(module, "is_terminal", lambda stream: True)
    code = main(["--start", "2023-12-31", "--end", "2024-01-01", "--config", str(shipped_config)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""  # nothing for a script on stdout, and no Dagster DEBUG stream
    assert "2023-12-31  FAILED" in err and "not a daily partition" in err
    assert "2024-01-01  ok  (run " in err and "failed: 2023-12-31" in err
    assert "STEP_START" not in err and "{" not in err
    assert "backfill: 2/2 days in " in err


@pytest.mark.slow
def test_two_day_backfill_on_the_twin_fills_both_partitions(monkeypatch, tmp_path, shipped_config):
    world = World(TWO_DAYS)
    generate_catalog(world, tmp_path / "catalog")
    monkeypatch.setenv("SHIPCHIPS__DATASET_ROOT", str(tmp_path / "root"))
    cfg = load_config(shipped_config)
    storage = LocalStorage(cfg.dataset_root)
    for day in TWO_DAYS.days:  # the real collector lands each day's replay window
        start, end = replay_window(day)
        with AisStreamTwin(world, start, end, api_key=TWIN_API_KEY) as ais:
            run_collector(dataclasses.replace(settings_from_config(cfg, TWIN_API_KEY), url=ais.url), storage, stop_at=end)
    with StacApiTwin(tmp_path / "catalog") as stac, dg.instance_for_test() as instance:
        stac_url = stac.url
        monkeypatch.setenv("SHIPCHIPS__STAC__URL", stac_url)
        outcomes = list(backfill(build_definitions(str(shipped_config)), TWO_DAYS.days[0], TWO_DAYS.days[1], instance))
    assert [(o.partition, o.success) for o in outcomes] == [
        (DAY1.isoformat(), True), ((DAY1 + timedelta(days=1)).isoformat(), True), (WHOLE_GRAPH, True)]
    for day in TWO_DAYS.days:
        tiles = pd.read_parquet(storage.path(paths.partition_file(paths.TILES_INDEX, day)))
        scenes = pd.read_parquet(storage.path(paths.partition_file(paths.table_dataset("s2_scene_metadata"), day)))
        assert len(tiles) > 0 and set(tiles.acq_time.dt.date) == {day}
        # both collections found, each acquisition chipped from Collection 1 (listed first)
        assert set(scenes.collection) == {"sentinel-2-c1-l2a", "sentinel-2-l2a"} and set(scenes.stac_api) == {stac_url}
        assert set(tiles.collection) == {"sentinel-2-c1-l2a"}


@pytest.mark.slow
def test_backfill_takes_its_days_from_the_config_it_is_given(tmp_path, shipped_config):
    """--config X is the one source of the resource and the partitions: days before the shipped
    config's start date but within X's are accepted."""
    data = yaml.safe_load(shipped_config.read_text())
    data["partitions"]["start_date"] = "2023-03-01"
    data["dataset_root"] = str(tmp_path / "root")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV and k != "DAGSTER_HOME"}
    env["SHIPCHIPS__STAC__URL"] = "http://127.0.0.1:9"  # days without AIS never search
    out = subprocess.run([sys.executable, "-m", "shipchips_dagster.backfill", "--config", str(config),
                          "--start", "2023-03-01", "--end", "2023-03-02"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert out.returncode == 0, out.stderr[-2000:]
    assert [(o["partition"], o["success"]) for o in lines[:-1]] == [("2023-03-01", True), ("2023-03-02", True), (WHOLE_GRAPH, True)]
    plans = tmp_path / "root" / paths.table_dataset("acquisition_plan")
    assert sorted(p.name for p in plans.iterdir()) == ["date=2023-03-01", "date=2023-03-02"]
