"""`Config`: every section together, and the digest of the settings that shape the products."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ais import COLLECTOR_TUNING_KEYS, AisConfig
from .chips import ChipsConfig
from .sections import (
    AreaOfInterest,
    MatchingConfig,
    PartitionsConfig,
    PlanConfig,
    SplitsConfig,
)
from .provenance import config_digest
from .stac import StacConfig
from .validation import ConfigError

EXECUTION_ONLY_CHIP_KEYS = ("workers", "min_chips_per_worker")
EXECUTION_ONLY_KEYS = {"chips": EXECUTION_ONLY_CHIP_KEYS, "ais": COLLECTOR_TUNING_KEYS}


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
        chip (`provenance.config_digest`): settings that change no output byte (where products are
        stored, how many processes make them, timeouts, retries, the collector's knobs) are left out."""
        return config_digest(self)
