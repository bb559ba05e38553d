"""The daily QA report: one self-contained HTML page for people, and one summary row for machines.

`build_qa_report` reads a day's AIS (its counts, vessel facts and map tracks through `ais.day_view`:
a stored day is queried, never loaded whole), acquisition plan, scenes and chip attempts, writes
`QA/reports/{day}.html` (inline CSS, figures as base64 PNG, no external assets, no timestamps, so
the same inputs give byte-identical output) and returns a one-row `qa_summary` table. Every string
taken from the data is HTML-escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from html import escape

import pandas as pd

from shipchips_core.ais.day_view import AisDayView, day_view
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.catalog import qa_figures, qa_quality
from shipchips_core.catalog.qa_html import figure as _figure
from shipchips_core.catalog.qa_html import note as _note
from shipchips_core.catalog.qa_html import table as _table
from shipchips_core.dataset import paths, schemas

UNSPECIFIED = "unspecified"
MAX_VESSEL_ROWS = 500

CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; }
td.num { text-align: right; }
img { max-width: 100%; border: 1px solid #ddd; }
.note { color: #666; font-style: italic; }
"""


def _as_date(day: date | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def _count(series: pd.Series, value: str) -> int:
    return int(series.eq(value).sum())


def reason_counts(chips: pd.DataFrame, drop_counts: dict[str, int] | None = None) -> dict[str, Counter]:
    """Counts by reason from three sources: dropped chips, failed chips and upstream `drop_counts`."""
    reasons = chips["reason"].fillna(UNSPECIFIED).astype(str)
    upstream = Counter()
    for reason, n in (drop_counts or {}).items():
        if int(n) < 0:
            raise ValueError(f"drop_counts[{reason!r}] is negative: {n}")
        upstream[str(reason)] += int(n)
    return {
        "dropped": Counter(reasons[chips["status"].eq("dropped")]),
        "failed": Counter(reasons[chips["status"].eq("failed")]),
        "upstream": upstream,
    }


def drop_reasons(chips: pd.DataFrame, drop_counts: dict[str, int] | None = None) -> dict[str, int]:
    """Sorted reason → count over dropped/failed chips plus upstream counts (zero counts left out)."""
    by_source = reason_counts(chips, drop_counts)
    total = by_source["dropped"] + by_source["failed"] + by_source["upstream"]
    return dict(sorted(total.items()))


def _time(ts) -> str | None:
    return None if pd.isna(ts) else pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def _headline(summary: dict, plan: pd.DataFrame) -> str:
    rows = [
        ("AIS positions", summary["n_ais_positions"]),
        ("Vessels (AIS)", summary["n_vessels"]),
        ("Plan rows", summary["n_plan_rows"]),
        *[(f"Plan rows: {s}", _count(plan["status"], s)) for s in schemas.PLAN_STATUSES],
        ("Scenes found", summary["n_scenes"]),
        ("Scenes ok", summary["n_scenes"] - summary["n_scenes_invalid"]),
        ("Scenes invalid", summary["n_scenes_invalid"]),
        ("Chip attempts", summary["n_chip_attempts"]),
        ("Chips ok", summary["n_chips"]),
        ("Chips dropped", summary["n_dropped"]),
        ("Chips failed", summary["n_failed"]),
    ]
    body = "".join(f'<tr><th>{escape(k)}</th><td class="num">{v}</td></tr>\n' for k, v in rows)
    return f"<table>\n{body}</table>"


def _reasons_section(chips: pd.DataFrame, drop_counts: dict[str, int] | None) -> str:
    by_source = reason_counts(chips, drop_counts)
    total = drop_reasons(chips, drop_counts)
    if not total:
        return _note("No chip was dropped or failed, and no upstream drops were reported.")
    rows = [[r, by_source["dropped"][r], by_source["failed"][r], by_source["upstream"][r], n] for r, n in total.items()]
    return _table(["reason", "chips dropped", "chips failed", "upstream (AIS, plan, ...)", "total"], rows)


def _scenes_section(scenes: pd.DataFrame, chips: pd.DataFrame) -> str:
    if scenes.empty:
        return _note("No scenes were found for this day.")
    ok = chips[chips["status"].eq("ok")]
    made = ok.groupby(["collection", "scene_id"]).size().to_dict()
    rows = [
        [s.scene_id, s.collection, _time(s.datetime), None if pd.isna(s.cloud_cover) else float(s.cloud_cover),
         s.radiometry_rule, s.status, s.reason, int(made.get((s.collection, s.scene_id), 0))]
        for s in scenes.sort_values(["datetime", "collection", "scene_id"]).itertuples(index=False)
    ]
    headers = ["scene id", "collection", "datetime", "cloud cover (%)", "radiometry rule", "status", "reason",
               "chips made"]
    return _table(headers, rows)


def _vessels_section(ais: AisDayView, plan: pd.DataFrame, chips: pd.DataFrame) -> str:
    positions = ais.positions_per_vessel
    mmsis = sorted(set(positions.index) | set(plan["mmsi"]) | set(chips["mmsi"]))
    if not mmsis:
        return _note("No vessels for this day.")
    latest = ais.vessels.set_index("mmsi")
    names = latest["ship_name"].astype(object).where(latest["ship_name"].notna(), None).to_dict()
    types = latest["ship_type"].to_dict()
    plans = plan.groupby("mmsi").size()
    made = chips[chips["status"].eq("ok")].groupby("mmsi").size()
    rows = [
        [int(m), names.get(m), None if pd.isna(types.get(m, pd.NA)) else int(types[m]),
         int(positions.get(m, 0)), int(plans.get(m, 0)), int(made.get(m, 0))]
        for m in mmsis[:MAX_VESSEL_ROWS]
    ]
    more = _note(f"{len(mmsis) - MAX_VESSEL_ROWS} more vessels not shown.") if len(mmsis) > MAX_VESSEL_ROWS else ""
    return _table(["MMSI", "name", "ship type", "AIS positions", "plan rows", "chips ok"], rows) + more


def _chip_figures(chips: pd.DataFrame, storage) -> str:
    if chips.empty:
        return _note("No chip attempts for this day: no QA histograms and no quicklooks.")
    sheet, skipped = qa_figures.contact_sheet(chips, storage)
    parts = [
        "<h3>QA fractions and label uncertainty</h3>",
        _figure(qa_figures.histogram_figure(chips), "histograms of chip QA fractions and uncertainty", "No chips."),
        f"<h3>Quicklooks (up to {qa_figures.MAX_QUICKLOOKS} ok chips, by tile id)</h3>",
        _figure(sheet, "contact sheet of chip quicklooks", "No quicklook available."),
    ]
    if skipped:
        parts.append(_note(f"{len(skipped)} quicklook(s) missing or unreadable, skipped:"))
        parts.append("<ul>" + "".join(f"<li>{escape(p)}</li>" for p in skipped) + "</ul>")
    return "\n".join(parts)


def render_html(day: date, summary: dict, *, ais, plan, scenes, chips, storage, drop_counts=None, candidates=None,
                ais_drops=None) -> str:
    title = f"shipchips QA report: {day.isoformat()}"
    map_png = qa_figures.map_figure(ais.tracks, chips, scenes)
    body = [
        f"<h1>{escape(title)}</h1>",
        "<h2>Headline counts</h2>", _headline(summary, plan),
        "<h2>Drop and failure reasons</h2>", _reasons_section(chips, drop_counts),
        "<h2>Map</h2>", _figure(map_png, "map of AIS tracks, chip centres and scene footprints", "Nothing to map."),
        "<h2>Chips</h2>", _chip_figures(chips, storage),
        "<h2>Scenes</h2>", _scenes_section(scenes, chips),
        "<h2>Data quality</h2>",
        qa_quality.quality_section(ais, plan, scenes, schemas.empty_frame("chip_candidates") if candidates is None
                                   else candidates, chips, ais_drops),
        "<h2>Vessels</h2>", _vessels_section(ais, plan, chips),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def build_qa_report(
    day: date | str,
    *,
    ais: AisDayView | AisDataset | pd.DataFrame,
    plan: pd.DataFrame,
    scenes: pd.DataFrame,
    chips: pd.DataFrame,
    storage,
    drop_counts: dict[str, int] | None = None,
    candidates: pd.DataFrame | None = None,
    ais_drops: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Write `QA/reports/{day}.html` under `storage` and return the day's one-row `qa_summary` table.

    `n_scenes` counts every scene row (ok and invalid); `n_scenes_invalid` the invalid ones.
    `drop_counts` adds upstream drop counts (e.g. AIS cleaning reasons) to `drop_reasons_json`.
    `candidates` (`chip_candidates`) and `ais_drops` (the AIS cleaning's counts) complete the data
    quality section's funnel.
    """
    day, ais = _as_date(day), day_view(ais)
    rel = paths.qa_report(day)
    summary = {
        "n_ais_positions": ais.n_positions,
        "n_vessels": ais.n_vessels,
        "n_plan_rows": len(plan),
        "n_scenes": len(scenes),
        "n_scenes_invalid": _count(scenes["status"], "invalid"),
        "n_chip_attempts": len(chips),
        "n_chips": _count(chips["status"], "ok"),
        "n_dropped": _count(chips["status"], "dropped"),
        "n_failed": _count(chips["status"], "failed"),
        "drop_reasons_json": json.dumps(drop_reasons(chips, drop_counts)),
        "report_path": rel,
    }
    html = render_html(day, summary, ais=ais, plan=plan, scenes=scenes, chips=chips, storage=storage,
                       drop_counts=drop_counts, candidates=candidates, ais_drops=ais_drops)
    storage.write_bytes(rel, html.encode("utf-8"))
    return schemas.validate("qa_summary", pd.DataFrame([summary], columns=list(schemas.QA_SUMMARY.columns)))
