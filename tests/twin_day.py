"""The sample day on the offline twin, ready to materialize: the twin's servers running, the shipped config
with only the dataset root moved, the day's AIS landed by the real collector, the environment pointing the
config at the twin (restored on exit). For tests that run the graph outside tests/dagster's fixture."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from shipchips_core.ais.stream import run_collector, settings_from_config
from shipchips_core.config import CONFIG_ENV, Config, load_config
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.session import TWIN_API_KEY, TwinEndpoints, running_twin
from shipchips_twin.world import SAMPLE_DAY, World


@dataclass(frozen=True)
class TwinDay:
    config_path: Path
    cfg: Config
    storage: LocalStorage
    twin: TwinEndpoints

    def env(self) -> dict[str, str]:
        """What a process running the definitions needs: the config and the twin's endpoints."""
        return {CONFIG_ENV: str(self.config_path), **self.twin.env()}


@contextlib.contextmanager
def twin_day(tmp: Path, shipped_config: Path) -> Iterator[TwinDay]:
    data = yaml.safe_load(shipped_config.read_text())
    data["dataset_root"] = str(tmp / "dataset_root")
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(data))
    saved = dict(os.environ)
    try:
        with running_twin(World(), tmp / "catalog", SAMPLE_DAY) as twin:
            day = TwinDay(config_path, load_config(config_path), LocalStorage(tmp / "dataset_root"), twin)
            os.environ.update(day.env())
            cfg = load_config(config_path)
            run_collector(settings_from_config(cfg, TWIN_API_KEY), day.storage, stop_at=twin.ais_end)
            yield day
    finally:
        os.environ.clear()
        os.environ.update(saved)
