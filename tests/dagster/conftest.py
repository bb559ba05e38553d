"""A full pipeline run on the offline twin for the sample day, shared by the end-to-end tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from shipchips_core.ais.stream import run_collector, settings_from_config
from shipchips_core.config import Config, load_config
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.session import TWIN_API_KEY, running_twin
from shipchips_twin.world import SAMPLE_DAY, World


@dataclass
class PipelineRun:
    world: World
    cfg: Config
    storage: LocalStorage
    result: dg.ExecuteInProcessResult  # the day's partition of every daily asset
    whole_result: dg.ExecuteInProcessResult  # then every unpartitioned asset
    config_path: Path


def write_config(shipped: Path, dest: Path, dataset_root: Path) -> Path:
    """The shipped config with only the dataset root moved (endpoints come from the twin's env)."""
    data = yaml.safe_load(shipped.read_text())
    data["dataset_root"] = str(dataset_root)
    dest.write_text(yaml.safe_dump(data))
    return dest


@pytest.fixture(scope="package")
def pipeline_run(tmp_path_factory, shipped_config) -> PipelineRun:
    from shipchips_dagster.definitions import build_definitions

    tmp = tmp_path_factory.mktemp("e2e")
    world = World()
    config_path = write_config(shipped_config, tmp / "config.yaml", tmp / "dataset_root")
    saved = dict(os.environ)
    with running_twin(world, tmp / "catalog", SAMPLE_DAY) as twin:
        os.environ.update(twin.env())
        try:
            cfg = load_config(config_path)
            storage = LocalStorage(cfg.dataset_root)
            run_collector(settings_from_config(cfg, TWIN_API_KEY), storage, stop_at=twin.ais_end)
            defs = build_definitions(str(config_path))
            job = defs.resolve_implicit_global_asset_job_def()
            graph = defs.resolve_asset_graph()  # the daily assets (the unpartitioned ones see all days)
            selection = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None]
            result = job.get_subset(asset_selection=set(selection)).execute_in_process(partition_key=SAMPLE_DAY.isoformat())
            # then the assets that see every day (SQL models, STAC collection, statistics, Clay metadata)
            whole = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is None]
            whole_result = job.get_subset(asset_selection=set(whole)).execute_in_process()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return PipelineRun(world=world, cfg=cfg, storage=storage, result=result, whole_result=whole_result,
                       config_path=config_path)
