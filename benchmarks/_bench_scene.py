"""A full-size, Earth-Search-shaped Sentinel-2 L2A scene with ship traffic, generated once and cached.

The twin's renderer (`shipchips_twin.scenes.render_scene`) holds every band of a granule as
float32 in memory at once, which for a real 10980² granule is several GB; this generator renders
band by band in 1024-row strips instead (a few hundred MB peak), writes each strip into an
uncompressed tiled GeoTIFF and turns that into a COG shaped like Earth Search's (1024² tiles,
DEFLATE + predictor 2, overviews). Band reflectances, noise levels, cloud shape, DN convention and
the item JSON are the twin's (`BANDS_10M`, `_cloud_layer`, `to_dn`, `build_item`).

Layout under `cache_dir/{key}/`: `catalog/sentinel-2-l2a/{item_id}/{asset}.tif`, `item.json`,
`.complete` (the twin's layout, so `stac_server.create_app` serves it), `ships.json`, and
`READY.json` (generation facts) written last. The folder is built under a temporary name and renamed.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine

from shipchips_twin.scenes import (
    BANDS_10M,
    BANDS_20M,
    CLOUD_HALO,
    MARKER,
    NOISE_LAND,
    NOISE_WATER,
    _cloud_layer,
    build_item,
    item_id,
    to_dn,
)
from shipchips_twin.world import Acquisition, Cloud, World

COLLECTION = "sentinel-2-l2a"
SEED = 20260615
BLOCK = 1024
ORIGIN = (499_980.0, 5_800_020.0)  # top-left corner of MGRS tile 31UET's 10 m grid
SENSING_TIME = datetime(2026, 6, 15, 10, 56, 21, 24000, tzinfo=UTC)
EDGE_MARGIN_M = 1_400.0  # ships stay this far from the scene edge: every 256 px chip lies inside
LAND_CLEARANCE_M = 300.0
SUPERSAMPLE = 4
READY = "READY.json"
VERSION = 1  # bump when the generator's output changes


@dataclass(frozen=True)
class Lane:
    """A shipping lane in scene fractions (u east, v south), its share of traffic and a congestion spot."""

    start: tuple[float, float]
    end: tuple[float, float]
    weight: float
    hotspot: float  # fraction along the lane where traffic bunches up (a junction, a port approach)
    two_way: bool


LANES = (
    Lane((0.00, 0.30), (1.00, 0.22), 0.30, 0.35, False),  # traffic separation scheme, eastbound
    Lane((1.00, 0.27), (0.00, 0.35), 0.22, 0.60, False),  # ... and westbound
    Lane((0.10, 1.00), (0.80, 0.00), 0.23, 0.50, True),  # a crossing route
    Lane((0.00, 0.72), (0.84, 0.62), 0.17, 0.92, True),  # the port approach
)
ANCHORAGE = (0.77, 0.55, 0.018)  # centre u, v and radius (fraction of the side): 8 % of ships
ANCHORED_SHARE = 0.08


@dataclass(frozen=True)
class Geometry:
    """The scene's 10 m grid and its land: a coast along the east edge and an island."""

    size_px: int
    origin_x: float = ORIGIN[0]
    origin_y: float = ORIGIN[1]

    @property
    def side_m(self) -> float:
        return self.size_px * 10.0

    def grid(self, res: int) -> tuple[int, Affine]:
        return int(round(self.side_m / res)), Affine(res, 0, self.origin_x, 0, -res, self.origin_y)

    def is_land(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = (np.asarray(x) - self.origin_x) / self.side_m, (self.origin_y - np.asarray(y)) / self.side_m
        coast = u > 0.86 + 0.03 * np.sin(6 * np.pi * v) + 0.02 * v
        island = ((u - 0.62) / 0.03) ** 2 + ((v - 0.86) / 0.015) ** 2 < 1
        return coast | island


@dataclass(frozen=True)
class BenchScene:
    root: Path
    catalog_dir: Path
    item: dict  # asset hrefs relative to the server root (`data/...`)
    ships: list[dict]
    generation_s: float
    generated_now: bool

    def local_path(self, asset: str) -> Path:
        return self.catalog_dir / self.item["assets"][asset]["href"].removeprefix("data/")


# ---- public API -------------------------------------------------------------------------------
def ensure_scene(cache_dir: str | Path, size_px: int = 10980, n_ships: int = 1000, seed: int = SEED) -> BenchScene:
    """The cached scene for these parameters, generated first if missing."""
    cache_dir = Path(cache_dir).expanduser()
    root = cache_dir / f"s2l2a-{size_px}px-{n_ships}ships-seed{seed}-v{VERSION}"
    generated_now = False
    if not (root / READY).exists():
        _generate(root, size_px, n_ships, seed)
        generated_now = True
    ready = json.loads((root / READY).read_text())
    item = json.loads((root / ready["item"]).read_text())
    ships = json.loads((root / "ships.json").read_text())
    return BenchScene(root, root / "catalog", item, ships, ready["generation_s"], generated_now)


def _generate(root: Path, size_px: int, n_ships: int, seed: int) -> None:
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        t0 = time.perf_counter()
        geom = Geometry(size_px)
        ships = place_ships(geom, n_ships, seed)
        clouds = _clouds(geom, seed)
        acq = _acquisition(geom)
        folder = tmp / "catalog" / COLLECTION / item_id(acq, COLLECTION)
        folder.mkdir(parents=True)
        scl = render_assets(geom, ships, clouds, seed, folder)
        item = build_item(World(), acq, COLLECTION, scl)
        (folder / "item.json").write_text(json.dumps(item, indent=1))
        (folder / MARKER).write_text("")
        (tmp / "ships.json").write_text(json.dumps(ships))
        ready = {"generation_s": round(time.perf_counter() - t0, 2), "size_px": size_px, "n_ships": n_ships,
                 "seed": seed, "item": str((folder / "item.json").relative_to(tmp)),
                 "created_utc": datetime.now(UTC).isoformat(timespec="seconds")}
        (tmp / READY).write_text(json.dumps(ready, indent=1))  # last: the folder is complete
        if root.exists():  # a leftover without its marker
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- ships ------------------------------------------------------------------------------------
def place_ships(geom: Geometry, n: int, seed: int) -> list[dict]:
    """`n` ships on the lanes (bunched at each lane's hotspot) and at an anchorage, all on open water
    inside the scene; deterministic for a seed. Returned in random order (not grouped by lane)."""
    rng = np.random.default_rng([seed, 1])
    ships: list[dict] = []
    while len(ships) < n:
        ship = _candidate_ship(geom, rng)
        if _placeable(geom, ship["x"], ship["y"]):
            ships.append(ship)
    for i, ship in enumerate(ships):
        mid = (244, 245, 211, 219, 235, 257, 636)[i % 7]
        ship["mmsi"] = mid * 1_000_000 + 100_000 + i
    return ships


def _candidate_ship(geom: Geometry, rng: np.random.Generator) -> dict:
    side, ox, oy = geom.side_m, geom.origin_x, geom.origin_y
    large = rng.random() < 0.65
    length = float(rng.uniform(60, 300) if large else rng.uniform(10, 40))
    ship = {"length_m": round(length, 1), "beam_m": round(length * rng.uniform(0.13, 0.18), 1)}
    if rng.random() < ANCHORED_SHARE:
        cu, cv, radius = ANCHORAGE
        ang, r = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.random())
        u, v = cu + r * math.cos(ang), cv + r * math.sin(ang)
        return {**ship, "x": ox + u * side, "y": oy - v * side, "heading_deg": float(rng.uniform(0, 360)),
                "sog_kn": 0.0, "lane": "anchorage"}
    weights = np.array([lane.weight for lane in LANES])
    k = int(rng.choice(len(LANES), p=weights / weights.sum()))
    lane = LANES[k]
    t = rng.normal(lane.hotspot, 0.06) if rng.random() < 0.35 else rng.random()
    du, dv = lane.end[0] - lane.start[0], lane.end[1] - lane.start[1]
    norm = math.hypot(du, dv)
    offset = rng.normal(0.0, 300.0) / side  # across the lane
    u = lane.start[0] + t * du - dv / norm * offset
    v = lane.start[1] + t * dv + du / norm * offset
    heading = math.degrees(math.atan2(du, -dv))  # v grows southwards
    if lane.two_way and rng.random() < 0.5:
        heading += 180.0
    return {**ship, "x": ox + u * side, "y": oy - v * side, "heading_deg": float((heading + rng.normal(0, 3)) % 360),
            "sog_kn": float(rng.uniform(8, 18) if large else rng.uniform(4, 12)), "lane": f"lane{k + 1}"}


def _placeable(geom: Geometry, x: float, y: float) -> bool:
    m, c = EDGE_MARGIN_M, LAND_CLEARANCE_M
    west, north = geom.origin_x, geom.origin_y
    if not (west + m <= x <= west + geom.side_m - m and north - geom.side_m + m <= y <= north - m):
        return False
    xs, ys = np.array([x, x - c, x + c, x, x]), np.array([y, y, y, y - c, y + c])
    return not geom.is_land(xs, ys).any()


def _clouds(geom: Geometry, seed: int) -> tuple[Cloud, ...]:
    rng = np.random.default_rng([seed, 2])
    side = geom.side_m
    return tuple(Cloud(geom.origin_x + rng.uniform(0.05, 0.95) * side, geom.origin_y - rng.uniform(0.05, 0.95) * side,
                       rng.uniform(0.012, 0.035) * side) for _ in range(5))


def _acquisition(geom: Geometry) -> Acquisition:
    return Acquisition(mgrs_tile="31UET", platform="sentinel-2a", sensing_time=SENSING_TIME,
                       datatake_time=SENSING_TIME - timedelta(minutes=4, seconds=33), origin_x=geom.origin_x,
                       origin_y=geom.origin_y, size_px=geom.size_px, relative_orbit=51)


# ---- rendering --------------------------------------------------------------------------------
def render_assets(geom: Geometry, ships: list[dict], clouds, seed: int, folder: Path) -> np.ndarray:
    """Write every asset's COG into `folder`; returns the 20 m SCL (for the item's statistics)."""
    for res, bands in ((10, BANDS_10M), (20, BANDS_20M)):
        n, transform = geom.grid(res)
        patches = [_hull_patch(geom, s, res) for s in ships]
        scl = np.zeros((n, n), dtype="uint8") if res == 20 else None
        for band_index, band in enumerate(bands):
            with _TiledWriter(folder / f"{band.key}.tif", n, transform, "uint16") as out:
                for r0 in range(0, n, BLOCK):
                    r1 = min(r0 + BLOCK, n)
                    img, strip_scl = _render_strip(geom, res, r0, r1, band, patches, clouds, [seed, res, band_index, r0])
                    out.write(to_dn(img, np.zeros(img.shape, bool), COLLECTION), r0)
                    if scl is not None and band_index == 0:
                        scl[r0:r1] = strip_scl
    with _TiledWriter(folder / "scl.tif", scl.shape[0], geom.grid(20)[1], "uint8") as out:
        out.write(scl, 0)
    return scl


def _render_strip(geom: Geometry, res: int, r0: int, r1: int, band, patches, clouds, seed) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance of rows [r0, r1) of one band, and the strip's SCL."""
    n = geom.grid(res)[0]
    xs = geom.origin_x + (np.arange(n) + 0.5) * res
    ys = geom.origin_y - (np.arange(r0, r1) + 0.5) * res
    land = geom.is_land(xs[None, :], ys[:, None])
    # gentle large-scale variation over the sea (sun glint, turbidity) on top of sensor noise
    swell = (np.sin(2 * np.pi * ys / 8300)[:, None] * np.cos(2 * np.pi * xs / 5100)[None, :]).astype("float32")
    noise = np.random.default_rng(seed).standard_normal(land.shape, dtype=np.float32)
    img = np.where(land, np.float32(band.land), np.float32(band.water) + np.float32(0.15 * band.water) * swell)
    img += noise * np.where(land, np.float32(NOISE_LAND), np.float32(NOISE_WATER))
    for pr0, pc0, f_hull, f_bridge in patches:
        a, b = max(pr0, r0), min(pr0 + f_hull.shape[0], r1)
        if a < b:
            win = (slice(a - r0, b - r0), slice(pc0, pc0 + f_hull.shape[1]))
            fh, fb = f_hull[a - pr0:b - pr0], f_bridge[a - pr0:b - pr0]
            img[win] = img[win] * (1 - fh - fb) + band.ship * fh + band.bridge * fb
    scl = np.where(land, 4, 6).astype("uint8")
    for cloud in clouds:
        window, ratio, alpha, value = _cloud_layer(cloud, xs, ys)
        img[window] = img[window] * (1 - alpha) + value * alpha
        scl[window] = np.maximum(scl[window], np.where(ratio < 1, 9, np.where(ratio < CLOUD_HALO, 8, 0)))
    return img, scl


def _hull_patch(geom: Geometry, ship: dict, res: int) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(row0, col0, hull fraction, superstructure fraction) of the pixels around one ship, 4×4
    sub-samples per pixel; a hull with a pointed bow, the superstructure block at the position."""
    x, y, length, beam = ship["x"], ship["y"], ship["length_m"], ship["beam_m"]
    reach = length / 2 + beam + 10
    c0, c1 = int((x - reach - geom.origin_x) // res), int((x + reach - geom.origin_x) // res) + 1
    r0, r1 = int((geom.origin_y - y - reach) // res), int((geom.origin_y - y + reach) // res) + 1
    sub = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    dx = geom.origin_x + (np.arange(c0, c1)[:, None] + sub).ravel() * res - x
    dy = geom.origin_y - (np.arange(r0, r1)[:, None] + sub).ravel() * res - y
    h = math.radians(ship["heading_deg"])
    along = dx[None, :] * math.sin(h) + dy[:, None] * math.cos(h)
    across = dx[None, :] * math.cos(h) - dy[:, None] * math.sin(h)
    half = beam / 2 * np.clip((length / 2 - along) / (0.2 * length), 0, 1)
    hull = (np.abs(along) <= length / 2) & (np.abs(across) <= half)
    bridge = hull & (np.abs(along) <= 5) & (np.abs(across) <= 5)

    def fraction(mask):
        return mask.reshape(r1 - r0, SUPERSAMPLE, c1 - c0, SUPERSAMPLE).mean(axis=(1, 3)).astype("float32")

    return r0, c0, fraction(hull & ~bridge), fraction(bridge)


class _TiledWriter:
    """Strips into an uncompressed tiled GeoTIFF, then converted to the final COG on close."""

    def __init__(self, path: Path, n: int, transform: Affine, dtype: str):
        self.path, self.n, self.dtype = path, n, dtype
        self.tmp = path.with_suffix(".strips.tif")
        self.ds = rasterio.open(self.tmp, "w", driver="GTiff", width=n, height=n, count=1, dtype=dtype, nodata=0,
                                crs="EPSG:32631", transform=transform, tiled=True, blockxsize=BLOCK, blockysize=BLOCK)

    def write(self, data: np.ndarray, row0: int) -> None:
        self.ds.write(data, 1, window=rasterio.windows.Window(0, row0, self.n, data.shape[0]))

    def __enter__(self) -> _TiledWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.ds.close()
        try:
            if exc_type is None:
                # Earth Search's assets all carry overviews; GDAL makes none for a raster that fits one tile
                extra = {"OVERVIEW_COUNT": 1} if self.n <= BLOCK else {}
                rasterio.shutil.copy(self.tmp, self.path, driver="COG", BLOCKSIZE=BLOCK, COMPRESS="DEFLATE",
                                     PREDICTOR=2, NUM_THREADS="ALL_CPUS",
                                     RESAMPLING="NEAREST" if self.dtype == "uint8" else "AVERAGE", **extra)
        finally:
            self.tmp.unlink(missing_ok=True)
