"""End to end on the offline twin: AIS over websockets → chips → index → QA report, for the sample day."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from shipchips_core.ais.clean import DROP_REASONS
from shipchips_core.dataset import paths
from shipchips_twin.world import SAMPLE_DAY

pytestmark = pytest.mark.slow


def _table(run, rel_dataset: str) -> pd.DataFrame:
    return pd.read_parquet(run.storage.path(paths.partition_file(rel_dataset, SAMPLE_DAY)))


def test_run_succeeds_with_every_check_passing(pipeline_run):
    assert pipeline_run.result.success and pipeline_run.whole_result.success
    checks = pipeline_run.result.get_asset_check_evaluations()
    assert checks, "asset checks ran"
    assert all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]


def test_every_chip_is_256_float32_utm_and_centred_on_the_true_ship(pipeline_run):
    world, storage = pipeline_run.world, pipeline_run.storage
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    assert len(tiles) >= 40, "most of the ~67 ships in the two granules are chipped"
    for row in tiles.itertuples():
        with rasterio.open(storage.path(row.tif_path)) as ds:
            assert (ds.width, ds.height, ds.count) == (256, 256, 4)
            assert set(ds.dtypes) == {"float32"}
            assert ds.crs.to_epsg() == row.epsg == 32631
            assert ds.descriptions == ("B02", "B03", "B04", "B08")
            acq = next(a for a in world.acquisitions if a.sensing_time == row.acq_time.to_pydatetime())
            _, x, y = world.imaged_at(world.vessel(int(row.mmsi)), acq, "B02")  # where MSI saw it in B02
            col, r = ~ds.transform @ (float(x), float(y))
        parity = json.loads(storage.read_bytes(row.label_path))["sensing"]["detector_parity"]
        # the chip centre is the corner between pixels 127 and 128 on both axes; where the granule
        # metadata leaves the detector unknown, B02 saw the ship up to 1.3 s (1.3 px at 20 kn) off the mean
        assert np.hypot(col - 128, r - 128) <= (1.0 if parity else 2.0), (row.tile_id, col, r, parity)


def test_chips_show_reflectance_not_dn(pipeline_run):
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    clear = tiles[(tiles.cloud_fraction == 0) & (tiles.water_fraction > 0.9)].iloc[0]
    with rasterio.open(pipeline_run.storage.path(clear.tif_path)) as ds:
        blue = ds.read(1)
    # open water in the twin is ~0.045 blue reflectance (DN 450): DN/10000, not (DN-1000)/10000
    assert 0.03 < float(np.nanmedian(blue)) < 0.06


def test_index_has_one_row_per_ok_chip_and_files_per_spec_layout(pipeline_run):
    chips = _table(pipeline_run, paths.table_dataset("chips"))
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    ok = chips[chips.status == "ok"]
    assert sorted(ok.tile_id) == sorted(tiles.tile_id)
    row = tiles.iloc[0]
    day = SAMPLE_DAY.isoformat()
    assert row.tif_path == f"chips/{row.split}/{row.mmsi}/{day}/{row.tile_id}.tif"
    assert row.label_path == f"labels/{row.split}/{row.mmsi}/{day}/{row.tile_id}_label.json"
    label = json.loads(pipeline_run.storage.read_bytes(row.label_path))
    assert label["mmsi"] == row.mmsi
    assert abs(label["ship_center"]["pixel"]["row"] - 128) <= 0.5
    assert pipeline_run.storage.exists(row.quicklook_path)


def test_qa_report_written_with_a_figure(pipeline_run):
    html = pipeline_run.storage.read_bytes(paths.qa_report(SAMPLE_DAY)).decode()
    assert "data:image/png;base64," in html
    summary = _table(pipeline_run, paths.table_dataset("qa_report"))
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    assert summary.n_chips.iloc[0] == len(tiles)


def test_qa_funnel_opens_with_the_ais_cleaning_losses_the_asset_recorded(pipeline_run):
    """The qa_report asset reads ais_snapshots' recorded counts: the funnel's AIS row holds what was read."""
    (event,) = pipeline_run.result.asset_materializations_for_node("ais_snapshots")
    counts = {k.split("/", 1)[1]: v.value for k, v in event.metadata.items() if k.startswith("count/")}
    ais = _table(pipeline_run, paths.AIS_OBSERVATIONS_INDEX)
    html = pipeline_run.storage.read_bytes(paths.qa_report(SAMPLE_DAY)).decode()
    funnel = html[html.index("<h3>Funnel: AIS fixes to chips</h3>"):]
    drops = {r: n for r, n in counts.items() if n and (r in DROP_REASONS or r.startswith("malformed_"))}
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(drops.items(), key=lambda kv: (-kv[1], kv[0])))
    lost = sum(drops.values())
    assert counts["positions_kept"] == len(ais)
    assert (f'<tr><td>AIS positions</td><td class="num">{len(ais) + lost}</td><td class="num">{len(ais)}</td>'
            f'<td class="num">{lost}</td>' + (f"<td>{reasons}</td>" if reasons else "<td></td>") + "</tr>") in funnel


def test_daily_sql_model_counts_the_days_chips(pipeline_run):
    model = _table(pipeline_run, "models/daily_chip_summary")
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    assert model.chips.iloc[0] == len(tiles)
    assert model.vessels.iloc[0] == tiles.mmsi.nunique()


def test_plan_predicts_the_overpass_from_the_catalogue_history(pipeline_run):
    """The twin's catalogue holds the granules 5 days earlier: the plan's expected overpass is the true
    acquisition time of the vessel's granule on the day, not the solar-time estimate."""
    plan = _table(pipeline_run, paths.table_dataset("acquisition_plan")).set_index("mmsi")
    truth = {a.mgrs_tile: a.sensing_time for a in pipeline_run.world.acquisitions if a.sensing_time.date() == SAMPLE_DAY}
    from_history = plan[plan.overpass_source == "catalogue_history"]
    assert len(from_history) >= 40 and set(from_history.mgrs_tile) == set(truth)
    error = (from_history.expected_overpass - from_history.mgrs_tile.map(lambda t: pd.Timestamp(truth[t]))).abs()
    assert (error < pd.Timedelta(minutes=1)).all()
    assert plan.loc[plan.overpass_source == "solar_time", "mgrs_tile"].isna().all()  # only ships under no granule
    # the history granules only predict: the day's scenes and chips are the day's
    scenes = _table(pipeline_run, paths.table_dataset("s2_scene_metadata"))
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    assert set(scenes.datetime.dt.date) == set(tiles.acq_time.dt.date) == {SAMPLE_DAY}


def test_plan_status_says_what_became_of_every_planned_vessel(pipeline_run):
    plan = _table(pipeline_run, paths.table_dataset("acquisition_plan"))
    status = _table(pipeline_run, paths.table_dataset("plan_status"))
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    assert set(plan.status) == {"pending"} and status.plan_id.tolist() == plan.plan_id.tolist()
    matched = set(status.loc[status.status == "matched", "mmsi"])
    assert matched == set(tiles.mmsi)
    assert not (status.status == "pending").any()
    assert pipeline_run.storage.read_bytes("plan/pending.csv").decode().count("\n") == 1  # header only: day resolved


def test_candidates_are_a_table_with_every_pair_and_its_reason(pipeline_run):
    candidates = _table(pipeline_run, paths.table_dataset("chip_candidates"))
    chips = _table(pipeline_run, paths.table_dataset("chips"))
    attempted = candidates[candidates.match_status == "ok"]
    # every ok candidate became a chip attempt; the others are rows with their reason, not only a count
    assert sorted(attempted.mmsi) == sorted(chips.mmsi)
    outside = candidates[candidates.match_status == "outside_footprint"]
    assert len(outside) > 0 and not set(zip(outside.mmsi, outside.scene_id)) & set(zip(chips.mmsi, chips.scene_id))


def test_qa_report_counts_the_plan_outcomes_of_plan_status(pipeline_run):
    status = _table(pipeline_run, paths.table_dataset("plan_status"))
    html = pipeline_run.storage.read_bytes(f"QA/reports/{SAMPLE_DAY.isoformat()}.html").decode()
    matched = int((status.status == "matched").sum())
    assert matched > 0
    assert f'<th>Plan rows: matched</th><td class="num">{matched}</td>' in html
    assert '<th>Plan rows: pending</th><td class="num">0</td>' in html


def test_every_chip_and_label_file_of_the_day_has_its_index_row(pipeline_run):
    storage = pipeline_run.storage
    assert pipeline_run.result.asset_materializations_for_node("orphan_cleanup")
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    files = [p for tree in ("chips", "labels") for p in storage.root.glob(f"{tree}/*/*/{SAMPLE_DAY.isoformat()}/*")]
    assert files and not [p for p in files if p.name.startswith(".")]
    assert {p.name.split(".")[0].split("_")[0] for p in files} == set(tiles.tile_id)


def test_a_hostile_item_and_a_stricter_rerun_leave_a_consistent_day(tmp_path, shipped_config):
    """A day whose catalogue serves an item with `proj:code` as an int succeeds, chipping the acquisition
    from its other collection; re-run with a stricter config, it keeps only files its index points at."""
    import os

    import yaml

    from shipchips_core.ais.stream import run_collector, settings_from_config
    from shipchips_core.config import load_config
    from shipchips_core.dataset.storage import LocalStorage
    from shipchips_dagster.definitions import build_definitions
    from shipchips_twin.session import TWIN_API_KEY, running_twin
    from shipchips_twin.stac_faults import StacFaults
    from shipchips_twin.world import World

    from .conftest import write_config

    world = World()
    bad_id = next(a for a in world.acquisitions if a.sensing_time.date() == SAMPLE_DAY)
    from shipchips_twin.scenes import item_id

    bad = item_id(bad_id, "sentinel-2-c1-l2a")
    faults = StacFaults(tamper={bad: {"properties.proj:code": 32631}})
    config_path = write_config(shipped_config, tmp_path / "config.yaml", tmp_path / "dataset_root")
    saved = dict(os.environ)

    def run(path):
        defs = build_definitions(str(path))
        job = defs.resolve_implicit_global_asset_job_def()
        daily = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[-1] not in ("vessel_coverage", "scene_yield")]
        return job.get_subset(asset_selection=set(daily)).execute_in_process(partition_key=SAMPLE_DAY.isoformat())

    def day_files(storage):
        return [p for tree in ("chips", "labels") for p in storage.root.glob(f"{tree}/*/*/{SAMPLE_DAY.isoformat()}/*")]

    with running_twin(world, tmp_path / "catalog", SAMPLE_DAY, stac_faults=faults) as twin:
        os.environ.update(twin.env())
        try:
            cfg = load_config(config_path)
            storage = LocalStorage(cfg.dataset_root)
            run_collector(settings_from_config(cfg, TWIN_API_KEY), storage, stop_at=twin.ais_end)
            first = run(config_path)
            assert first.success
            scenes = pd.read_parquet(storage.path(paths.partition_file("tables/s2_scene_metadata", SAMPLE_DAY)))
            bad_row = scenes.set_index("scene_id").loc[bad]
            assert bad_row.status == "invalid" and "'proj:code' = 32631 (number)" in bad_row.reason
            chips1 = _table_at(storage, "tables/chips")
            assert bad not in set(chips1.scene_id) and (chips1.status == "ok").sum() > 1
            # stricter: half the matches exceed the uncertainty bound, and no quicklooks
            data = yaml.safe_load(config_path.read_text())
            limit = float(chips1.loc[chips1.status == "ok", "uncertainty_m"].median())
            data.setdefault("matching", {})["max_uncertainty_m"] = limit
            data.setdefault("chips", {})["quicklook"] = False
            strict_path = tmp_path / "strict.yaml"
            strict_path.write_text(yaml.safe_dump(data))
            # a killed run's leftover in a day folder
            some_dir = day_files(storage)[0].parent
            (some_dir / ".x.tif.999999999.1.0.tmp").write_bytes(b"partial")
            second = run(strict_path)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    assert second.success
    tiles = _table_at(storage, paths.TILES_INDEX)
    assert 0 < len(tiles) < (chips1.status == "ok").sum()
    files = day_files(storage)
    assert not [p for p in files if p.name.startswith(".")]
    assert {p.name.split(".")[0].split("_")[0] for p in files} == set(tiles.tile_id)
    assert not [p for p in files if p.name.endswith("_quicklook.jpg")]
    for col in ("tif_path", "meta_path", "label_path"):
        assert all(storage.exists(p) for p in tiles[col])


def _table_at(storage, dataset: str) -> pd.DataFrame:
    return pd.read_parquet(storage.path(paths.partition_file(dataset, SAMPLE_DAY)))


def test_clay_cubes_and_dataset_statistics_for_the_day(pipeline_run):
    import numpy as np
    import yaml

    from shipchips_core.catalog import clay, stats

    storage = pipeline_run.storage
    tiles = _table(pipeline_run, paths.TILES_INDEX)
    cubes = storage.list(clay.EXPORT_DIR, suffix=".npz")
    seen = []
    for rel in cubes:
        split = rel.split("/")[2]
        assert rel.startswith(f"exports/clay/{split}/sentinel-2-l2a/{SAMPLE_DAY.isoformat()}_")
        with np.load(storage.path(rel), allow_pickle=False) as npz:
            assert set(npz["split"]) == {split} and npz["pixels"].dtype == np.float32
            seen += list(npz["tile_id"])
    assert sorted(seen) == sorted(tiles.tile_id)
    doc = stats.read_stats(storage)
    assert doc["days"] == [SAMPLE_DAY.isoformat()] and doc["splits"]["all"]["n_chips"] == len(tiles)
    meta = yaml.safe_load(storage.read_bytes(clay.METADATA_YAML))["sentinel-2-l2a"]
    assert meta["band_order"] == list(pipeline_run.cfg.chips.band_assets)
    assert set(meta["bands"]["shipchips_mean"]) == set(meta["band_order"])


def test_downstream_stages_read_the_lazy_handle_and_get_what_the_whole_day_frame_gave(pipeline_run):
    """The assets got an AisDataset; what each stage read through it equals the whole-day frame's answer,
    so the plan, the candidates (and so the chips' inputs) are those of the frame-based pipeline."""
    from shipchips_core.ais.snapshot_dataset import AisDataset
    from shipchips_core.ais.vessels import latest_vessel_facts
    from shipchips_core.matching.candidates import fix_windows, match_candidates
    from shipchips_core.plan.acquisition import vessel_fixes
    from shipchips_dagster.lib.table_io import conform

    ais = AisDataset.partition(pipeline_run.storage, SAMPLE_DAY)
    whole = ais.frame()
    assert len(whole) > 1000
    pd.testing.assert_frame_equal(ais.vessel_fixes(), vessel_fixes(whole), check_exact=True)
    pd.testing.assert_frame_equal(latest_vessel_facts(ais.last_reports()), latest_vessel_facts(whole))
    plan = conform(_table(pipeline_run, paths.table_dataset("acquisition_plan")), "acquisition_plan")
    scenes = conform(_table(pipeline_run, paths.table_dataset("s2_scene_metadata")), "s2_scene_metadata")
    cfg, order = pipeline_run.cfg, pipeline_run.cfg.stac.collection_order
    bounds = ais.track_bounds()  # the whole day's, as the asset passes them
    near = ais.fixes_near(fix_windows(plan, scenes, order, bounds, cfg.matching.max_gap_seconds))
    assert len(near) < len(whole)  # only the candidates' vessels around their scenes were read
    from_handle = match_candidates(plan, scenes, near, cfg.matching, order, bounds)
    pd.testing.assert_frame_equal(from_handle, match_candidates(plan, scenes, whole, cfg.matching, order))
    assert from_handle["match_status"].eq("ok").sum() > 0
