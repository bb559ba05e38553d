"""Typed, validated configuration: `config.yaml` + environment overrides + `.env` secrets.

Every key has a default. A bad key or value fails at start-up with the key's dotted name.
Environment overrides use `SHIPCHIPS__SECTION__KEY=value` (parsed as YAML scalars), so the
demo and the tests point the *same* shipped config at the offline twin by changing endpoints only.
Secrets (`AISSTREAM_API_KEY`) are read from the environment or `.env` and never stored here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import types
import typing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

CONFIG_ENV = "SHIPCHIPS_CONFIG"
EXECUTION_ONLY_CHIP_KEYS = ("workers", "min_chips_per_worker")
OVERRIDE_PREFIX = "SHIPCHIPS__"


class ConfigError(ValueError):
    """A configuration key is unknown or has a bad value; the message names the key."""


@dataclass(frozen=True)
class AreaOfInterest:
    name: str = "north_sea_demo"
    # [min_lon, min_lat, max_lon, max_lat], WGS84
    bbox: tuple[float, float, float, float] = (3.55, 52.05, 4.15, 52.28)

    def validate(self, key: str) -> None:
        w, s, e, n = self.bbox
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise ConfigError(f"{key}.bbox must be [min_lon, min_lat, max_lon, max_lat], got {list(self.bbox)}")


@dataclass(frozen=True)
class PartitionsConfig:
    start_date: str = "2024-01-01"


ARCHIVE_FORMATS = ("noaa", "dma")


@dataclass(frozen=True)
class ArchiveSource:
    """Daily archive files that feed `ais_snapshots` for the days start_date..end_date (inclusive)
    instead of the collector's landing files: a backfill over past dates."""

    # noaa: MarineCadastre AIS_YYYY_MM_DD.zip/.csv and ais-YYYY-MM-DD.csv.zst; dma: aisdk-YYYY-MM-DD.csv/.zip
    format: str = "noaa"
    start_date: str = "2015-01-01"
    end_date: str = "2024-12-31"
    # a path (relative to the working directory) or http(s) URL; `{date:%Y_%m_%d}` names the day's file
    location: str = ""

    def validate(self, key: str) -> None:
        if self.format not in ARCHIVE_FORMATS:
            raise ConfigError(f"{key}.format must be one of {list(ARCHIVE_FORMATS)}, got {self.format!r}")
        start, end = _iso_date(f"{key}.start_date", self.start_date), _iso_date(f"{key}.end_date", self.end_date)
        if end < start:
            raise ConfigError(f"{key}.end_date {self.end_date} is before {key}.start_date {self.start_date}")
        if not self.location:
            raise ConfigError(f"{key}.location must name the daily files (a path or http(s) URL template)")
        try:
            same = self.location.format(date=start) == self.location.format(date=end + timedelta(days=1))
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{key}.location {self.location!r} is not a valid template ({exc!r}); "
                              "use e.g. {date:%Y_%m_%d}") from None
        if same and start != end:
            raise ConfigError(f"{key}.location must contain a {{date:...}} field: it names one file for many days")

    def covers(self, day: date) -> bool:
        return date.fromisoformat(self.start_date) <= day <= date.fromisoformat(self.end_date)

    def location_for(self, day: date) -> str:
        return self.location.format(date=day)


@dataclass(frozen=True)
class AisConfig:
    source: str = "aisstream"
    url: str = "wss://stream.aisstream.io/v0/stream"
    message_types: tuple[str, ...] = (
        "PositionReport",
        "StandardClassBPositionReport",
        "ShipStaticData",
        "StaticDataReport",
    )
    # landing files are closed and renamed after this many messages or seconds
    flush_messages: int = 5000
    flush_seconds: float = 5.0
    connect_timeout_seconds: float = 10.0
    # days covered by an entry are read from its archive files; every other day from the landing files
    archives: tuple[ArchiveSource, ...] = ()

    def validate(self, key: str) -> None:
        if self.source not in ("aisstream",):
            raise ConfigError(f"{key}.source must be 'aisstream', got {self.source!r}")
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"{key}.url must be a ws:// or wss:// URL, got {self.url!r}")
        _positive(f"{key}.flush_messages", self.flush_messages)
        _positive(f"{key}.flush_seconds", self.flush_seconds)
        ranges = sorted((date.fromisoformat(a.start_date), date.fromisoformat(a.end_date), i)
                        for i, a in enumerate(self.archives))  # each entry is validated already
        for (_, end, i), (start, _, j) in itertools.pairwise(ranges):
            if start <= end:
                raise ConfigError(f"{key}.archives[{max(i, j)}] overlaps {key}.archives[{min(i, j)}]: "
                                  "a day must have one source")

    def archive_for(self, day: date) -> ArchiveSource | None:
        """The archive entry covering `day`, or None: the day is read from the landing files."""
        return next((a for a in self.archives if a.covers(day)), None)


def _iso_date(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{key} must be a date YYYY-MM-DD (quoted in YAML), got {value!r}") from None


@dataclass(frozen=True)
class StacConfig:
    url: str = "https://earth-search.aws.element84.com/v1"
    collections: tuple[str, ...] = ("sentinel-2-l2a",)
    max_cloud_cover: float = 30.0
    timeout_seconds: float = 30.0
    max_retries: int = 4

    def validate(self, key: str) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"{key}.url must be an http(s) URL, got {self.url!r}")
        if not 0 <= self.max_cloud_cover <= 100:
            raise ConfigError(f"{key}.max_cloud_cover must be within 0..100, got {self.max_cloud_cover}")
        if not self.collections:
            raise ConfigError(f"{key}.collections must name at least one collection")


@dataclass(frozen=True)
class PlanConfig:
    lag_days: int = 3
    # Sentinel-2 crosses the descending node at 10:30 mean local solar time
    overpass_local_solar_hour: float = 10.5
    window_hours: float = 24.0

    def validate(self, key: str) -> None:
        if self.lag_days < 0:
            raise ConfigError(f"{key}.lag_days must be >= 0, got {self.lag_days}")
        _positive(f"{key}.window_hours", self.window_hours)


@dataclass(frozen=True)
class MatchingConfig:
    max_gap_seconds: float = 600.0
    max_uncertainty_m: float = 50.0

    def validate(self, key: str) -> None:
        _positive(f"{key}.max_gap_seconds", self.max_gap_seconds)
        _positive(f"{key}.max_uncertainty_m", self.max_uncertainty_m)


@dataclass(frozen=True)
class GatingConfig:
    """A chip is dropped when any fraction exceeds its limit ("centre" = the central square)."""

    centre_px: int = 32
    max_nodata_fraction: float = 0.5
    max_centre_nodata_fraction: float = 0.0
    max_cloud_fraction: float = 0.8
    max_centre_cloud_fraction: float = 0.25
    max_land_fraction: float = 0.9
    max_centre_land_fraction: float = 0.5

    def validate(self, key: str) -> None:
        for name, value in dataclasses.asdict(self).items():
            if name.startswith("max_") and not 0 <= value <= 1:
                raise ConfigError(f"{key}.{name} must be within 0..1, got {value}")
        if self.centre_px <= 0:
            raise ConfigError(f"{key}.centre_px must be > 0, got {self.centre_px}")


@dataclass(frozen=True)
class ChipsConfig:
    size: int = 256
    stack: str = "rgbn"
    # NDWI = (B03 - B08) / (B03 + B08) above this is water
    ndwi_water_threshold: float = 0.0
    gating: GatingConfig = field(default_factory=GatingConfig)
    quicklook: bool = True
    # chipping processes per partition (each takes a contiguous, tile-sorted slice of the chips)
    workers: int = 2
    # below this many chips per process, extra processes cost more than they save
    min_chips_per_worker: int = 150

    def validate(self, key: str) -> None:
        if self.stack not in ("rgbn", "rgbn_swir"):
            raise ConfigError(f"{key}.stack must be 'rgbn' or 'rgbn_swir', got {self.stack!r}")
        if self.size <= 0 or self.size % 2:
            raise ConfigError(f"{key}.size must be a positive even number, got {self.size}")
        if not -1 <= self.ndwi_water_threshold <= 1:
            raise ConfigError(f"{key}.ndwi_water_threshold must be within -1..1, got {self.ndwi_water_threshold}")
        if self.gating.centre_px > self.size:
            raise ConfigError(f"{key}.gating.centre_px must be <= {key}.size")
        _positive(f"{key}.workers", self.workers)
        _positive(f"{key}.min_chips_per_worker", self.min_chips_per_worker)


@dataclass(frozen=True)
class SplitsConfig:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def validate(self, key: str) -> None:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9 or min(self.train, self.val, self.test) < 0:
            raise ConfigError(f"{key} fractions must be >= 0 and sum to 1, got {total}")


@dataclass(frozen=True)
class Config:
    dataset_root: str = "./dataset_root"
    partitions: PartitionsConfig = field(default_factory=PartitionsConfig)
    areas: tuple[AreaOfInterest, ...] = (AreaOfInterest(),)
    ais: AisConfig = field(default_factory=AisConfig)
    stac: StacConfig = field(default_factory=StacConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    chips: ChipsConfig = field(default_factory=ChipsConfig)
    splits: SplitsConfig = field(default_factory=SplitsConfig)

    def validate(self, key: str) -> None:
        if not self.areas:
            raise ConfigError("areas must hold at least one area of interest")

    def digest(self) -> str:
        """A short hash of the settings that shape the products, recorded as provenance in every
        chip. Where they are stored and how many processes make them change no byte: left out."""
        settings = dataclasses.asdict(self)
        settings.pop("dataset_root")
        for key in EXECUTION_ONLY_CHIP_KEYS:
            settings["chips"].pop(key)
        blob = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def _coerce(key: str, tp: typing.Any, value: typing.Any) -> typing.Any:
    """Turn a YAML value into the annotated type, or raise ConfigError naming `key`."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(key, tp, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(f"{key}[{i}]", args[0], v) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key} must have {len(args)} items, got {len(value)}")
        return tuple(_coerce(f"{key}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value)))
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def _build(prefix: str, cls: type, data: typing.Any) -> typing.Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(data) - names):
        raise ConfigError(f"unknown config key {_join(prefix, unknown)!r}")
    kwargs = {name: _coerce(_join(prefix, name), hints[name], value) for name, value in data.items()}
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(prefix)
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _apply_env_overrides(data: dict, environ: typing.Mapping[str, str]) -> dict:
    for env_key, raw in sorted(environ.items()):
        if not env_key.startswith(OVERRIDE_PREFIX):
            continue
        path = [p.lower() for p in env_key[len(OVERRIDE_PREFIX) :].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{env_key} overrides a non-mapping key {'.'.join(path)!r}")
        node[path[-1]] = yaml.safe_load(raw)
    return data


def load_config(path: str | os.PathLike | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    """Load `path` (or $SHIPCHIPS_CONFIG, or ./config.yaml if present), apply env overrides, validate."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get(CONFIG_ENV) or ("config.yaml" if Path("config.yaml").exists() else None)
    data: dict = {}
    if path is not None:
        text = Path(path).read_text()
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    data = _apply_env_overrides(data, environ)
    return _build("", Config, data)


def load_secret(name: str, env_file: str | os.PathLike = ".env") -> str | None:
    """A secret from the environment, else from `.env`; never logged or stored."""
    if os.environ.get(name):
        return os.environ[name]
    if Path(env_file).exists():
        from dotenv import dotenv_values

        return dotenv_values(env_file).get(name) or None
    return None
