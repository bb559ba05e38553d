"""Deterministic identifiers: the same inputs give the same IDs on every machine and run."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tile_id(mmsi: int, acq_time: datetime | pd.Timestamp, lat: float, lon: float) -> str:
    """ID of a chip from {mmsi, acquisition time, position}; position rounded to ~1 m, time to 1 ms."""
    when = pd.Timestamp(acq_time).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return _digest(f"tile|{int(mmsi)}|{when}Z|{lat:.5f}|{lon:.5f}")


def plan_id(mmsi: int, expected_overpass: datetime | pd.Timestamp) -> str:
    when = pd.Timestamp(expected_overpass).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S")
    return _digest(f"plan|{int(mmsi)}|{when}Z")


def split_for_mmsi(mmsi: int, train: float = 0.8, val: float = 0.1) -> str:
    """train/val/test from a hash of the MMSI alone, so a vessel never crosses splits."""
    bucket = int(hashlib.sha256(f"split|{int(mmsi)}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < train:
        return "train"
    return "val" if bucket < train + val else "test"
