"""The `chips` section: chip size, band stack, water threshold, gating limits, worker processes and executor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from shipchips_core.config.validation import ConfigError, positive
from shipchips_core.sentinel2.bands import STACK_ASSETS

EXECUTORS = ("local", "dask")


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
    # share of valid pixels with a band beyond any surface reflectance (or SCL saturated/defective)
    max_corrupt_fraction: float = 0.001

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
    # the DN → reflectance rule: verified on each scene's dark pixels and applied ("pixels"), verified
    # but only recorded ("metadata"), or taken from the metadata unchecked ("off")
    radiometry_check: str = "pixels"
    # chipping processes per partition (each takes a contiguous, tile-sorted slice of the chips)
    workers: int = 2
    # below this many chips per process, extra processes cost more than they save (on Dask: the
    # smallest slice of a scene that is one task)
    min_chips_per_worker: int = 150
    # where the slices are cut: "local" worker processes, or the tasks of a Dask distributed cluster
    executor: str = "local"
    # the Dask scheduler's address (tcp://host:8786); empty: $SHIPCHIPS_DASK_SCHEDULER
    dask_scheduler: str = ""

    def validate(self, key: str) -> None:
        if self.stack not in STACK_ASSETS:
            raise ConfigError(f"{key}.stack must be 'rgbn' or 'rgbn_swir', got {self.stack!r}")
        if self.size <= 0 or self.size % 2:
            raise ConfigError(f"{key}.size must be a positive even number, got {self.size}")
        if not -1 <= self.ndwi_water_threshold <= 1:
            raise ConfigError(f"{key}.ndwi_water_threshold must be within -1..1, got {self.ndwi_water_threshold}")
        if self.gating.centre_px > self.size:
            raise ConfigError(f"{key}.gating.centre_px must be <= {key}.size")
        if self.radiometry_check not in ("pixels", "metadata", "off"):
            raise ConfigError(f"{key}.radiometry_check must be 'pixels', 'metadata' or 'off', got {self.radiometry_check!r}")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"{key}.executor must be 'local' or 'dask', got {self.executor!r}")
        positive(f"{key}.workers", self.workers)
        positive(f"{key}.min_chips_per_worker", self.min_chips_per_worker)

    @property
    def band_assets(self) -> tuple[str, ...]:
        return STACK_ASSETS[self.stack]
