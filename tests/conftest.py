"""Shared fixtures: the offline twin's catalogue is generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipchips_core.twin.world import World, WorldSpec

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shipped_config() -> Path:
    return REPO / "config.yaml"


@pytest.fixture(scope="session")
def world() -> World:
    """A small twin world for the AIS tests: 15 vessels, quick to replay."""
    return World(WorldSpec(n_lane_vessels=10, n_anchored=2, n_class_b=3))


@pytest.fixture(scope="session")
def box(world) -> list:
    """aisstream bounding boxes (latitude first) over the western half of `world`."""
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    return [[[lat0, lon0], [lat1, (lon0 + lon1) / 2]]]
