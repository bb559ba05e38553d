"""A day's funnel: AIS positions → vessels → plan → scenes → candidates → chips, each stage with what
it kept and its loss reasons; read back from the stored tables (the demo's summary) or from the
tables in hand (the QA report's data quality section)."""

from __future__ import annotations

import io

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from shipchips_core.ais.clean import DROP_REASONS
from shipchips_core.ais.day_view import AisDayView, day_view
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage


@dataclass(frozen=True)
class Stage:
    name: str
    rows: int  # what the stage holds
    kept: int  # what goes on to the next stage
    losses: Counter = field(default_factory=Counter)  # reason → rows lost


def _table(storage: LocalStorage, dataset: str, day: date) -> pd.DataFrame:
    rel = paths.partition_file(dataset, day)
    return pd.read_parquet(io.BytesIO(storage.read_bytes(rel))) if storage.exists(rel) else pd.DataFrame()


def _reason(text) -> str:
    """A reason's kind: `scene_unreadable: <error>` counts as `scene_unreadable`."""
    return str(text).split(":", 1)[0]


def _stage(name: str, df: pd.DataFrame, status: str, ok: str, reason: str | None = None) -> Stage:
    if df.empty:
        return Stage(name, 0, 0)
    lost = df[df[status] != ok]
    labels = lost[status] if reason is None else lost[reason].fillna(lost[status]).map(_reason)
    return Stage(name, len(df), int((df[status] == ok).sum()), Counter(labels))


def funnel(ais: AisDayView | AisDataset | pd.DataFrame, plan: pd.DataFrame, scenes: pd.DataFrame, candidates: pd.DataFrame,
           chips: pd.DataFrame, ais_drops: dict[str, int] | None = None) -> list[Stage]:
    """The day's stages from its tables (`plan` is the resolved plan, `plan_status`); `ais_drops`, the
    cleaning's drop counts by reason (the `ais_snapshots` asset's), are the AIS stage's losses."""
    ais = day_view(ais)
    vessels = ais.n_vessels
    lost_ais = Counter({k: int(v) for k, v in (ais_drops or {}).items()
                        if int(v) > 0 and (k in DROP_REASONS or k.startswith("malformed_"))})
    return [
        Stage("AIS positions", ais.n_positions + sum(lost_ais.values()), ais.n_positions, lost_ais),
        Stage("vessels", vessels, len(plan), Counter({"not planned": vessels - len(plan)}) if vessels > len(plan) else Counter()),
        _stage("plan", plan, "status", "matched"),
        _stage("scenes", scenes, "status", "ok", "reason"),
        _stage("candidates", candidates, "match_status", "ok"),
        _stage("chips", chips, "status", "ok", "reason"),
    ]


def day_summary(storage: LocalStorage, day: date) -> list[Stage]:
    """The day's stages from what is stored (nothing recomputed)."""
    table = lambda name: _table(storage, paths.table_dataset(name), day)  # noqa: E731
    ais_rel = paths.partition_file(paths.AIS_OBSERVATIONS_INDEX, day)  # counted in SQL, never read whole
    ais = AisDataset.of_stored(storage, ais_rel) if storage.exists(ais_rel) else pd.DataFrame(columns=["mmsi"])
    return funnel(ais, table("plan_status"), table("s2_scene_metadata"), table("chip_candidates"), table("chips"))


def format_summary(stages: list[Stage], top: int = 3) -> str:
    """A plain-text table: stage, rows, kept, top loss reasons."""
    lines = [f"{'stage':<14} {'rows':>8} {'kept':>8}  top losses", "-" * 64]
    for s in stages:
        losses = ", ".join(f"{reason} {n}" for reason, n in s.losses.most_common(top)) or "-"
        lines.append(f"{s.name:<14} {s.rows:>8,} {s.kept:>8,}  {losses}")
    return "\n".join(lines)
