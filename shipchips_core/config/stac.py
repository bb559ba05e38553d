"""The `stac` section: the STAC APIs searched for Sentinel-2 L2A scenes and the search limits."""

from __future__ import annotations

from dataclasses import dataclass

from shipchips_core.config.validation import ConfigError, positive

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
# Collection 1 first: the consistently calibrated reprocessing wins when both hold an acquisition
DEFAULT_COLLECTIONS = ("sentinel-2-c1-l2a", "sentinel-2-l2a")


@dataclass(frozen=True)
class StacApi:
    """One STAC API and the collections searched on it."""

    url: str = EARTH_SEARCH
    collections: tuple[str, ...] = DEFAULT_COLLECTIONS

    def validate(self, key: str) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"{key}.url must be an http(s) URL, got {self.url!r}")
        if not self.collections:
            raise ConfigError(f"{key}.collections must name at least one collection")


@dataclass(frozen=True)
class StacConfig:
    url: str = EARTH_SEARCH
    collections: tuple[str, ...] = DEFAULT_COLLECTIONS
    # more APIs searched after `url`, e.g. [{url: https://..., collections: [...]}]
    extra_apis: tuple[StacApi, ...] = ()
    max_cloud_cover: float = 30.0
    timeout_seconds: float = 30.0
    max_retries: int = 4

    def validate(self, key: str) -> None:
        StacApi(self.url, self.collections).validate(key)
        if not 0 <= self.max_cloud_cover <= 100:
            raise ConfigError(f"{key}.max_cloud_cover must be within 0..100, got {self.max_cloud_cover}")
        positive(f"{key}.timeout_seconds", self.timeout_seconds)
        if self.max_retries < 0:
            raise ConfigError(f"{key}.max_retries must be >= 0, got {self.max_retries}")
        seen = {self.url}
        for i, api in enumerate(self.extra_apis):
            if api.url in seen:
                raise ConfigError(f"{key}.extra_apis[{i}].url {api.url!r} is already searched")
            seen.add(api.url)

    @property
    def apis(self) -> tuple[StacApi, ...]:
        """Every API searched, `url` first: the first to list a scene is the one recorded."""
        return (StacApi(self.url, self.collections), *self.extra_apis)

    @property
    def collection_order(self) -> tuple[str, ...]:
        """Every collection searched, in config order: the first holding an acquisition is chipped."""
        return tuple(dict.fromkeys(c for api in self.apis for c in api.collections))
