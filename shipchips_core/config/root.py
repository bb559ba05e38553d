"""`Config`: every section together, and the digest of the settings that shape the products."""

from __future__ import annotations

from dataclasses import dataclass, field

from shipchips_core.config.ais import COLLECTOR_TUNING_KEYS, AisConfig
from shipchips_core.config.chips import ChipsConfig
from shipchips_core.config.provenance import config_digest
from shipchips_core.config.sections import (
    AreaOfInterest,
    MatchingConfig,
    PartitionsConfig,
    PlanConfig,
    SplitsConfig,
)
from shipchips_core.config.s3 import S3Config
from shipchips_core.config.stac import StacConfig
from shipchips_core.config.validation import ConfigError

EXECUTION_ONLY_CHIP_KEYS = ("workers", "min_chips_per_worker", "executor", "dask_scheduler")
EXECUTION_ONLY_KEYS = {"chips": EXECUTION_ONLY_CHIP_KEYS, "ais": COLLECTOR_TUNING_KEYS}


@dataclass(frozen=True)
class Config:
    dataset_root: str = "./dataset_root"  # a folder, or s3://bucket/prefix (reached as `s3` says)
    s3: S3Config = field(default_factory=S3Config)
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

    @property
    def areas_bbox(self) -> tuple[float, float, float, float]:
        """[min_lon, min_lat, max_lon, max_lat] around every area of interest (what the STAC searches cover)."""
        return (
            min(a.bbox[0] for a in self.areas),
            min(a.bbox[1] for a in self.areas),
            max(a.bbox[2] for a in self.areas),
            max(a.bbox[3] for a in self.areas),
        )

    def digest(self) -> str:
        """A short hash of the settings that shape the products, recorded as provenance in every
        chip (`provenance.config_digest`): settings that change no output byte (where products are
        stored, how many processes make them, timeouts, retries, the collector's knobs) are left out."""
        return config_digest(self)
