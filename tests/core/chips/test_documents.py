"""The label geometry: the oriented hull box."""


import pandas as pd
import pytest

from shipchips_core.chips.documents import oriented_box

T = pd.Timestamp("2026-06-15T10:14:25Z")
FOOTPRINT = "POLYGON ((3.5 52.0, 4.0 52.0, 4.0 52.3, 3.5 52.3, 3.5 52.0))"


def test_oriented_box_follows_heading_and_antenna_offsets():
    dims = {"dim_a": 80, "dim_b": 20, "dim_c": 10, "dim_d": 10}
    box = oriented_box(128.0, 128.0, 90.0, dims, gsd=10.0)  # heading east
    cols = [c for c, _ in box]
    rows = [r for _, r in box]
    assert max(cols) == pytest.approx(136.0) and min(cols) == pytest.approx(126.0)  # bow 8 px east, stern 2 px west
    assert max(rows) == pytest.approx(129.0) and min(rows) == pytest.approx(127.0)  # beam 2 px
    assert oriented_box(128.0, 128.0, None, dims, 10.0) is None
    assert oriented_box(128.0, 128.0, 90.0, {**dims, "dim_a": None}, 10.0) is None


