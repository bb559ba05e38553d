"""The interpolation benchmark on a small day: every case timed, one output row per target, and the
positions on the exact tracks."""

from __future__ import annotations

import pytest

from benchmarks import interpolation


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "interpolation.json"
    return interpolation.main(["--fixes", "20000", "--vessels", "60", "--grid", "3", "--repeat", "2",
                               "--report", str(out)])


def test_every_case_timed_with_one_row_per_target(report):
    assert report["facts"]["fixes"] == 20000 and report["facts"]["scenes"] == 9
    for case in report["cases"].values():
        assert case["targets"] > 0 and case["rows_out"] == case["targets"]
        assert len(case["runs_s"]) == 2 and 0 < case["best_s"] <= case["median_s"]
    assert report["cases"]["pipeline"]["targets"] > report["cases"]["footprint"]["targets"]


def test_positions_follow_the_exact_tracks(report):
    acc = report["cases"]["footprint"]["accuracy"]
    assert acc["placed"] > 0
    assert acc["median_m"] < 5 and acc["max_m"] < 20  # GNSS noise of 2 m, straight tracks


def test_verdicts(report):
    assert len(report["targets"]) == 2 and all(isinstance(t["pass"], bool) for t in report["targets"])
