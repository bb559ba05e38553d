"""The pipeline's verbs: one function per stage of a daily partition, framework-free.

Each takes the config, the dataset root's storage, the day and the upstream tables, and returns the
stage's table with the facts worth recording beside it (counts, paths). The Dagster assets are one
call each into these; a script or a notebook can run the same stages without Dagster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from shipchips_core.ais import archives, fact_limits, vessels
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.catalog import qa_report as qa
from shipchips_core.catalog.tile_index import build_tile_index
from shipchips_core.chips import cleanup
from shipchips_core.chips.job import ChipJob, ProgressFn, cut_partition
from shipchips_core.config import Config
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage, Location
from shipchips_core.matching import reach
from shipchips_core.matching.candidates import fix_windows, match_candidates, pairs_in_window
from shipchips_core.plan import overpass, pending
from shipchips_core.plan.acquisition import plan_from_vessels, search_window, vessel_fixes
from shipchips_core.plan.status import resolve_plan
from shipchips_core.sentinel2 import radiometry_check, search


# a day's AIS: the stored partition's lazy handle (what the assets get), or a frame (a small day, a test)
AisInput = AisDataset | pd.DataFrame


@dataclass(frozen=True)
class StageResult:
    table: pd.DataFrame | AisDataset  # ais_snapshots: a handle on the validated file, staged to be stored
    counts: dict[str, int] = field(default_factory=dict)  # what the stage kept, dropped and why
    facts: dict[str, object] = field(default_factory=dict)  # other things worth recording (origins, paths)


def _counts(counter) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(counter.items())}


def ais_snapshots(cfg: Config, storage: LocalStorage, day: date) -> StageResult:
    """Every cleaned AIS position of the day inside the areas, with static data joined: from the day's
    archive file when `ais.archives` covers the day, else from the collector's landing files. Streamed
    into a staged file beside the partition (validated before it appears); the IO manager stores it."""
    staged = AisDataset.staged(storage, day)
    counts, origin = archives.build_day(storage, cfg.ais, day, cfg.areas, staged.path)
    return StageResult(staged, _counts(counts), {"ais_origin": origin})


def _last_reports(ais: AisInput) -> pd.DataFrame:
    """Each vessel's last report: all `latest_vessel_facts` looks at (chips, tile index)."""
    return ais.last_reports() if isinstance(ais, AisDataset) else ais


def acquisition_plan(cfg: Config, storage: LocalStorage, day: date, ais: AisInput) -> StageResult:
    """One row per vessel: its expected overpass window, predicted from the catalogue's acquisitions of the
    `plan.history_days` before the day (solar-time rule as fallback); rewrites `plan/pending.csv`."""
    history = None
    if not ais.empty:  # a day without vessels searches nothing
        history = overpass.search_history(cfg.stac, cfg.areas_bbox, day, cfg.plan.history_days)
    per_vessel = ais.vessel_fixes() if isinstance(ais, AisDataset) else vessel_fixes(ais)
    df = plan_from_vessels(per_vessel, day, cfg.plan, cfg.matching, history)
    facts = {
        "pending_csv_rows": pending.write_pending_csv(storage, day, df),
        "history_acquisitions": 0 if history is None else len(history),
    }
    counts = Counter({f"overpass_source/{k}": v for k, v in Counter(df["overpass_source"]).items()})
    counts.update(vessels.fact_counts(vessels.latest_vessel_facts(_last_reports(ais))))  # the vessels' facts a label cannot trust
    return StageResult(df, _counts(counts), facts)


def scene_metadata(cfg: Config, plan: pd.DataFrame) -> StageResult:
    """The L2A scenes covering the plan from every configured STAC API, one row per item (invalid
    items with a reason), each valid one's radiometry rule checked on its own dark pixels
    (`chips.radiometry_check`)."""
    window = search_window(plan)
    if window is None:
        return StageResult(schemas.empty_frame("s2_scene_metadata"))
    rows = search.scene_rows(search.search_items(cfg.stac, cfg.areas_bbox, *window), cfg.chips.band_assets)
    rows = radiometry_check.verify_scenes(rows, cfg.chips.radiometry_check)
    counts = Counter(f"status/{s}" for s in rows["status"])
    counts.update(f"radiometry/{v}" for v in rows["radiometry_verdict"].dropna())
    return StageResult(rows, _counts(counts))


def chip_candidates(cfg: Config, plan: pd.DataFrame, scenes: pd.DataFrame, ais: AisInput) -> StageResult:
    """Every (planned vessel, scene in its window whose footprint its track can reach) pair with the ship's
    position at sensing time and whether it can be chipped (`match_status`, e.g. `outside_footprint`);
    the pairs left out are counted as `pairs_beyond_reach`. From a stored day it reads only
    the candidates' vessels' fixes within FIX_WINDOW_MARGIN_S of their scenes (and one either side)."""
    order = cfg.stac.collection_order
    if isinstance(ais, AisDataset):
        bounds = ais.track_bounds()
        ais = ais.fixes_near(fix_windows(plan, scenes, order, bounds, cfg.matching.max_gap_seconds))
    else:
        bounds = reach.track_bounds(ais)
    df = match_candidates(plan, scenes, ais, cfg.matching, order, bounds)
    counts = Counter(f"match_status/{s}" for s in df["match_status"])
    counts["pairs_beyond_reach"] = pairs_in_window(plan, scenes, order) - len(df)  # never paired (`reach`)
    return StageResult(df, _counts(counts))


def chips(
    cfg: Config, storage: LocalStorage, day: date, candidates: pd.DataFrame, scenes: pd.DataFrame, ais: AisInput,
    progress: ProgressFn | None = None,
) -> StageResult:
    """Cut every candidate placed inside its scene: one row per attempt (ok / dropped / failed + reason).
    `progress(done, planned)` is told as attempts finish (for a bar; off by default)."""
    df, not_attempted = cut_partition(ChipJob(storage, day, cfg), candidates, scenes, _last_reports(ais), progress)
    outcome = Counter(df["status"]) + Counter({f"reason/{r}": n for r, n in Counter(df["reason"].dropna()).items()})
    return StageResult(df, _counts(outcome + not_attempted + dropped_fact_counts(df)))


def dropped_fact_counts(chips_table: pd.DataFrame) -> Counter:
    """Per fact and reason, the ok chips whose label has it nulled (`dropped_fact/<fact>/<reason>`)."""
    ok = chips_table.loc[chips_table["status"] == "ok", "dropped_facts"]
    return Counter(f"dropped_fact/{f}/{r}" for text in ok for f, r in fact_limits.parse_dropped(text).items())


def plan_status(
    storage: LocalStorage, day: date, plan: pd.DataFrame, candidates: pd.DataFrame, chips_table: pd.DataFrame
) -> StageResult:
    """The day's plan with every row's outcome; the day leaves `plan/pending.csv`."""
    resolved = resolve_plan(plan, candidates, chips_table)
    return StageResult(resolved, _counts(Counter(resolved["status"])), {"pending_csv_rows": pending.write_pending_csv(storage, day, None)})


def tile_index(chips_table: pd.DataFrame, scenes: pd.DataFrame, ais: AisInput, chip_size: int = 256) -> StageResult:
    """One row per chip written, with scene and vessel facts and its GeoParquet geometry."""
    return StageResult(build_tile_index(chips_table, scenes, _last_reports(ais), chip_size=chip_size))


def qa_report(
    storage: LocalStorage, day: date, ais: AisInput, plan: pd.DataFrame, scenes: pd.DataFrame, chips_table: pd.DataFrame,
    candidates: pd.DataFrame | None = None, ais_drops: dict[str, int] | None = None,
) -> StageResult:
    """`QA/reports/{day}.html` and its one-row summary; `plan` is the resolved plan (`plan_status`),
    `ais_drops` the `ais_snapshots` stage's counts (its drop reasons open the data quality funnel).
    A stored day is queried for its counts, vessel facts and thinned tracks, never read whole."""
    summary = qa.build_qa_report(day, ais=ais, plan=plan, scenes=scenes, chips=chips_table, storage=storage,
                                 candidates=candidates, ais_drops=ais_drops)
    return StageResult(summary, facts={"report": Location(storage.location(summary["report_path"].iloc[0]))})


def orphan_cleanup(storage: LocalStorage, day: date, chips_table: pd.DataFrame, tiles: pd.DataFrame) -> StageResult:
    """Once the day's `chips` table and tile index are stored: remove the day's chip and label files
    neither references (a re-run that made fewer chips) and stale temporaries of killed runs."""
    done = cleanup.remove_orphans(storage, day, chips_table, tiles)
    return StageResult(pd.DataFrame(), {"orphans_removed": len(done.orphans), "temporaries_removed": len(done.temporaries),
                                        "live_temporaries_kept": len(done.kept_live_temporaries)})
