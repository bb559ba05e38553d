"""Dataset statistics against a direct numpy computation over the twin chips' valid pixels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from shipchips_core.catalog import stats
from shipchips_core.dataset.storage import LocalStorage

BAND_NAMES = ["B02", "B03", "B04", "B08"]


def _valid_pixels(storage, rows) -> np.ndarray:
    """float64 [C, n]: every valid pixel of `rows`' chips, read straight from the files."""
    parts = []
    for row in rows.itertuples():
        with rasterio.open(storage.path(row.tif_path)) as ds:
            refl = ds.read().astype(np.float64)
        with rasterio.open(storage.path(row.mask_path)) as ds:
            valid = ds.read(4).astype(bool)  # cloud, land, water, valid, scl
        parts.append(refl[:, valid])
    return np.concatenate(parts, axis=1)


@pytest.fixture(scope="module")
def doc(twin_chips):
    return stats.compute_stats(twin_chips.storage, stats.read_tile_index(twin_chips.storage), twin_chips.band_assets)


def test_stats_equal_a_direct_numpy_computation(twin_chips, doc):
    tiles = twin_chips.tiles
    assert doc["schema_version"] == stats.STATS_SCHEMA_VERSION
    assert doc["days"] == ["2026-06-15"] and doc["bands"] == BAND_NAMES
    for split in ("train", "val", "test", "all"):
        rows = tiles if split == "all" else tiles[tiles.split == split]
        values = _valid_pixels(twin_chips.storage, rows)
        got = doc["splits"][split]
        assert got["n_chips"] == len(rows) and got["n_valid_pixels"] == values.shape[1]
        for b, name in enumerate(BAND_NAMES):
            v = values[b]
            band = got["bands"][name]
            refl, dn = band["reflectance"], band["dn"]
            assert band["count"] == v.size
            assert refl["mean"] == pytest.approx(v.mean(), rel=1e-9)
            assert refl["std"] == pytest.approx(v.std(), rel=1e-9)
            assert (refl["min"], refl["max"]) == (v.min(), v.max())
            width = (v.max() - v.min()) / stats.N_BINS
            for p in stats.PERCENTILES:
                assert abs(refl[f"p{p}"] - np.percentile(v, p)) <= width, (split, name, p)
            for key, value in refl.items():
                assert dn[key] == pytest.approx(value * 10000, rel=1e-12)


def test_the_edge_chips_nan_padding_is_not_counted(twin_chips, doc):
    padded = twin_chips.tiles[twin_chips.tiles.edge_padded]
    assert len(padded) >= 1
    assert doc["splits"]["all"]["n_valid_pixels"] < len(twin_chips.tiles) * 256 * 256
    assert all(np.isfinite(b["reflectance"]["mean"]) for b in doc["splits"]["all"]["bands"].values())


def test_histogram_percentiles_on_known_values():
    rng = np.random.default_rng(7)
    v = rng.normal(0.05, 0.02, 100_000)
    lo, hi = v.min(), v.max()
    idx = stats._bin_index(v, lo, hi)
    hist, sums = np.bincount(idx, minlength=stats.N_BINS), np.bincount(idx, weights=v, minlength=stats.N_BINS)
    for p in (0, 1, 2, 50, 98, 99, 100):
        assert abs(stats.histogram_percentile(hist, sums, p) - np.percentile(v, p)) <= (hi - lo) / stats.N_BINS
    # quantized reflectance (DN / 10000) with a gap: exact
    q = np.concatenate([rng.integers(400, 600, 5000), rng.integers(5000, 5200, 100)]) / 10000
    idx = stats._bin_index(q, q.min(), q.max())
    hist, sums = np.bincount(idx, minlength=stats.N_BINS), np.bincount(idx, weights=q, minlength=stats.N_BINS)
    for p in stats.PERCENTILES:
        assert stats.histogram_percentile(hist, sums, p) == pytest.approx(np.percentile(q, p), abs=1e-12)
    const = np.full(10, 0.25)
    idx = stats._bin_index(const, 0.25, 0.25)
    hist, sums = np.bincount(idx, minlength=stats.N_BINS), np.bincount(idx, weights=const, minlength=stats.N_BINS)
    assert stats.histogram_percentile(hist, sums, 50) == 0.25


def test_build_stats_writes_the_same_bytes_every_run(twin_chips, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(twin_chips.storage.root, root)
    storage = LocalStorage(root)
    a = stats.build_stats(storage, twin_chips.band_assets)
    first = storage.read_bytes(stats.STATS_JSON)
    stats.build_stats(storage, twin_chips.band_assets)
    assert storage.read_bytes(stats.STATS_JSON) == first
    assert json.loads(first) == a == stats.read_stats(storage)
    assert stats.normalization_split(a) == "train"


def test_an_empty_dataset_has_zero_counts(tmp_path):
    doc = stats.compute_stats(LocalStorage(tmp_path), pd.DataFrame(), ("blue", "green", "red", "nir"))
    assert doc["days"] == []
    assert doc["splits"]["all"]["n_valid_pixels"] == 0
    assert doc["splits"]["train"]["bands"]["B02"] == {"count": 0, "reflectance": None, "dn": None}
    assert stats.normalization_split(doc) == "all"
    with pytest.raises(FileNotFoundError):
        stats.read_stats(LocalStorage(tmp_path))
