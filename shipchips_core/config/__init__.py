"""Typed, validated configuration: `config.yaml` + environment overrides + `.env` secrets.

Every key has a default. A bad key or value fails at start-up with the key's dotted name.
Environment overrides use `SHIPCHIPS__SECTION__KEY=value` (parsed as YAML scalars), so the
demo and the tests point the *same* shipped config at the offline twin by changing endpoints only.
Secrets (`AISSTREAM_API_KEY`) are read from the environment or `.env` and never stored here.

One module per group of sections (`sections`, `ais`, `stac`, `chips`), the root `Config` in
`root`, and reading it in `loading`; this package re-exports the public names.
"""

from shipchips_core.config.ais import ARCHIVE_FORMATS, AisConfig, ArchiveSource
from shipchips_core.config.chips import ChipsConfig, GatingConfig
from shipchips_core.config.loading import CONFIG_ENV, OVERRIDE_PREFIX, load_config, load_secret, missing_secret
from shipchips_core.config.root import EXECUTION_ONLY_CHIP_KEYS, Config
from shipchips_core.config.sections import (
    AreaOfInterest,
    MatchingConfig,
    PartitionsConfig,
    PlanConfig,
    SplitsConfig,
)
from shipchips_core.config.s3 import S3Config
from shipchips_core.config.stac import DEFAULT_COLLECTIONS, StacApi, StacConfig
from shipchips_core.config.validation import ConfigError

__all__ = [
    "ARCHIVE_FORMATS", "CONFIG_ENV", "DEFAULT_COLLECTIONS", "EXECUTION_ONLY_CHIP_KEYS", "OVERRIDE_PREFIX",
    "AisConfig", "ArchiveSource", "AreaOfInterest", "ChipsConfig", "Config", "ConfigError",
    "GatingConfig", "MatchingConfig", "PartitionsConfig", "PlanConfig", "S3Config", "SplitsConfig", "StacApi", "StacConfig",
    "load_config", "load_secret", "missing_secret",
]
