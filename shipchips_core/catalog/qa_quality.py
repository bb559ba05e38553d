"""The QA report's data quality section: where the catalogue's metadata, the sky or AIS were wrong, and
what the pipeline did about it, with the whole day's funnel.

Subsections: scenes whose radiometry flag the pixels contradict (`sentinel2.radiometry_check`),
chips dropped for corrupt bands and as duplicates of one datatake, vessel facts nulled by
`ais/fact_limits.py` and sizes whose two sources disagree, and the funnel AIS fixes → vessels →
plan → scenes → candidates → chips (`day_summary.funnel`) as a figure and a table.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from shipchips_core.ais import fact_limits
from shipchips_core.ais.day_view import AisDayView
from shipchips_core.catalog import qa_figures
from shipchips_core.catalog.day_summary import Stage, funnel
from shipchips_core.catalog.qa_html import figure, note, table
from shipchips_core.chips.duplicates import REASON as DUPLICATE_DATATAKE

CORRUPT_BAND = "corrupt_band"


def _count(series: pd.Series, value: str) -> int:
    return int(series.eq(value).sum())


def radiometry_section(scenes: pd.DataFrame) -> str:
    """Scenes whose pixels contradict their metadata rule, and those the pixels could not decide."""
    if scenes.empty or "radiometry_verdict" not in scenes:
        return note("No scenes were found for this day.")
    verdicts = scenes["radiometry_verdict"]
    flagged = scenes[verdicts.isin(["contradicts", "undecided"])]
    flagged = flagged.sort_values(["radiometry_verdict", "collection", "scene_id"])
    checked = int(verdicts.isin(["agrees", "contradicts", "undecided"]).sum())
    if not checked:
        return note("The scenes' radiometry was not checked on their pixels (chips.radiometry_check: off).")
    head = note(f"{checked} scene(s) checked on their dark pixels: {_count(verdicts, 'agrees')} agree with their "
                 f"metadata, {_count(verdicts, 'contradicts')} contradict it, {_count(verdicts, 'undecided')} undecided "
                 "(metadata rule kept).")
    if flagged.empty:
        return head
    rows = [[s.scene_id, s.collection, None if pd.isna(s.boa_offset_applied) else bool(s.boa_offset_applied),
             s.metadata_rule, s.radiometry_verdict, s.radiometry_rule, s.radiometry_evidence]
            for s in flagged.itertuples(index=False)]
    headers = ["scene id", "collection", "boa_offset_applied flag", "metadata rule", "pixel verdict", "rule applied",
               "evidence"]
    return head + "\n" + table(headers, rows)


def _dropped_chips(chips: pd.DataFrame, reason: str, extra: dict[str, str]) -> str:
    rows = chips[chips["reason"].eq(reason)].sort_values("tile_id")
    if rows.empty:
        return note(f"No chip was dropped as {reason}.")
    cols = {"tile_id": "tile id", "mmsi": "MMSI", "scene_id": "scene id", "collection": "collection", **extra}
    head = note(f"{len(rows)} chip(s) dropped as {reason}.")
    cells = [[getattr(r, c) for c in cols] for r in rows.itertuples(index=False)]
    return head + "\n" + table(list(cols.values()), cells)


def nulled_fact_counts(vessels: pd.DataFrame, chips: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(fact, reason) → (vessels of the day with it nulled, ok chips whose label has it nulled)."""
    per_vessel = Counter((f, r) for d in vessels["dropped_facts"] for f, r in d.items())
    ok = chips.loc[chips["status"].eq("ok"), "dropped_facts"] if "dropped_facts" in chips else pd.Series(dtype=object)
    per_label = Counter((f, r) for text in ok for f, r in fact_limits.parse_dropped(text).items())
    return {k: (per_vessel[k], per_label[k]) for k in sorted(per_vessel.keys() | per_label.keys())}


def facts_section(ais: AisDayView, chips: pd.DataFrame) -> str:
    """Facts nulled per reason (vessels and labels), then every vessel whose two sizes disagree."""
    vessels = ais.vessels
    counts = nulled_fact_counts(vessels, chips)
    limits = (f"limits: length {fact_limits.MIN_LENGTH_M:g}-{fact_limits.MAX_LENGTH_M:g} m, beam "
              f"{fact_limits.MIN_BEAM_M:g}-{fact_limits.MAX_BEAM_M:g} m and not above the length, heading "
              f"{fact_limits.HEADING_NOT_AVAILABLE} is not available, "
              f"no course below {fact_limits.MIN_SOG_FOR_COG_KN:g} kn")
    parts = [note(limits)]
    if counts:
        rows = [[fact, reason, n_v, n_l] for (fact, reason), (n_v, n_l) in counts.items()]
        parts.append(table(["fact", "reason", "vessels", "chip labels"], rows))
    else:
        parts.append(note("No vessel fact was nulled."))
    disagree = [(m, s) for m, s in zip(vessels["mmsi"], vessels["size_check"])
                if any(v["decision"].startswith("disagree") for v in s.values())]
    if disagree:
        rows = [[int(m), k, v["from_dims_m"], v["reported_m"], v["used"], v["decision"]]
                for m, s in disagree for k, v in s.items() if v["decision"].startswith("disagree")]
        parts.append(note(f"{len(disagree)} vessel(s) whose A/B/C/D and reported Length/Width disagree:"))
        parts.append(table(["MMSI", "size", "from A/B/C/D (m)", "reported (m)", "used", "decision"], rows))
    return "\n".join(parts)


def funnel_section(stages: list[Stage]) -> str:
    png = qa_figures.funnel_figure(stages)
    rows = [[s.name, s.rows, s.kept, s.rows - s.kept,
             ", ".join(f"{r} {n}" for r, n in sorted(s.losses.items(), key=lambda kv: (-kv[1], kv[0])))]
            for s in stages]
    return (figure(png, "the day's funnel: rows held and kept per stage", "Nothing reached any stage.") + "\n"
            + table(["stage", "rows", "kept", "lost", "loss reasons"], rows))


def quality_section(ais: AisDayView, plan: pd.DataFrame, scenes: pd.DataFrame, candidates: pd.DataFrame,
                    chips: pd.DataFrame, ais_drops: dict[str, int] | None = None) -> str:
    stages = funnel(ais, plan, scenes, candidates, chips, ais_drops)
    return "\n".join([
        "<h3>Radiometry checked on the pixels</h3>", radiometry_section(scenes),
        "<h3>Corrupt bands</h3>", _dropped_chips(chips, CORRUPT_BAND, {}),
        "<h3>One chip per ship per datatake</h3>",
        _dropped_chips(chips, DUPLICATE_DATATAKE, {"kept_tile_id": "kept tile id"}),
        "<h3>Vessel facts nulled</h3>", facts_section(ais, chips),
        "<h3>Funnel: AIS fixes to chips</h3>", funnel_section(stages),
    ])
