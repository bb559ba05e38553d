"""Sentinel-2 L2A scenes of the synthetic world, written as an Earth Search v1 catalogue on disk.

Layout: `out_dir/{collection}/{item_id}/{asset}.tif` (one single-band COG per asset) plus `item.json`
and a `.complete` marker. Each item is built in a hidden temporary folder and renamed into place, so a
folder that exists is complete and concurrent generators never see half-written files.

Radiometry follows SPEC-NOTES §3: `sentinel-2-l2a` pixels have the BOA offset already applied
(DN = reflectance × 10000), `sentinel-2-c1-l2a` pixels do not (DN = reflectance × 10000 + 1000).
Ships are drawn where each band saw them (`World.imaged_at`: the row's time along the track plus
the band's delay on its detector), with a bright superstructure block around the AIS antenna so the
brightest hull pixel marks the position AIS reports.

An item folder is cached while its marker names the current `RENDER_VERSION`: bump it whenever the
drawing changes, so a catalogue written by an older twin is redrawn rather than served stale.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from shipchips_twin.granule_metadata import granule_metadata_xml
from shipchips_twin.world import PIXEL_M, Acquisition, World

COLLECTIONS = ("sentinel-2-l2a", "sentinel-2-c1-l2a")
MARKER = ".complete"
RENDER_VERSION = "3 msi-band-timing, granule metadata"  # written into MARKER; an item with another version is redrawn
BLOCK = 1024
SUPERSAMPLE = 4  # 4×4 sub-samples per pixel: area-weighted anti-aliasing of small hulls
BRIDGE_M = 10.0  # side of the superstructure block centred on the AIS antenna
CLOUD_HALO = 1.4  # SCL 8 (medium probability) out to 1.4 × the cloud radius


@dataclass(frozen=True)
class Band:
    """Reflectances of one band: open water, vegetated land, hull, superstructure."""

    key: str
    water: float
    land: float
    ship: float
    bridge: float


BANDS_10M = (
    Band("blue", 0.045, 0.04, 0.12, 0.40),
    Band("green", 0.035, 0.07, 0.13, 0.41),
    Band("red", 0.020, 0.05, 0.14, 0.42),
    Band("nir", 0.008, 0.30, 0.18, 0.45),
)
BANDS_20M = (
    Band("swir16", 0.004, 0.20, 0.12, 0.35),
    Band("swir22", 0.003, 0.10, 0.09, 0.28),
)
NOISE_WATER, NOISE_LAND = 0.0012, 0.01


@dataclass
class Scene:
    """Reflectance per asset (float32), the 20 m SCL and the nodata masks of both grids."""

    refl: dict[str, np.ndarray]
    scl: np.ndarray
    nodata: dict[int, np.ndarray]  # keyed by resolution in metres


# ---- public API ---------------------------------------------------------------------------
def generate_catalog(world: World, out_dir: str | Path, collections=COLLECTIONS) -> list[Path]:
    """Write every acquisition × collection as an item folder, the days' and their history
    (`World.catalogue_acquisitions`); returns the item folders.

    Cached: complete folders are kept as they are. Output is a pure function of the world.
    """
    out_dir = Path(out_dir)
    folders = []
    for acq in world.catalogue_acquisitions:
        targets = [(c, out_dir / c / item_id(acq, c)) for c in collections]
        missing = [(c, f) for c, f in targets if not _current(f, _marker_text(world, acq, c))]
        if missing:
            scene = render_scene(world, acq)  # rendered once, shared by both collections
            for collection, folder in missing:
                _write_item(world, acq, scene, collection, folder)
        folders.extend(f for _, f in targets)
    return folders


def _current(folder: Path, marker_text: str = RENDER_VERSION) -> bool:
    marker = folder / MARKER
    return marker.exists() and marker.read_text() == marker_text


LIE_KINDS = ("flag_false", "flag_true")


def radiometry_lie(world: World, acq: Acquisition, collection: str) -> str | None:
    """The lie `WorldSpec.radiometry_lies` tells about this item's flag, if any."""
    if collection != "sentinel-2-l2a" or acq.sensing_time.date() not in world.spec.days:
        return None
    kinds = {kind for tile, kind in world.spec.radiometry_lies if tile == acq.mgrs_tile}
    if kinds - set(LIE_KINDS) or len(kinds) > 1:
        raise ValueError(f"radiometry_lies for {acq.mgrs_tile}: one of {LIE_KINDS}, got {sorted(kinds)}")
    return kinds.pop() if kinds else None


def offset_in_dn(world: World, acq: Acquisition, collection: str) -> bool:
    """The truth: does this item's DN still carry the +1000 BOA offset? (c1 always; l2a unless it lies so)"""
    return collection == "sentinel-2-c1-l2a" or radiometry_lie(world, acq, collection) == "flag_true"


def corrupt_assets(world: World, acq: Acquisition) -> tuple[str, ...]:
    """The assets `WorldSpec.corrupt_bands` corrupts in this acquisition's items."""
    if acq.sensing_time.date() not in world.spec.days:
        return ()
    return tuple(sorted(asset for tile, asset in world.spec.corrupt_bands if tile == acq.mgrs_tile))


def corrupt_rows(n: int) -> slice:
    """The rows of an n-row grid a corrupt asset holds garbage in: the southern half."""
    return slice(n // 2, n)


def _corrupt(dn: np.ndarray, nodata: np.ndarray, seed) -> np.ndarray:
    rows = corrupt_rows(dn.shape[0])
    garbage = np.random.default_rng(seed).integers(64_000, 65_001, dn[rows].shape).astype("uint16")
    dn[rows] = np.where(nodata[rows], 0, garbage)
    return dn


def _marker_text(world: World, acq: Acquisition, collection: str) -> str:
    """RENDER_VERSION, plus the lie the item tells and its corrupt assets: such an item is never served
    from an honest cache, nor an honest one from theirs."""
    extra = [x for x in (radiometry_lie(world, acq, collection),) if x]
    extra += [f"corrupt {a}" for a in corrupt_assets(world, acq)]
    return "; ".join([RENDER_VERSION, *extra])


def load_items(out_dir: str | Path) -> list[dict]:
    """All complete items under `out_dir` (asset hrefs relative to the server root)."""
    items = []
    for marker in sorted(Path(out_dir).glob(f"*/*/{MARKER}")):
        items.append(json.loads((marker.parent / "item.json").read_text()))
    return sorted(items, key=lambda it: (it["collection"], it["properties"]["datetime"], it["id"]))


# ---- rendering ----------------------------------------------------------------------------
def render_scene(world: World, acq: Acquisition) -> Scene:
    seed = [world.spec.seed, zlib.crc32(f"{acq.mgrs_tile}{acq.sensing_time.isoformat()}".encode())]
    refl10, _, nodata10 = _render_grid(world, acq, 10, BANDS_10M, seed)
    refl20, scl, nodata20 = _render_grid(world, acq, 20, BANDS_20M, seed)
    return Scene(refl={**refl10, **refl20}, scl=scl, nodata={10: nodata10, 20: nodata20})


def _render_grid(world: World, acq: Acquisition, res: int, bands, seed):
    n = int(round(acq.size_px * PIXEL_M / res))
    xs = acq.origin_x + (np.arange(n) + 0.5) * res
    ys = acq.origin_y - (np.arange(n) + 0.5) * res
    land = np.broadcast_to(world.is_land(xs[None, :], ys[:, None]), (n, n))
    nodata = np.broadcast_to(acq.nodata(xs[None, :], ys[:, None]), (n, n))
    clouds = [_cloud_layer(c, xs, ys) for c in acq.clouds]

    scl = np.where(land, 4, 6).astype("uint8")
    for window, ratio, _, _ in clouds:
        # max() keeps 9 where a halo of one cloud overlaps the core of another
        scl[window] = np.maximum(scl[window], np.where(ratio < 1, 9, np.where(ratio < CLOUD_HALO, 8, 0)))
    scl[nodata] = 0

    sigma = np.where(land, np.float32(NOISE_LAND), np.float32(NOISE_WATER))
    refl = {}
    for i, band in enumerate(bands):
        noise = np.random.default_rng([*seed, res, i]).standard_normal((n, n), dtype=np.float32)
        img = np.where(land, np.float32(band.land), np.float32(band.water)) + noise * sigma
        name = ASSET_META[band.key][0]  # each band sees each ship at its own instant
        ships = [_hull_coverage(world, acq, v, x, y, res, n, land) for v, x, y in world.vessels_in(acq, name)]
        for window, f_hull, f_bridge in ships:
            img[window] = img[window] * (1 - f_hull - f_bridge) + band.ship * f_hull + band.bridge * f_bridge
        for window, _, alpha, value in clouds:  # clouds lie above ships
            img[window] = img[window] * (1 - alpha) + value * alpha
        refl[band.key] = img
    return refl, scl, nodata


def _hull_coverage(world: World, acq: Acquisition, vessel, x: float, y: float, res: int, n: int, land):
    """Fractions of each pixel near the vessel covered by hull and by superstructure (4×4 samples)."""
    reach = math.hypot(max(vessel.dim_a, vessel.dim_b), max(vessel.dim_c, vessel.dim_d)) + BRIDGE_M
    c0, c1 = max(int((x - reach - acq.origin_x) // res), 0), min(int((x + reach - acq.origin_x) // res) + 1, n)
    r0, r1 = max(int((acq.origin_y - y - reach) // res), 0), min(int((acq.origin_y - y + reach) // res) + 1, n)
    sub = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    dx = acq.origin_x + (np.arange(c0, c1)[:, None] + sub).ravel() * res - x
    dy = acq.origin_y - (np.arange(r0, r1)[:, None] + sub).ravel() * res - y
    h = math.radians(world.heading_deg(vessel.mmsi, acq.sensing_time))
    along = dx[None, :] * math.sin(h) + dy[:, None] * math.cos(h)  # towards the bow
    across = dx[None, :] * math.cos(h) - dy[:, None] * math.sin(h)  # towards starboard
    # the bow narrows to a point over the front fifth of the hull
    taper = max(0.2 * vessel.length_m, 1.0)
    half = vessel.beam_m / 2 * np.clip((vessel.dim_a - along) / taper, 0, 1)
    hull = (along >= -vessel.dim_b) & (along <= vessel.dim_a)
    hull &= np.abs(across - (vessel.dim_d - vessel.dim_c) / 2) <= half
    bridge = hull & (np.abs(along) <= BRIDGE_M / 2) & (np.abs(across) <= BRIDGE_M / 2)

    def fraction(mask):
        cells = mask.reshape(r1 - r0, SUPERSAMPLE, c1 - c0, SUPERSAMPLE).mean(axis=(1, 3))
        return np.where(land[r0:r1, c0:c1], 0, cells).astype("float32")  # ships on water only

    return (slice(r0, r1), slice(c0, c1)), fraction(hull & ~bridge), fraction(bridge)


def _cloud_layer(cloud, xs: np.ndarray, ys: np.ndarray):
    """Window, distance ratio d/r, opacity (soft edge over the halo) and brightness of one cloud."""
    reach = cloud.radius_m * CLOUD_HALO
    cols = np.flatnonzero(np.abs(xs - cloud.x) <= reach)
    rows = np.flatnonzero(np.abs(ys - cloud.y) <= reach)
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if cols.size and rows.size else (
        slice(0, 0), slice(0, 0))
    ratio = np.hypot(xs[window[1]][None, :] - cloud.x, ys[window[0]][:, None] - cloud.y) / cloud.radius_m
    edge = np.clip((CLOUD_HALO - ratio) / (CLOUD_HALO - 1), 0, 1)
    alpha = (edge * edge * (3 - 2 * edge)).astype("float32")  # smoothstep: opaque core, soft halo
    value = (0.7 - 0.2 * np.minimum(ratio, 1) ** 2).astype("float32")  # brighter towards the core
    return window, ratio, alpha, value


# ---- writing ------------------------------------------------------------------------------
def to_dn(refl: np.ndarray, nodata: np.ndarray, collection: str, offset: bool | None = None) -> np.ndarray:
    """Reflectance → uint16 DN of a collection's convention (or with the +1000 offset when `offset`);
    valid DN ≥ 1 so 0 only means nodata."""
    offset = collection == "sentinel-2-c1-l2a" if offset is None else offset
    dn = np.rint(np.maximum(refl, 1e-4) * 10_000) + (1000 if offset else 0)
    dn = np.clip(dn, 1, 65_535).astype("uint16")
    dn[nodata] = 0
    return dn


def _write_item(world: World, acq: Acquisition, scene: Scene, collection: str, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the catalogue is meant to be shared
    try:
        in_dn = offset_in_dn(world, acq, collection)
        jobs = [(tmp / f"{key}.tif", to_dn(a, scene.nodata[_res(acq, a)], collection, in_dn), _res(acq, a), acq)
                for key, a in scene.refl.items()]
        bad = corrupt_assets(world, acq)
        jobs = [(path, _corrupt(dn, scene.nodata[res], [world.spec.seed, i]) if path.stem in bad else dn, res, a)
                for i, (path, dn, res, a) in enumerate(jobs)]
        jobs.append((tmp / "scl.tif", scene.scl, 20, acq))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda job: write_cog(*job), jobs))  # GDAL compresses without the GIL
        (tmp / "granule_metadata.xml").write_text(granule_metadata_xml(acq))
        item = build_item(world, acq, collection, scene.scl)
        (tmp / "item.json").write_text(json.dumps(item, indent=1))
        marker_text = _marker_text(world, acq, collection)
        (tmp / MARKER).write_text(marker_text)
        if folder.exists() and not _current(folder, marker_text):  # a leftover without its marker, or an older drawing
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished the same item first: theirs is identical
            if not _current(folder, marker_text):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _res(acq: Acquisition, array: np.ndarray) -> int:
    return int(round(acq.size_px * PIXEL_M / array.shape[0]))


def write_cog(path: Path, data: np.ndarray, res: int, acq: Acquisition) -> None:
    """One single-band COG shaped like Earth Search's: 1024² tiles, DEFLATE + predictor 2, overviews."""
    n = data.shape[0]
    # Earth Search's assets all carry overviews; GDAL makes none for a raster that fits one tile
    extra = {"overview_count": 1} if n <= BLOCK else {}
    profile = dict(driver="COG", width=n, height=n, count=1, dtype=data.dtype.name, nodata=0,
                   crs="EPSG:32631", transform=Affine(res, 0, acq.origin_x, 0, -res, acq.origin_y),
                   blocksize=BLOCK, compress="DEFLATE", predictor=2,
                   resampling="nearest" if data.dtype == np.uint8 else "average", **extra)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


# ---- STAC item ----------------------------------------------------------------------------
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
ASSET_META = {  # key: (band name, title, centre wavelength µm, FWHM µm, gsd m)
    "blue": ("B02", "Blue (band 2) - 10m", 0.49, 0.098, 10),
    "green": ("B03", "Green (band 3) - 10m", 0.56, 0.045, 10),
    "red": ("B04", "Red (band 4) - 10m", 0.665, 0.038, 10),
    "nir": ("B08", "NIR 1 (band 8) - 10m", 0.842, 0.145, 10),
    "swir16": ("B11", "SWIR 1 (band 11) - 20m", 1.61, 0.143, 20),
    "swir22": ("B12", "SWIR 2 (band 12) - 20m", 2.19, 0.242, 20),
    "scl": ("SCL", "Scene classification map (SCL)", None, None, 20),
}
SCL_NAMES = {1: "saturated_defective", 2: "dark_features", 3: "cloud_shadow", 4: "vegetation",
             5: "not_vegetated", 6: "water", 7: "unclassified", 8: "medium_proba_clouds",
             9: "high_proba_clouds", 10: "thin_cirrus", 11: "snow_ice"}
_EXT = "https://stac-extensions.github.io/"


def item_id(acq: Acquisition, collection: str) -> str:
    """`S2A_31UES_20260615_0_L2A` (sentinel-2-l2a) or `S2A_T31UES_20260615T100951_L2A` (c1, datatake time)."""
    sat = f"S{acq.platform[-2:].upper()}"
    if collection == "sentinel-2-c1-l2a":
        return f"{sat}_T{acq.mgrs_tile}_{acq.datatake_time:%Y%m%dT%H%M%S}_L2A"
    return f"{sat}_{acq.mgrs_tile}_{acq.sensing_time:%Y%m%d}_0_L2A"


def build_item(world: World, acq: Acquisition, collection: str, scl: np.ndarray) -> dict:
    """The item JSON in Earth Search v1's shape; hrefs are relative to the server root."""
    c1 = collection == "sentinel-2-c1-l2a"
    iid, tile, sat = item_id(acq, collection), acq.mgrs_tile, f"S{acq.platform[-2:].upper()}"
    generated = acq.datatake_time.replace(microsecond=0) + timedelta(hours=2, minutes=26, seconds=5)
    created = _iso(generated + timedelta(minutes=47, seconds=12.5))
    west, south, east, north = acq.bounds
    lon_c, lat_c = world.utm_to_lonlat((west + east) / 2, (south + north) / 2)
    sun_az, sun_el = _sun_angles(float(lon_c), float(lat_c), acq.sensing_time)
    cloud, percentages = _scl_stats(scl)
    props = {
        "created": created, "platform": acq.platform, "constellation": "sentinel-2", "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        **({"proj:code": "EPSG:32631"} if c1 else {"proj:epsg": 32631}),
        "mgrs:utm_zone": int(tile[:2]), "mgrs:latitude_band": tile[2], "mgrs:grid_square": tile[3:],
        "grid:code": f"MGRS-{tile}", "view:sun_azimuth": sun_az, "view:sun_elevation": sun_el,
        **percentages,
        "s2:product_type": "S2MSI2A", "s2:processing_baseline": "05.11",
        "s2:product_uri": f"{sat}_MSIL2A_{acq.datatake_time:%Y%m%dT%H%M%S}_N0511_R{acq.relative_orbit:03d}"
                          f"_T{tile}_{generated:%Y%m%dT%H%M%S}.SAFE",
        "s2:generation_time": _iso(generated), "s2:datatake_type": "INS-NOBS",
        "datetime": _iso(acq.sensing_time),
        **({} if c1 else {"s2:sequence": "0",
                          "earthsearch:boa_offset_applied": radiometry_lie(world, acq, collection) != "flag_false"}),
        "processing:software": {"sentinel2-to-stac": "0.1.1"},
        "updated": created,
    }
    geometry = _footprint(world, acq)
    lons, lats = zip(*geometry["coordinates"][0])
    proj = "projection/v2.0.0" if c1 else "projection/v1.1.0"
    return {
        "type": "Feature", "stac_version": "1.0.0",
        "stac_extensions": [f"{_EXT}{e}/schema.json" for e in (
            "eo/v1.1.0", "view/v1.0.0", proj, "raster/v1.1.0", "mgrs/v1.0.0", "grid/v1.0.0",
            "processing/v1.1.0", "sentinel-2/v1.0.0")],
        "id": iid, "collection": collection, "geometry": geometry,
        "bbox": [min(lons), min(lats), max(lons), max(lats)], "properties": props,
        "links": [
            {"rel": "self", "href": f"collections/{collection}/items/{iid}", "type": "application/geo+json"},
            {"rel": "parent", "href": f"collections/{collection}", "type": "application/json"},
            {"rel": "collection", "href": f"collections/{collection}", "type": "application/json"},
            {"rel": "root", "href": "", "type": "application/json"},
        ],
        "assets": {**{key: _asset(key, acq, collection, iid) for key in ASSET_META},
                   "granule_metadata": {"href": f"data/{collection}/{iid}/granule_metadata.xml",
                                        "type": "application/xml", "roles": ["metadata"]}},
    }


def _asset(key: str, acq: Acquisition, collection: str, iid: str) -> dict:
    name, title, wavelength, fwhm, gsd = ASSET_META[key]
    n = int(round(acq.size_px * PIXEL_M / gsd))
    asset = {"href": f"data/{collection}/{iid}/{key}.tif", "type": COG_TYPE, "title": title}
    if wavelength is not None:
        asset["eo:bands"] = [{"name": name, "common_name": key, "center_wavelength": wavelength,
                              "full_width_half_max": fwhm}]
        bands = {"nodata": 0, "data_type": "uint16", "bits_per_sample": 15, "spatial_resolution": gsd,
                 "scale": 0.0001, "offset": -0.1}  # as published, even where the offset is already applied
    else:
        bands = {"nodata": 0, "data_type": "uint8", "spatial_resolution": gsd, "unit": "none"}
    asset.update({"gsd": gsd, "proj:shape": [n, n],
                  "proj:transform": [gsd, 0, acq.origin_x, 0, -gsd, acq.origin_y],
                  "raster:bands": [bands], "roles": ["data", "reflectance"]})
    return asset


def _footprint(world: World, acq: Acquisition) -> dict:
    """Valid-data polygon (counter-clockwise): the granule minus the swath-edge wedge."""
    west, south, east, north = acq.bounds
    xs = [west, west + acq.nodata_wedge * (east - west), east, east, west]
    ys = [north, south, south, north, north]
    lon, lat = world.utm_to_lonlat(xs, ys)
    return {"type": "Polygon", "coordinates": [[[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]]}


def _scl_stats(scl: np.ndarray) -> tuple[float, dict]:
    """Cloud cover and the s2:*_percentage properties (nodata of all pixels, classes of valid ones)."""
    counts = np.bincount(scl.ravel(), minlength=12)
    valid = max(int(counts[1:].sum()), 1)
    stats = {"s2:nodata_pixel_percentage": round(100 * counts[0] / scl.size, 6)}
    stats.update({f"s2:{name}_percentage": round(100 * counts[k] / valid, 6) for k, name in SCL_NAMES.items()})
    return round(100 * int(counts[8] + counts[9] + counts[10]) / valid, 6), stats


def _sun_angles(lon: float, lat: float, when: datetime) -> tuple[float, float]:
    """Solar azimuth and elevation in degrees (NOAA's low-precision formulas; ~0.5° is plenty)."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (when.timetuple().tm_yday - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    ha = math.radians((hour * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    elevation = math.degrees(math.asin(math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)))
    x, y = math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi), math.sin(ha)
    azimuth = 180 + math.degrees(math.atan2(y, x))  # atan2 gives it from south; STAC wants it from north
    return round(azimuth % 360, 6), round(elevation, 6)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
