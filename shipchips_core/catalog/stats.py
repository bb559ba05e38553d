"""Dataset statistics over the chips' valid pixels, per band and per split, in two passes.

Pass 1 reads every chip once for each (split, band): the count of valid pixels, their sum, min and
max. Pass 2 reads them again for the sum of squared deviations from pass 1's mean (a two-pass
variance, no cancellation) and a histogram of `N_BINS` equal bins over [min, max] (counts and the sum
of the values in each bin), from which the percentiles are read (as s2pipe does), so memory never
holds more than one chip whatever the dataset's size. A pixel is valid where the chip's `valid_mask` is 1, the same rule as the Clay cubes.

Mean, std (population, ddof 0), min and max are exact; a percentile is within one bin width
((max − min) / N_BINS, about 0.3 DN for a reflectance range of 2) of numpy's linear percentile, and
exact for quantized reflectance (DN / 10000: a bin finer than 1 DN holds one distinct value).
Everything is given in reflectance and in DN (= reflectance × 10000), per split and for `all`.
Written to `stats/stats.json` (schema-versioned, sorted keys, the days covered), deterministic.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np
import pandas as pd

from shipchips_core.chips.files import read_chip
from shipchips_core.dataset import paths
from shipchips_core.dataset.schemas import SPLITS
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import BAND_NAMES

STATS_SCHEMA_VERSION = 1
STATS_JSON = "stats/stats.json"
N_BINS = 65536
PERCENTILES = (1, 2, 50, 98, 99)
ALL = "all"
GROUPS = (*SPLITS, ALL)
DN_PER_REFLECTANCE = 10000.0


def read_tile_index(storage: LocalStorage) -> pd.DataFrame:
    """Every day of `indexes/tiles.parquet` (empty frame when there is none)."""
    if not storage.list(paths.TILES_INDEX, suffix=".parquet"):
        return pd.DataFrame()
    path, fs = storage.fsspec_source(paths.TILES_INDEX)
    return pd.read_parquet(path, filesystem=fs)


def days_of(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    if "date" in rows:  # the hive partition column
        return sorted({str(d) for d in rows["date"].astype(str)})
    return sorted({pd.Timestamp(t).tz_convert("UTC").date().isoformat() for t in rows["acq_time"]})


def _valid_values(storage: LocalStorage, row) -> np.ndarray:
    """float64 [C, n_valid]: the chip's reflectance at its valid pixels."""
    refl, valid = read_chip(storage, row.tif_path, row.mask_path)
    return refl[:, valid].astype(np.float64)


class _Group:
    def __init__(self, n_bands: int):
        self.n_chips = 0
        self.count = np.zeros(n_bands, dtype=np.int64)
        self.sum = np.zeros(n_bands, dtype=np.float64)
        self.min = np.full(n_bands, np.inf)
        self.max = np.full(n_bands, -np.inf)
        self.sq_dev = np.zeros(n_bands, dtype=np.float64)
        self.hist = np.zeros((n_bands, N_BINS), dtype=np.int64)
        self.bin_sum = np.zeros((n_bands, N_BINS), dtype=np.float64)

    def pass1(self, values: np.ndarray) -> None:
        self.n_chips += 1
        if values.shape[1] == 0:
            return
        self.count += values.shape[1]
        self.sum += values.sum(axis=1)
        self.min = np.minimum(self.min, values.min(axis=1))
        self.max = np.maximum(self.max, values.max(axis=1))

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum / self.count

    def pass2(self, values: np.ndarray) -> None:
        if values.shape[1] == 0:
            return
        mean = self.mean
        self.sq_dev += ((values - mean[:, None]) ** 2).sum(axis=1)
        for b in range(values.shape[0]):
            idx = _bin_index(values[b], self.min[b], self.max[b])
            self.hist[b] += np.bincount(idx, minlength=N_BINS)
            self.bin_sum[b] += np.bincount(idx, weights=values[b], minlength=N_BINS)

    def band_summary(self, b: int) -> dict:
        n = int(self.count[b])
        if n == 0:
            return {"count": 0, "reflectance": None, "dn": None}
        refl = {
            "mean": float(self.mean[b]),
            "std": float(np.sqrt(self.sq_dev[b] / n)),
            "min": float(self.min[b]),
            "max": float(self.max[b]),
            **{f"p{p}": histogram_percentile(self.hist[b], self.bin_sum[b], p) for p in PERCENTILES},
        }
        return {"count": n, "reflectance": refl, "dn": {k: v * DN_PER_REFLECTANCE for k, v in refl.items()}}


def _bin_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.int64)
    idx = np.floor((values - lo) * (N_BINS / (hi - lo))).astype(np.int64)
    return np.clip(idx, 0, N_BINS - 1)


def histogram_percentile(hist: np.ndarray, bin_sum: np.ndarray, p: float) -> float:
    """numpy's linear percentile (between the values of ranks ⌊r⌋ and ⌊r⌋+1, r = p/100·(n−1)), each
    value read as the mean of its histogram bin: within one bin width of the exact value, and exact
    where a bin holds one distinct value (quantized reflectance, DN/10000, at any bin finer than 1 DN)."""
    n = int(hist.sum())
    rank = p / 100.0 * (n - 1)
    cum = np.cumsum(hist)
    j0 = int(np.floor(rank))
    j1 = min(j0 + 1, n - 1)
    b0, b1 = (int(np.searchsorted(cum, j, side="right")) for j in (j0, j1))
    v0, v1 = bin_sum[b0] / hist[b0], bin_sum[b1] / hist[b1]
    return float(v0 + (rank - j0) * (v1 - v0))


def compute_stats(storage: LocalStorage, rows: pd.DataFrame, band_assets: Sequence[str]) -> dict:
    """The statistics document for `rows` (tile index rows; chips read through `storage`)."""
    bands = [BAND_NAMES[a] for a in band_assets]
    groups = {g: _Group(len(bands)) for g in GROUPS}
    ordered = rows.sort_values("tile_id", kind="stable") if not rows.empty else rows
    expected = ",".join(bands)
    if not ordered.empty and (ordered["bands"] != expected).any():
        raise ValueError(f"the index holds chips with bands other than the configured stack ({expected})")
    for run in ("pass1", "pass2"):
        for row in ordered.itertuples(index=False):
            values = _valid_values(storage, row)
            for g in (row.split, ALL):
                getattr(groups[g], run)(values)
    return {
        "schema_version": STATS_SCHEMA_VERSION,
        "days": days_of(rows),
        "bands": bands,
        "band_assets": list(band_assets),
        "valid_pixels": "valid_mask = 1 (every band has data and SCL != 0)",
        "method": f"two passes: count/sum/min/max, then squared deviations and a {N_BINS}-bin histogram over [min, max] (bin means for percentiles)",
        "std_ddof": 0,
        "n_bins": N_BINS,
        "percentiles": list(PERCENTILES),
        "splits": {
            g: {
                "n_chips": groups[g].n_chips,
                "n_valid_pixels": int(groups[g].count.min()) if len(bands) else 0,
                "bands": {name: groups[g].band_summary(b) for b, name in enumerate(bands)},
            }
            for g in GROUPS
        },
    }


def normalization_split(doc: dict) -> str:
    """The split whose statistics normalize the data: train, else all (a dataset with no train chip)."""
    return "train" if doc["splits"]["train"]["n_valid_pixels"] > 0 else ALL


def stats_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def write_stats(storage: LocalStorage, doc: dict) -> str:
    return storage.write_bytes(STATS_JSON, stats_bytes(doc))


def read_stats(storage: LocalStorage) -> dict:
    if not storage.exists(STATS_JSON):
        raise FileNotFoundError(f"no dataset statistics at {storage.location(STATS_JSON)}: materialize dataset_stats first")
    doc = json.loads(storage.read_bytes(STATS_JSON))
    if doc.get("schema_version") != STATS_SCHEMA_VERSION:
        raise ValueError(f"{STATS_JSON} has schema_version {doc.get('schema_version')}, expected {STATS_SCHEMA_VERSION}")
    return doc


def build_stats(storage: LocalStorage, band_assets: Sequence[str]) -> dict:
    """Read every day of the tile index, compute and write `stats/stats.json`; returns the document."""
    doc = compute_stats(storage, read_tile_index(storage), band_assets)
    write_stats(storage, doc)
    return doc
