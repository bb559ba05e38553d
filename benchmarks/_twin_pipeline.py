"""One offline-twin day through the core pipeline, no Dagster: the calls `shipchips_dagster.assets`
makes, in order (AIS landed and cleaned, catalogue history and plan, STAC search, matching, chips).

The AIS messages are the twin's aisstream envelopes for the demo's replay window, written as one
landing file the way the collector lands them, then read back by `archives.build_day`. Scenes are
searched with pystac-client on the twin's STAC API, and chips read its COGs over HTTP.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from shipchips_core.ais import archives
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.matching import candidates as matching
from shipchips_core.plan import acquisition as plan
from shipchips_core.plan import overpass
from shipchips_core.sentinel2 import search as scenes
from shipchips_twin.ais_feed import iter_messages
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.session import replay_window
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World


@dataclass
class DayRun:
    world: World
    day: date
    storage: LocalStorage
    ais: pd.DataFrame
    scenes: pd.DataFrame
    candidates: pd.DataFrame
    chips: pd.DataFrame
    messages: int


def land_ais(world: World, storage: LocalStorage, day: date) -> int:
    """The twin's messages of the replay window as one landing file; returns how many."""
    start, end = replay_window(day)
    lines = [json.dumps(envelope) for _, envelope in iter_messages(world, start, end)]
    first_ms = int(start.timestamp() * 1000)
    storage.write_bytes(f"{paths.ais_landing_dir(day)}/aisstream-{first_ms}-0.jsonl", ("\n".join(lines) + "\n").encode())
    return len(lines)


def areas_bbox(cfg: Config) -> tuple[float, float, float, float]:
    boxes = [a.bbox for a in cfg.areas]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def run_day(world: World, catalog_dir: Path, dataset_root: Path, cfg: Config) -> DayRun:
    """Every stage for the world's (single) day; chips and tables' inputs land under `dataset_root`."""
    day = world.spec.days[0]
    generate_catalog(world, catalog_dir, collections=cfg.stac.collections)  # cached: complete items are kept
    storage = LocalStorage(dataset_root)
    messages = land_ais(world, storage, day)
    staged = AisDataset.staged(storage, day)
    archives.build_day(storage, cfg.ais, day, cfg.areas, staged.path)
    ais = staged.frame()  # a twin day is small: the label benchmark keeps the frame it inspects
    with StacApiTwin(catalog_dir) as api:
        stac = dataclasses.replace(cfg.stac, url=api.url)
        history = overpass.search_history(stac, areas_bbox(cfg), day, cfg.plan.history_days)
        plan_df = plan.build_acquisition_plan(ais, day, cfg.plan, cfg.matching, history)
        scene_df = scenes.scene_rows(scenes.search_items(stac, areas_bbox(cfg), *plan.search_window(plan_df)))
        candidates = matching.match_candidates(plan_df, scene_df, ais, cfg.matching, stac.collections)
        chips, _ = cut_partition(ChipJob(storage, day, cfg), candidates, scene_df, ais)
    return DayRun(world, day, storage, ais, scene_df, candidates, chips, messages)
