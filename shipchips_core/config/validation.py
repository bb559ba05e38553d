"""The error every bad key raises, and the value checks the sections share."""

from __future__ import annotations

from datetime import date


class ConfigError(ValueError):
    """A configuration key is unknown or has a bad value; the message names the key."""


def positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def iso_date(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{key} must be a date YYYY-MM-DD (quoted in YAML), got {value!r}") from None
