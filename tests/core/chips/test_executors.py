"""A twin day's chips cut on a real Dask cluster (a `distributed.LocalCluster`: a scheduler and two
worker processes on loopback): the same rows and bytes as the local executor, and a worker killed
while it cuts a slice costs the day nothing."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest
from distributed import Client, LocalCluster, WorkerPlugin

from benchmarks._twin_pipeline import areas_bbox, land_ais
from shipchips_core.ais.landing_day import build_ais_snapshots
from shipchips_core.chips.executors import SCHEDULER_ENV, scheduler_address
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config, ConfigError
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.matching import candidates as matching
from shipchips_core.plan import acquisition as plan
from shipchips_core.plan import overpass
from shipchips_core.sentinel2 import search
from shipchips_twin.stac_server import StacApiTwin

# the kill plugin travels to the workers by value: they cannot import a test module by name
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@dataclasses.dataclass
class TwinDay:
    cfg: Config
    candidates: pd.DataFrame
    scenes: pd.DataFrame
    ais: pd.DataFrame


@pytest.fixture(scope="module")
def twin_day(tmp_path_factory, twin_world, scene_catalog):
    """The twin's first day through AIS, plan, search and matching, its STAC API (the COGs) kept up."""
    cfg = Config()
    day = twin_world.spec.days[0]
    storage = LocalStorage(tmp_path_factory.mktemp("ais_day"))
    land_ais(twin_world, storage, day)
    ais, _ = build_ais_snapshots(storage, day, cfg.areas)  # the landing files, as a frame (a small day)
    with StacApiTwin(scene_catalog) as api:
        stac = dataclasses.replace(cfg.stac, url=api.url)
        history = overpass.search_history(stac, areas_bbox(cfg), day, cfg.plan.history_days)
        plan_df = plan.build_acquisition_plan(ais, day, cfg.plan, cfg.matching, history)
        scenes = search.scene_rows(search.search_items(stac, areas_bbox(cfg), *plan.search_window(plan_df)))
        candidates = matching.match_candidates(plan_df, scenes, ais, cfg.matching, stac.collections)
        yield TwinDay(cfg, candidates, scenes, ais)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", protocol="tcp") as cluster:
        yield cluster


def _cut(root: Path, day: TwinDay, progress=None, **chips):
    cfg = dataclasses.replace(day.cfg, chips=dataclasses.replace(day.cfg.chips, **chips))
    job = ChipJob(LocalStorage(root), day.candidates["acq_time"].iloc[0].date(), cfg)
    df, _ = cut_partition(job, day.candidates, day.scenes, day.ais, progress)
    return df


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def local_day(tmp_path_factory, twin_day):
    root = tmp_path_factory.mktemp("local")
    return _cut(root, twin_day, workers=1), _files(root)


@pytest.mark.slow
def test_a_day_on_the_cluster_is_byte_identical_to_the_local_run(tmp_path, twin_day, cluster, local_day):
    local, local_files = local_day
    assert (local.status == "ok").sum() >= 10  # a day worth comparing: the twin's lane ships
    dask = _cut(tmp_path, twin_day, executor="dask", dask_scheduler=cluster.scheduler_address,
                min_chips_per_worker=3)
    pd.testing.assert_frame_equal(local, dask)
    files = _files(tmp_path)
    assert sorted(files) == sorted(local_files) and len(files) == 5 * (dask.status == "ok").sum()
    for rel, data in files.items():
        assert data == local_files[rel], rel


class KillOnTask(WorkerPlugin):
    """SIGKILLs the worker process shortly after it starts executing the task whose key ends in
    `-{index}`; once per cluster (the first worker to create `marker` is the one to die)."""

    name = "kill-on-task"

    def __init__(self, index: int, marker: str, delay_s: float = 0.05):
        self.suffix, self.marker, self.delay_s = f"-{index}", marker, delay_s

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or not str(key).endswith(self.suffix):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # the re-run of the killed task, on another (or the restarted) worker
        threading.Timer(self.delay_s, os.kill, (os.getpid(), signal.SIGKILL)).start()


@pytest.mark.slow
def test_a_worker_killed_mid_day_loses_no_chip(tmp_path, twin_day, cluster, local_day):
    local, local_files = local_day
    marker = tmp_path / "killed"
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids_before = set(client.run(os.getpid).values())
        client.register_plugin(KillOnTask(2, str(marker)))
        try:
            root = tmp_path / "root"
            dask = _cut(root, twin_day, executor="dask", dask_scheduler=cluster.scheduler_address,
                        min_chips_per_worker=2)
        finally:
            client.unregister_worker_plugin(KillOnTask.name)
        client.wait_for_workers(2, timeout=60)
        pids_after = set(client.run(os.getpid).values())
    assert marker.exists() and pids_before - pids_after  # a worker died mid-task and the nanny replaced it
    pd.testing.assert_frame_equal(local, dask)
    files = {rel: data for rel, data in _files(root).items() if not Path(rel).name.startswith(".")}
    assert sorted(files) == sorted(local_files)
    for rel, data in files.items():
        assert data == local_files[rel], rel


def test_the_scheduler_comes_from_the_config_else_the_environment():
    chips = Config().chips
    assert scheduler_address(dataclasses.replace(chips, dask_scheduler="tcp://10.0.0.5:8786"),
                             {SCHEDULER_ENV: "tcp://other:8786"}) == "tcp://10.0.0.5:8786"
    assert scheduler_address(chips, {SCHEDULER_ENV: "tcp://dask-scheduler:8786"}) == "tcp://dask-scheduler:8786"
    with pytest.raises(ConfigError, match=f"chips.dask_scheduler .* {SCHEDULER_ENV}"):
        scheduler_address(chips, {})


def test_an_unknown_executor_is_refused_naming_the_choices():
    chips = dataclasses.replace(Config().chips, executor="spark")
    with pytest.raises(ConfigError, match="chips.executor must be 'local' or 'dask', got 'spark'"):
        chips.validate("chips")


@pytest.mark.slow
def test_a_full_disk_on_a_worker_fails_the_day_naming_the_path(tmp_path, twin_day, cluster):
    """An environment fault raised in a task reaches the caller as itself (a StorageFault naming the
    file), not as a failed chip, and the day stops."""
    from shipchips_core.dataset.faults import StorageFault
    from tests.small_fs import small_filesystem

    with small_filesystem(tmp_path / "fs", "1024k") as root:
        with pytest.raises(StorageFault) as info:
            _cut(root, twin_day, executor="dask", dask_scheduler=cluster.scheduler_address, min_chips_per_worker=3)
        assert info.value.errno == 28 and info.value.filename.startswith(str(root))
