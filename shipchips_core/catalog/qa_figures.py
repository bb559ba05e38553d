"""Figures of the daily QA report, rendered to base64 PNG strings for embedding in the HTML.

Figures are built as `matplotlib.figure.Figure` objects on an Agg canvas, without pyplot: nothing is
registered in pyplot's global figure list (so nothing needs `plt.close` and nothing leaks), and the
process-wide backend is left alone. Output is deterministic: matplotlib's default style with a fixed
size and DPI, a fixed `svg.hashsalt`, and no "Software"/time metadata in the PNG. Text drawn from data
is rendered with mathtext parsing off, so a `$` in a value cannot break a figure.
"""

from __future__ import annotations

import base64
import io
import math
from contextlib import contextmanager
from typing import Iterator

import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter
from PIL import Image
from shapely import wkt as shapely_wkt
from shapely.errors import ShapelyError

DPI = 100
STYLE = ["default", {"svg.hashsalt": "shipchips-qa", "figure.dpi": DPI, "savefig.dpi": DPI, "text.parse_math": False}]
QA_FRACTIONS = ("cloud_fraction", "land_fraction", "water_fraction", "valid_fraction")
HIST_TITLES = {**{c: c.replace("_", " ") for c in QA_FRACTIONS}, "uncertainty_m": "label position uncertainty (m)"}
MAX_QUICKLOOKS = 16


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def _png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def footprint_rings(wkt: str) -> list[np.ndarray]:
    """Exterior rings (N×2 lon/lat arrays) of a WKT (multi)polygon; [] if it cannot be parsed."""
    try:
        geom = shapely_wkt.loads(wkt)
    except (ShapelyError, TypeError, ValueError):
        return []
    polygons = getattr(geom, "geoms", [geom])
    return [np.asarray(p.exterior.coords)[:, :2] for p in polygons if p.geom_type == "Polygon" and not p.is_empty]


def map_figure(tracks: pd.DataFrame, chips: pd.DataFrame, scenes: pd.DataFrame) -> str | None:
    """Lon/lat map: AIS tracks (mmsi, time_utc, lon, lat in (mmsi, time) order, e.g. `AisDayView.tracks`),
    chip centres (ok and dropped/failed) and scene footprints; None if empty."""
    rings = [r for w in scenes["footprint_wkt"].dropna() for r in footprint_rings(str(w))]
    if tracks.empty and chips.empty and not rings:
        return None
    lats = np.concatenate([tracks["lat"].to_numpy(float), chips["lat"].to_numpy(float)] + [r[:, 1] for r in rings])
    with _figure(9, 7) as fig:
        ax = fig.add_subplot()
        for ring in rings:
            ax.plot(ring[:, 0], ring[:, 1], color="tab:green", lw=1.2)
        lon, lat = _broken_at_vessels(tracks)
        ax.plot(lon, lat, "-", color="tab:blue", lw=0.8, marker=".", ms=2, alpha=0.6)
        ok = chips["status"].eq("ok")
        ax.scatter(chips.loc[~ok, "lon"], chips.loc[~ok, "lat"], marker="o", facecolors="none",
                   edgecolors="black", s=40, zorder=3)
        ax.scatter(chips.loc[ok, "lon"], chips.loc[ok, "lat"], marker="x", color="red", s=50, zorder=4)
        ax.legend(handles=[
            Line2D([], [], color="tab:green", label="scene footprint"),
            Line2D([], [], color="tab:blue", marker=".", label="AIS track"),
            Line2D([], [], color="red", marker="x", ls="none", label="chip centre (ok)"),
            Line2D([], [], color="black", marker="o", mfc="none", ls="none", label="chip dropped/failed"),
        ], loc="best", fontsize=8)
        ax.set_aspect(1 / max(math.cos(math.radians(float(np.nanmean(lats)))), 0.1), adjustable="datalim")
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        ax.grid(alpha=0.3)
        return _png_base64(fig)


def _broken_at_vessels(tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """All tracks as one polyline, a NaN gap between vessels: one artist however many vessels a day has."""
    mmsi = tracks["mmsi"].to_numpy()
    starts = np.flatnonzero(np.r_[False, mmsi[1:] != mmsi[:-1]])
    gap = lambda col: np.insert(tracks[col].to_numpy(float), starts, np.nan)  # noqa: E731
    return gap("lon"), gap("lat")


def histogram_figure(chips: pd.DataFrame) -> str | None:
    """Histograms of the chip QA fractions and of label uncertainty, ok vs dropped/failed; None if no chips."""
    if chips.empty:
        return None
    ok = chips["status"].eq("ok")
    u_max = float(np.nanmax(chips["uncertainty_m"].to_numpy(float), initial=0.0))
    with _figure(12, 6.5) as fig:
        axes = fig.subplots(2, 3)
        for ax, col in zip(axes.flat, QA_FRACTIONS + ("uncertainty_m",)):
            bins = np.linspace(0, max(u_max, 1.0), 21) if col == "uncertainty_m" else np.linspace(0, 1, 21)
            groups = [chips.loc[ok, col].dropna().to_numpy(float), chips.loc[~ok, col].dropna().to_numpy(float)]
            ax.hist(groups, bins=bins, stacked=True, color=["tab:blue", "tab:orange"], label=["ok", "dropped/failed"])
            ax.set_title(HIST_TITLES[col])
            ax.set_ylabel("chips")
        axes.flat[0].legend(fontsize=8)
        axes.flat[-1].set_visible(False)
        return _png_base64(fig)


def contact_sheet(chips: pd.DataFrame, storage, limit: int = MAX_QUICKLOOKS) -> tuple[str | None, list[str]]:
    """Grid of up to `limit` quicklooks of ok chips (by tile_id); returns (png or None, paths that were skipped)."""
    candidates = chips[chips["status"].eq("ok") & chips["quicklook_path"].notna()].sort_values("tile_id")
    images, skipped = [], []
    for row in candidates.itertuples(index=False):
        if len(images) == limit:
            break
        try:
            with Image.open(io.BytesIO(storage.read_bytes(str(row.quicklook_path)))) as im:
                images.append((row, np.asarray(im.convert("RGB"))))
        except (OSError, ValueError):
            skipped.append(str(row.quicklook_path))
    if not images:
        return None, skipped
    ncols = min(4, len(images))
    nrows = math.ceil(len(images) / ncols)
    with _figure(3 * ncols, 3.3 * nrows) as fig:
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (row, img) in zip(axes.flat, images):
            ax.imshow(img, interpolation="nearest")
            ax.set_title(f"{row.tile_id}\nMMSI {row.mmsi}", fontsize=8)
        return _png_base64(fig), skipped


def funnel_figure(stages) -> str | None:
    """The day's funnel (`day_summary.Stage`s, first on top): per stage what it held and what went on,
    the top loss reasons beside each bar; None when every stage is empty."""
    if not any(s.rows for s in stages):
        return None
    with _figure(10, 0.6 * len(stages) + 1.4) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(stages))[::-1]
        ax.barh(y, [max(s.rows, 0.8) for s in stages], color="tab:orange", label="lost")
        ax.barh(y, [max(s.kept, 0.8) for s in stages], color="tab:blue", label="kept")
        for yi, s in zip(y, stages):
            losses = ", ".join(f"{r} {n}" for r, n in sorted(s.losses.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
            ax.text(max(s.rows, 1) * 1.15, yi, f"{s.kept:,} of {s.rows:,}" + (f"   lost: {losses}" if losses else ""),
                    va="center", fontsize=8)
        ax.set_xscale("log")  # AIS fixes outnumber chips by three orders of magnitude
        # plain numbers: the default log labels are mathtext, which the style leaves unparsed
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(0.7, max(s.rows for s in stages) * 400)
        ax.set_yticks(y, [s.name for s in stages])
        ax.set_xlabel("rows (log scale)")
        ax.legend(loc="lower right", fontsize=8)
        return _png_base64(fig)
