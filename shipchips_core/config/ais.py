"""The `ais` section: the live collector's endpoint and landing, and the archives for backfills."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

from shipchips_core.config.validation import ConfigError, iso_date, positive

ARCHIVE_FORMATS = ("noaa", "dma")
# the live collector's reconnect, memory and logging knobs: they change no byte of the products
COLLECTOR_TUNING_KEYS = ("reconnect_base_seconds", "reconnect_max_seconds", "rate_limited_seconds",
                         "receive_queue", "max_pending_lines", "stats_interval_seconds")


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
        start, end = iso_date(f"{key}.start_date", self.start_date), iso_date(f"{key}.end_date", self.end_date)
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
    reconnect_base_seconds: float = 1.0  # full jitter in [0, base·2^n], n = failures in a row
    reconnect_max_seconds: float = 60.0
    rate_limited_seconds: float = 10.0  # the least wait after HTTP 429 (or the server's Retry-After)
    receive_queue: int = 4096  # frames websockets buffers before it stops reading the socket
    max_pending_lines: int = 50_000  # lines waiting for the disk before the receive loop waits for it
    stats_interval_seconds: float = 60.0  # the collector logs its counters this often
    # days covered by an entry are read from its archive files; every other day from the landing files
    archives: tuple[ArchiveSource, ...] = ()

    def validate(self, key: str) -> None:
        if self.source not in ("aisstream",):
            raise ConfigError(f"{key}.source must be 'aisstream', got {self.source!r}")
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"{key}.url must be a ws:// or wss:// URL, got {self.url!r}")
        for name in ("flush_messages", "flush_seconds", "connect_timeout_seconds", *COLLECTOR_TUNING_KEYS):
            positive(f"{key}.{name}", getattr(self, name))
        if self.reconnect_max_seconds < self.reconnect_base_seconds:
            raise ConfigError(f"{key}.reconnect_max_seconds ({self.reconnect_max_seconds}) must be >= "
                              f"{key}.reconnect_base_seconds ({self.reconnect_base_seconds})")
        self._validate_archives(key)

    def _validate_archives(self, key: str) -> None:
        ranges = sorted((date.fromisoformat(a.start_date), date.fromisoformat(a.end_date), i)
                        for i, a in enumerate(self.archives))  # each entry is validated already
        for (_, end, i), (start, _, j) in itertools.pairwise(ranges):
            if start <= end:
                raise ConfigError(f"{key}.archives[{max(i, j)}] overlaps {key}.archives[{min(i, j)}]: "
                                  "a day must have one source")

    def archive_for(self, day: date) -> ArchiveSource | None:
        """The archive entry covering `day`, or None: the day is read from the landing files."""
        return next((a for a in self.archives if a.covers(day)), None)
