"""Clay exports from real twin chips: cubes round-trip to the chips' pixels (DN, order, nodata rule),
encodings match an independent computation, splits never mix, re-runs are byte-identical, and the
datacube and metadata.yaml have the shapes Clay's code reads."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from shipchips_core.catalog import clay, stats
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import STACK_ASSETS, WAVELENGTHS_UM

DAY = date(2026, 6, 15)
# Clay v1.5 configs/metadata.yaml, sentinel-2-l2a (SPEC-NOTES §6): mean, std DN, wavelength µm
CLAY_PUBLISHED = {
    "blue": (1105, 1809, 0.493), "green": (1355, 1757, 0.56), "red": (1552, 1888, 0.665),
    "nir": (2743, 1742, 0.842), "swir16": (2388, 1470, 1.61), "swir22": (1835, 1379, 2.19),
}


@pytest.fixture
def chips(tmp_path, twin_chips):
    """A private copy of the twin chips' dataset root (tests write exports into it)."""
    root = tmp_path / "root"
    shutil.copytree(twin_chips.storage.root, root)
    return LocalStorage(root), twin_chips.tiles, twin_chips.band_assets


def _chip(storage, row):
    with rasterio.open(storage.path(row.tif_path)) as ds:
        refl = ds.read()
    with rasterio.open(storage.path(row.mask_path)) as ds:
        valid = ds.read(list(ds.descriptions).index("valid_mask") + 1).astype(bool)
    return refl, valid


def _clay_loader(data_dir: Path, metadata_path: Path):
    """What Clay's EODataset does with each file (claymodel/datamodule.py), without torch."""
    metadata = yaml.safe_load(metadata_path.read_text())
    for path in sorted(data_dir.glob("**/*.npz")):
        platform = path.parent.name
        mean = np.array(list(metadata[platform]["bands"]["mean"].values()), dtype=np.float32)
        std = np.array(list(metadata[platform]["bands"]["std"].values()), dtype=np.float32)
        with np.load(path, allow_pickle=False) as chip:
            pixels = chip["pixels"].astype(np.float32)
            pixels = (pixels - mean[None, :, None, None]) / std[None, :, None, None]
            time = np.hstack((chip["week_norm"], chip["hour_norm"]), dtype=np.float32)
            latlon = np.hstack((chip["lat_norm"], chip["lon_norm"]), dtype=np.float32)
        yield path, platform, pixels, time, latlon


def test_cubes_round_trip_to_the_chips_pixels(chips):
    storage, tiles, bands = chips
    written = clay.write_day_cubes(storage, tiles, DAY, bands)
    assert sum(c.n_samples for c in written) == len(tiles)
    fill = np.array([CLAY_PUBLISHED[b][0] for b in bands], dtype=np.float32)
    by_id = tiles.set_index("tile_id")
    n_invalid = 0
    for cube in written:
        with np.load(storage.path(cube.path), allow_pickle=False) as npz:
            pixels, valid, ids = npz["pixels"], npz["valid_mask"].astype(bool), list(npz["tile_id"])
            assert pixels.dtype == np.float32 and pixels.shape == (len(ids), len(bands), 256, 256)
            for key in ("lat_norm", "lon_norm", "week_norm", "hour_norm"):
                assert npz[key].dtype == np.float32 and npz[key].shape == (len(ids), 2)
            assert list(npz["band_order"]) == list(bands)
            assert ids == sorted(ids)
            for i, tid in enumerate(ids):
                row = by_id.loc[tid]
                refl, ok = _chip(storage, row)
                np.testing.assert_array_equal(valid[i], ok)
                expected = np.where(ok[None], refl * np.float32(10000), fill[:, None, None])
                np.testing.assert_array_equal(pixels[i], expected)
                assert np.isfinite(pixels[i]).all()
                assert npz["label_mmsi"][i] == row.mmsi and npz["qa_edge_padded"][i] == row.edge_padded
                assert npz["label_ship_row"][i] == pytest.approx(row.ship_row)
                label = json.loads(storage.read_bytes(row.label_path))
                assert npz["label_heading_deg"][i] == pytest.approx(label["heading_deg"])
                n_invalid += int((~ok).sum())
    assert n_invalid > 0, "the edge chip's NaN padding exercises the nodata rule"


def test_clay_loader_reads_the_export_with_its_metadata(chips):
    storage, tiles, bands = chips
    clay.write_day_cubes(storage, tiles, DAY, bands)
    clay.write_metadata(storage, bands, None)
    seen = []
    for path, platform, pixels, time, latlon in _clay_loader(storage.path("exports/clay/train"), storage.path(clay.METADATA_YAML)):
        assert platform == "sentinel-2-l2a"
        with np.load(path) as npz:
            valid = npz["valid_mask"].astype(bool)
            seen += list(npz["tile_id"])
        assert (pixels.transpose(1, 0, 2, 3)[:, ~valid] == 0).all()  # nodata normalizes to exactly 0
        assert time.shape == latlon.shape == (pixels.shape[0], 4)
    assert sorted(seen) == sorted(tiles.loc[tiles.split == "train", "tile_id"])


def test_encodings_equal_an_independent_computation():
    times = pd.to_datetime(["2026-06-15T10:14:59Z", "2021-01-03T23:59:00Z", "2026-12-31T00:30:00Z"], utc=True)
    iso_weeks, hours = [25, 53, 53], [10, 23, 0]  # 2021-01-03 is in ISO week 53 of 2020; 2026 has 53 weeks
    week_norm, hour_norm = clay.encode_time(times)
    for i, (w, h) in enumerate(zip(iso_weeks, hours)):
        np.testing.assert_allclose(week_norm[i], [math.sin(w * 2 * math.pi / 52), math.cos(w * 2 * math.pi / 52)], atol=1e-7)
        np.testing.assert_allclose(hour_norm[i], [math.sin(h * 2 * math.pi / 24), math.cos(h * 2 * math.pi / 24)], atol=1e-7)
    lat_norm, lon_norm = clay.encode_latlon([52.1, -33.9], [4.3, 151.2])
    np.testing.assert_allclose(lat_norm[0], [math.sin(math.radians(52.1)), math.cos(math.radians(52.1))], atol=1e-7)
    np.testing.assert_allclose(lon_norm[1], [math.sin(math.radians(151.2)), math.cos(math.radians(151.2))], atol=1e-7)
    assert week_norm.dtype == hour_norm.dtype == lat_norm.dtype == np.float32


def test_cube_and_datacube_put_lat_before_lon_and_week_before_hour(chips):
    storage, tiles, bands = chips
    (cube, *_) = clay.write_day_cubes(storage, tiles, DAY, bands)
    cube_rows = tiles.set_index("tile_id")
    with np.load(storage.path(cube.path)) as npz:
        ids, lat_norm, lon_norm = list(npz["tile_id"]), npz["lat_norm"], npz["lon_norm"]
    dc = clay.datacube(storage, ids, bands)
    for i, tid in enumerate(ids):
        row = cube_rows.loc[tid]
        lat, lon = math.radians(row.lat), math.radians(row.lon)
        expected = [math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)]
        np.testing.assert_allclose(np.hstack([lat_norm[i], lon_norm[i]]), expected, atol=1e-6)
        np.testing.assert_allclose(dc["latlon"][i], expected, atol=1e-6)
        when = row.acq_time
        w, h = when.isocalendar()[1] * 2 * math.pi / 52, when.hour * 2 * math.pi / 24
        np.testing.assert_allclose(dc["time"][i], [math.sin(w), math.cos(w), math.sin(h), math.cos(h)], atol=1e-6)


def test_cubes_never_mix_splits_rewrite_only_their_day_and_rerun_byte_identical(chips):
    storage, tiles, bands = chips
    other_day = storage.write_bytes(clay.cube_path("train", date(2026, 6, 14), 0), b"another day's cube")
    first = clay.write_day_cubes(storage, tiles, DAY, bands, cube_size=2)
    assert [(c.split, c.n_samples) for c in first] == [("test", 1), ("train", 2), ("train", 1), ("val", 1)]
    for c in first:
        assert c.path.startswith(f"exports/clay/{c.split}/sentinel-2-l2a/")
        with np.load(storage.path(c.path)) as npz:
            assert set(npz["split"]) == {c.split}
            assert set(tiles.set_index("tile_id").loc[list(npz["tile_id"]), "split"]) == {c.split}
    before = {c.path: storage.read_bytes(c.path) for c in first}
    again = clay.write_day_cubes(storage, tiles, DAY, bands, cube_size=2)
    assert {c.path: storage.read_bytes(c.path) for c in again} == before
    # a bigger cube size: the day's now-unused file goes, the other day's stays
    bigger = clay.write_day_cubes(storage, tiles, DAY, bands, cube_size=128)
    assert not storage.exists(clay.cube_path("train", DAY, 1))
    assert storage.read_bytes(other_day) == b"another day's cube"
    assert len(bigger) == 3


def test_npz_bytes_are_deterministic_and_loadable():
    arrays = {"pixels": np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4), "tile_id": np.array(["abc"])}
    a = clay.npz_bytes(arrays)
    assert a == clay.npz_bytes(arrays)
    import io
    with np.load(io.BytesIO(a), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["pixels"], arrays["pixels"])
        assert list(npz["tile_id"]) == ["abc"]


def test_datacube_shapes_dtypes_and_normalization(chips):
    storage, tiles, bands = chips
    ids = list(tiles.sort_values("mmsi", ascending=False).tile_id)  # any order: kept as asked
    dc = clay.datacube(storage, ids, bands)
    n, c = len(ids), len(bands)
    assert dc["pixels"].shape == (n, c, 256, 256) and dc["pixels"].dtype == np.float32
    assert dc["time"].shape == (n, 4) and dc["time"].dtype == np.float32
    assert dc["latlon"].shape == (n, 4) and dc["latlon"].dtype == np.float32
    assert dc["gsd"].shape == () and dc["gsd"].dtype == np.float32 and float(dc["gsd"]) == 10.0
    assert dc["waves"].dtype == np.float32
    np.testing.assert_allclose(dc["waves"], [CLAY_PUBLISHED[b][2] for b in bands])
    assert list(dc["tile_id"]) == ids
    mean = np.array([CLAY_PUBLISHED[b][0] for b in bands], dtype=np.float32)[:, None, None]
    std = np.array([CLAY_PUBLISHED[b][1] for b in bands], dtype=np.float32)[:, None, None]
    by_id = tiles.set_index("tile_id")
    for i, tid in enumerate(ids):
        refl, ok = _chip(storage, by_id.loc[tid])
        np.testing.assert_allclose(dc["pixels"][i][:, ok], ((refl * np.float32(10000) - mean) / std)[:, ok], rtol=1e-6, atol=1e-6)
        assert (dc["pixels"][i][:, ~ok] == 0).all()
    with pytest.raises(KeyError, match="0000000000000000"):
        clay.datacube(storage, [ids[0], "0000000000000000"], bands)


def test_datacube_with_the_datasets_own_statistics(chips):
    storage, tiles, bands = chips
    doc = stats.build_stats(storage, bands)
    dc = clay.datacube(storage, list(tiles.tile_id), bands, stats="shipchips")
    train = doc["splits"]["train"]["bands"]
    mean = np.array([train[b]["dn"]["mean"] for b in ("B02", "B03", "B04", "B08")])
    # the train chips, normalized with the train statistics, have mean ~0 and std ~1 over valid pixels
    is_train = (tiles.split == "train").to_numpy()
    vals = dc["pixels"][is_train].transpose(1, 0, 2, 3)[:, dc["valid_mask"][is_train].astype(bool)]
    np.testing.assert_allclose(vals.mean(axis=1), 0, atol=1e-3)
    np.testing.assert_allclose(vals.std(axis=1), 1, atol=1e-3)
    assert mean.shape == (4,)


@pytest.mark.parametrize("stack", sorted(STACK_ASSETS))
def test_metadata_yaml_has_clays_shape_for_the_stack(tmp_path, stack):
    bands = STACK_ASSETS[stack]
    storage = LocalStorage(tmp_path)
    fake_stats = {"days": ["2026-06-15"], "splits": {"train": {"n_valid_pixels": 10, "bands": {
        name: {"dn": {"mean": 100.0 + i, "std": 50.0 + i}} for i, name in enumerate(["B02", "B03", "B04", "B08", "B11", "B12"])}}}}
    paths = clay.write_metadata(storage, bands, fake_stats)
    assert paths == [clay.METADATA_YAML, clay.METADATA_SHIPCHIPS_YAML]
    published = yaml.safe_load(storage.read_bytes(clay.METADATA_YAML))
    ours = yaml.safe_load(storage.read_bytes(clay.METADATA_SHIPCHIPS_YAML))
    for doc in (published, ours):
        s2 = doc["sentinel-2-l2a"]
        assert s2["band_order"] == list(bands) and s2["gsd"] == 10 and s2["rgb_indices"] == [2, 1, 0]
        for key in ("mean", "std", "wavelength", "clay_mean", "clay_std", "shipchips_mean", "shipchips_std"):
            assert list(s2["bands"][key]) == list(bands), key  # Clay normalizes with every band listed
        for b in bands:
            assert s2["bands"]["wavelength"][b] == CLAY_PUBLISHED[b][2]  # µm, not nm
            assert abs(s2["bands"]["wavelength"][b] - WAVELENGTHS_UM[b]) < 0.005  # agrees with the chips' tags
            assert (s2["bands"]["clay_mean"][b], s2["bands"]["clay_std"][b]) == CLAY_PUBLISHED[b][:2]
    assert published["sentinel-2-l2a"]["bands"]["mean"] == published["sentinel-2-l2a"]["bands"]["clay_mean"]
    assert ours["sentinel-2-l2a"]["bands"]["mean"] == ours["sentinel-2-l2a"]["bands"]["shipchips_mean"]
    assert ours["sentinel-2-l2a"]["bands"]["mean"]["blue"] == 100.0


def test_cli_datacube(chips, tmp_path):
    storage, tiles, _ = chips
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"dataset_root": str(storage.root)}))
    ids = list(tiles.tile_id[:2])
    out = tmp_path / "cube.npz"
    shipchips = Path(sys.executable).parent / "shipchips"
    proc = subprocess.run([str(shipchips), "--config", str(config), "clay", "datacube", *ids, "--out", str(out)],
                          capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout)
    assert summary["pixels"] == {"shape": [2, 4, 256, 256], "dtype": "float32"}
    assert summary["time"]["shape"] == [2, 4] and summary["latlon"]["shape"] == [2, 4] and summary["waves"]["shape"] == [4]
    with np.load(out) as npz:
        assert list(npz["tile_id"]) == ids and npz["pixels"].shape == (2, 4, 256, 256)
    bad = subprocess.run([str(shipchips), "--config", str(config), "clay", "datacube", "ffffffffffffffff"], capture_output=True, text=True)
    assert bad.returncode == 1 and "ffffffffffffffff" in bad.stderr


def test_metadata_of_an_empty_dataset_lists_clays_statistics_alone(tmp_path):
    storage = LocalStorage(tmp_path)
    empty = stats.compute_stats(storage, pd.DataFrame(), STACK_ASSETS["rgbn"])
    assert clay.write_metadata(storage, STACK_ASSETS["rgbn"], empty) == [clay.METADATA_YAML]
    s2 = yaml.safe_load(storage.read_bytes(clay.METADATA_YAML))["sentinel-2-l2a"]
    assert "shipchips_mean" not in s2["bands"] and s2["bands"]["mean"]["nir"] == 2743.0
    with pytest.raises(ValueError, match="no valid pixel"):
        clay.shipchips_mean_std(empty, STACK_ASSETS["rgbn"])
