"""Chips cut from the twin's Earth-Search-shaped catalogue over HTTP, checked against the source COGs
and against the twin world's geometry (coast, cloud, swath edge)."""

import copy
import dataclasses
import json
from datetime import date
from importlib import resources

import jsonschema
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.search import scene_rows

DAY = date(2026, 6, 15)


def _publish(item: dict, base: str) -> dict:
    item = copy.deepcopy(item)
    for asset in item["assets"].values():
        asset["href"] = f"{base}/{asset['href']}"
    return item


@pytest.fixture(scope="module")
def scenes(catalog_items, stac_api):
    """The first day's west granule in both collections, plus the c1 item relabelled as an l2a item
    whose BOA offset was not applied (the rule Earth Search's older l2a items need)."""
    day_items = [i for i in catalog_items if i["properties"]["datetime"].startswith("2026-06-15") and "31UES" in i["id"]]
    l2a = next(i for i in day_items if i["collection"] == "sentinel-2-l2a")
    c1 = next(i for i in day_items if i["collection"] == "sentinel-2-c1-l2a")
    relabelled = copy.deepcopy(c1)
    relabelled.update(collection="sentinel-2-l2a", id=c1["id"] + "_unshifted")
    relabelled["properties"]["earthsearch:boa_offset_applied"] = False
    relabelled["properties"]["proj:epsg"] = 32631
    return scene_rows([_publish(i, stac_api.url) for i in (l2a, c1, relabelled)])


def _candidates(world, scenes, points):
    rows = []
    for scene in scenes.to_dict("records"):
        for i, (x, y) in enumerate(points):
            lon, lat = world.utm_to_lonlat(x, y)
            rows.append({
                "mmsi": 244000001 + i, "scene_id": scene["scene_id"], "collection": scene["collection"],
                "acq_time": scene["datetime"], "epsg": 32631, "lon": float(lon), "lat": float(lat),
                "x_utm": x, "y_utm": y, "method": "linear", "gap_before_s": 4.0, "gap_after_s": 6.0,
                "uncertainty_m": 10.6, "sog_kn": 10.0, "cog_deg": 90.0, "heading_deg": 91.0,
                "fix_before_time": scene["datetime"] - pd.Timedelta(seconds=4), "fix_before_lon": float(lon),
                "fix_before_lat": float(lat), "fix_after_time": pd.NaT, "fix_after_lon": np.nan,
                "fix_after_lat": np.nan, "match_status": "ok",
                "sensing_time": scene["datetime"] - pd.Timedelta(seconds=6.5), "sensing_offset_s": -6.5,
                "reference_band": "B02", "timing_error_s": 1.49, "track_speed_m_s": 6_700.0, "detector_parity": 0,
            })
    return pd.DataFrame(rows)


def _cut(tmp_path, world, scenes, points, stack="rgbn", progress=None, **chips):
    cfg = Config()
    cfg = dataclasses.replace(cfg, chips=dataclasses.replace(cfg.chips, stack=stack, **chips))
    storage = LocalStorage(tmp_path)
    df, _ = cut_partition(ChipJob(storage, DAY, cfg), _candidates(world, scenes, points), scenes, pd.DataFrame(), progress)
    return df, storage


def _ship_point(world, scenes):
    acq = next(a for a in world.acquisitions if a.mgrs_tile == "31UES" and a.sensing_time.date() == DAY)
    west, south, east, north = acq.bounds
    centre = ((west + east) / 2, (south + north) / 2)
    _, x, y = min(world.vessels_in(acq), key=lambda v: np.hypot(v[1] - centre[0], v[2] - centre[1]))
    return x, y


@pytest.mark.parametrize("stack", ["rgbn", "rgbn_swir"])
def test_pixels_match_the_source_cogs_under_every_radiometry_rule(tmp_path, twin_world, scenes, scene_catalog, stack):
    arrays = {}
    for i in range(len(scenes)):  # one scene at a time: the three items are one acquisition, one tile_id
        df, storage = _cut(tmp_path / str(i), twin_world, scenes.iloc[[i]], [_ship_point(twin_world, scenes)], stack=stack)
        assert list(df.status) == ["ok"]
        row = next(df.itertuples())
        scene = scenes.set_index("scene_id").loc[row.scene_id]
        source_id = row.scene_id.removesuffix("_unshifted")  # the relabelled item reads the c1 files
        item_dir = next(scene_catalog.glob(f"*/{source_id}"))
        with rasterio.open(storage.path(row.tif_path)) as chip:
            data, transform = chip.read(), chip.transform
            assert chip.count == (6 if stack == "rgbn_swir" else 4)
        col0 = int(round((transform.c - scene.grid_origin_x) / 10))
        row0 = int(round((scene.grid_origin_y - transform.f) / 10))
        for b, asset in enumerate(("blue", "green", "red", "nir")):
            with rasterio.open(item_dir / f"{asset}.tif") as src:
                dn = src.read(1, window=Window(col0, row0, 256, 256)).astype("float64")
            expected = dn * scene.dn_scale + scene.dn_offset
            expected[dn == 0] = np.nan  # nodata stays nodata, never a fake -0.1 reflectance
            np.testing.assert_allclose(data[b], expected, atol=1e-6)
        if stack == "rgbn_swir":
            with rasterio.open(item_dir / "swir16.tif") as src, WarpedVRT(
                src, crs=src.crs, transform=transform, width=256, height=256, resampling=Resampling.cubic, dtype="float32"
            ) as vrt:
                swir = vrt.read(1).astype("float64") * scene.dn_scale + scene.dn_offset
            np.testing.assert_allclose(data[4][4:-4, 4:-4], swir[4:-4, 4:-4], atol=2e-4)
        arrays[row.radiometry_rule] = data
    assert set(arrays) == {"dn_div_10000", "raster_scale_offset", "dn_minus_1000_div_10000"}
    # one physical scene, three catalogue conventions: the same reflectance
    np.testing.assert_allclose(arrays["dn_div_10000"], arrays["raster_scale_offset"], atol=1e-6)
    np.testing.assert_allclose(arrays["dn_div_10000"], arrays["dn_minus_1000_div_10000"], atol=1e-6)


def _masks(storage, row):
    with rasterio.open(storage.path(row.mask_path)) as ds:
        return dict(zip(ds.descriptions, ds.read())), ds.transform


def test_land_and_cloud_masks_follow_the_world(tmp_path, twin_world, scenes):
    one = scenes.iloc[[0]]
    coast_x = 550_500.0
    points = [(coast_x, float(twin_world.coast_y(coast_x)) - 400.0), (552_300.0, 5_781_400.0 - 1_000.0)]
    df, storage = _cut(tmp_path, twin_world, one, points, gating=dataclasses.replace(Config().chips.gating, **{
        k: 1.0 for k in ("max_cloud_fraction", "max_centre_cloud_fraction", "max_land_fraction", "max_centre_land_fraction")}))
    assert list(df.status) == ["ok", "ok"]
    for row in df.itertuples():
        masks, t = _masks(storage, row)
        cols, rows = np.meshgrid(np.arange(256) + 0.5, np.arange(256) + 0.5)
        x, y = t.c + cols * t.a, t.f + rows * t.e
        land = twin_world.is_land(x, y)
        near_coast = np.abs(y - twin_world.coast_y(x)) < 30  # SCL is 20 m: the shore pixel may go either way
        cloud_d = np.hypot(x - 552_300.0, y - 5_781_400.0)
        clear = cloud_d > 1.45 * 900
        valid = masks["valid_mask"].astype(bool)  # the coast chip reaches past the scene's north edge
        judged = ~near_coast & clear & valid
        assert (masks["land_mask"] == land)[judged].mean() > 0.99
        assert masks["water_mask"][~land & judged].mean() > 0.99
        assert masks["cloud_mask"][(cloud_d < 0.95 * 900) & valid].all() and not masks["cloud_mask"][clear].any()
        assert not (masks["land_mask"] | masks["water_mask"] | masks["cloud_mask"])[~valid].any()


def test_gating_reasons_and_edge_padding(tmp_path, twin_world, scenes):
    one = scenes.iloc[[0]]
    west, north = one.grid_origin_x.iloc[0], one.grid_origin_y.iloc[0]
    side = 1024 * 10.0
    points = {
        "edge": (west + side - 300.0, north - side / 2),  # east edge: padded, kept
        "corner": (west + side - 20.0, north - side + 20.0),  # three quarters outside the grid
        "cloud": (552_300.0, 5_781_400.0),
        "land": (550_500.0, float(twin_world.coast_y(550_500.0)) + 300.0),
        "wedge": (west + 900.0, north - side + 1300.0),  # in the swath-edge nodata wedge
    }
    # the wedge point's chip is also past the grid's west and south edges: judge its centre alone
    limits = dataclasses.replace(Config().chips.gating, max_nodata_fraction=0.7)
    df, _ = _cut(tmp_path, twin_world, one, list(points.values()), gating=limits)
    by_name = dict(zip(points, df.sort_values("mmsi").itertuples()))
    assert by_name["edge"].status == "ok" and by_name["edge"].edge_padded
    assert by_name["edge"].valid_fraction == pytest.approx((128 + 30) / 256, abs=0.01)
    assert (by_name["corner"].status, by_name["corner"].reason) == ("dropped", "too_much_nodata")
    assert (by_name["cloud"].status, by_name["cloud"].reason) == ("dropped", "cloud_at_centre")
    assert (by_name["land"].status, by_name["land"].reason) == ("dropped", "land_at_centre")
    assert (by_name["wedge"].status, by_name["wedge"].reason) == ("dropped", "nodata_at_centre")
    assert df[df.status == "dropped"].tif_path.isna().all()


def test_edge_chip_pads_with_nan_not_zero(tmp_path, twin_world, scenes):
    one = scenes.iloc[[0]]
    west, north = one.grid_origin_x.iloc[0], one.grid_origin_y.iloc[0]
    df, storage = _cut(tmp_path, twin_world, one, [(west + 10240.0 - 300.0, north - 5120.0)])
    with rasterio.open(storage.path(df.tif_path.iloc[0])) as ds:
        data = ds.read()
    assert np.isnan(data[:, :, 158:]).all() and np.isfinite(data[:, :, :158]).all()


def test_documents_validate_against_the_published_json_schemas(tmp_path, twin_world, scenes):
    df, storage = _cut(tmp_path, twin_world, scenes.iloc[[0]], [_ship_point(twin_world, scenes)], stack="rgbn_swir")
    schema_dir = resources.files("shipchips_core") / "json_schemas"
    meta_schema = json.loads((schema_dir / "chip_metadata.schema.json").read_text())
    label_schema = json.loads((schema_dir / "label.schema.json").read_text())
    row = df.iloc[0]
    meta = json.loads(storage.read_bytes(row.meta_path))
    label = json.loads(storage.read_bytes(row.label_path))
    jsonschema.validate(meta, meta_schema)
    jsonschema.validate(label, label_schema)
    assert [b["name"] for b in meta["chip"]["bands"]] == ["B02", "B03", "B04", "B08", "B11", "B12"]
    assert meta["scene"]["radiometry_rule"] == row.radiometry_rule
    sensing = label["sensing"]
    assert sensing["offset_from_datetime_s"] == -6.5 and meta["scene"]["sensing_offset_s"] == -6.5
    assert sensing["reference_band"] == "B02" and sensing["detector_parity"] is None
    centre = label["ship_center"]["pixel"]
    b04 = sensing["bands"]["B04"]
    # 10 kn due east: on odd detectors B04 sees the ship 1.29 + 1.00 s after its row's time, 1.18 px further east
    assert b04["offset_s"]["odd"] == pytest.approx(2.288, abs=0.002) and b04["offset_s"]["even"] == -b04["offset_s"]["odd"]
    assert b04["pixel"]["odd"]["col"] - centre["col"] == pytest.approx(10 * 1852 / 3600 * b04["offset_s"]["odd"] / 10, abs=2e-3)
    assert b04["pixel"]["even"]["col"] - centre["col"] == pytest.approx(centre["col"] - b04["pixel"]["odd"]["col"], abs=2e-3)
    assert b04["pixel"]["odd"]["row"] == pytest.approx(centre["row"], abs=1e-3)
    assert sorted(sensing["bands"]) == ["B02", "B03", "B04", "B08", "B11", "B12"]
    broken = {**label, "mmsi": "244000001"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, label_schema)


def test_reruns_are_byte_identical_whatever_the_worker_count(tmp_path, twin_world, scenes):
    points = [_ship_point(twin_world, scenes), (549_000.0, 5_779_000.0), (551_000.0, 5_777_000.0)]
    one = scenes.iloc[[0]]
    a, _ = _cut(tmp_path / "a", twin_world, one, points, workers=1)
    b, _ = _cut(tmp_path / "b", twin_world, one, points, workers=2, min_chips_per_worker=1)
    pd.testing.assert_frame_equal(a, b)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 5 * (a.status == "ok").sum()
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_progress_counts_every_attempt_and_changes_no_byte(tmp_path, twin_world, scenes):
    points = _lane_points(twin_world, scenes.iloc[[0]], 4)
    one = scenes.iloc[[0]]
    plain, _ = _cut(tmp_path / "plain", twin_world, one, points, workers=1)
    for workers in (1, 2):
        calls = []
        root = tmp_path / f"watched{workers}"
        watched, _ = _cut(root, twin_world, one, points, workers=workers, min_chips_per_worker=1,
                          progress=lambda done, planned: calls.append((done, planned)))
        pd.testing.assert_frame_equal(plain, watched)
        assert calls[-1] == (len(points), len(points)) and [d for d, _ in calls] == sorted(d for d, _ in calls)
        for f in (p for p in (tmp_path / "plain").rglob("*") if p.is_file()):
            assert f.read_bytes() == (root / f.relative_to(tmp_path / "plain")).read_bytes(), f


def _lane_points(world, scenes, n):
    """`n` ship positions in open water around the lane ship of `_ship_point` (chips that pass the gates)."""
    x, y = _ship_point(world, scenes)
    return [(x + dx, y + dy) for dx in (-600.0, 0.0, 600.0) for dy in (-600.0, 0.0, 600.0)][:n]


def test_a_disk_filling_up_while_chipping_fails_the_run_naming_the_path(tmp_path, twin_world, scenes):
    from shipchips_core.dataset.faults import StorageFault
    from tests.small_fs import small_filesystem

    one = scenes.iloc[[0]]
    points = _lane_points(twin_world, one, 9)
    full, _ = _cut(tmp_path / "roomy", twin_world, one, points, workers=1)
    assert (full.status == "ok").all()
    need = sum(p.stat().st_size for p in (tmp_path / "roomy").rglob("*") if p.is_file())
    with small_filesystem(tmp_path / "fs", f"{need // 2 // 1024}k") as root:
        with pytest.raises(StorageFault) as info:
            _cut(root, twin_world, one, points, workers=1)
        fault = info.value
        assert fault.errno == 28 and fault.filename.startswith((str(root / "chips"), str(root / "labels")))
        assert fault.filename in str(fault)
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files and not [p for p in files if p.name.startswith(".")]  # no temporary left
        for p in files:  # every visible file is whole: byte-identical to the same file made with room to spare
            assert p.read_bytes() == (tmp_path / "roomy" / p.relative_to(root)).read_bytes(), p


def test_a_chips_own_write_error_stays_a_failed_row(tmp_path, twin_world, scenes, monkeypatch):
    from shipchips_core.chips import files as products

    real, calls = products.write_masks, []

    def flaky(storage, rel, chip, masks):
        calls.append(rel)
        if len(calls) == 2:
            raise ValueError("masks do not fit the chip grid")
        return real(storage, rel, chip, masks)

    monkeypatch.setattr(products, "write_masks", flaky)
    df, _ = _cut(tmp_path, twin_world, scenes.iloc[[0]], _lane_points(twin_world, scenes.iloc[[0]], 3), workers=1)
    assert sorted(df.status) == ["failed", "ok", "ok"]
    assert df.loc[df.status == "failed", "reason"].item() == "ValueError: masks do not fit the chip grid"


def test_an_unreadable_scene_fails_only_its_own_chips_naming_the_asset(tmp_path, twin_world, scenes, stac_api):
    two = scenes.iloc[[0, 1]].copy()
    broken = f"{stac_api.url}/no-such-granule/B04.tif"
    two.loc[two.index[1], "href_red"] = broken
    points = _lane_points(twin_world, two.iloc[[0]], 2)
    df, _ = _cut(tmp_path, twin_world, two, points, workers=1)
    by_scene = {sid: g for sid, g in df.groupby("scene_id")}
    lost = by_scene[two.iloc[1]["scene_id"]]
    assert list(lost.status) == ["failed", "failed"]
    assert all(r.startswith("scene_unreadable: ") and "no-such-granule/B04.tif" in r for r in lost.reason)
    assert list(by_scene[two.iloc[0]["scene_id"]].status) == ["ok", "ok"]
    assert len([p for p in tmp_path.rglob("*.tif") if "masks" not in p.name]) == 2
