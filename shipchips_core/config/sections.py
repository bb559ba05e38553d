"""The small sections: areas of interest, partitions, planning, matching and splits."""

from __future__ import annotations

from dataclasses import dataclass

from shipchips_core.config.validation import ConfigError, positive


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


@dataclass(frozen=True)
class PlanConfig:
    lag_days: int = 3
    # the catalogue's acquisitions over the areas in the days before D predict D's overpasses
    history_days: int = 20
    # the fallback where that history has none: the descending node at 10:30 mean local solar time
    overpass_local_solar_hour: float = 10.5
    window_hours: float = 24.0

    def validate(self, key: str) -> None:
        if self.lag_days < 0:
            raise ConfigError(f"{key}.lag_days must be >= 0, got {self.lag_days}")
        positive(f"{key}.history_days", self.history_days)
        positive(f"{key}.window_hours", self.window_hours)


@dataclass(frozen=True)
class MatchingConfig:
    max_gap_seconds: float = 600.0
    max_uncertainty_m: float = 50.0

    def validate(self, key: str) -> None:
        positive(f"{key}.max_gap_seconds", self.max_gap_seconds)
        positive(f"{key}.max_uncertainty_m", self.max_uncertainty_m)


@dataclass(frozen=True)
class SplitsConfig:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def validate(self, key: str) -> None:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9 or min(self.train, self.val, self.test) < 0:
            raise ConfigError(f"{key} fractions must be >= 0 and sum to 1, got {total}")
