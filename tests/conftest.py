"""Shared fixtures: the offline twin's catalogue is generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shipped_config() -> Path:
    return REPO / "config.yaml"
