"""The index-query benchmark on a small index: every query answered, timed, with a verdict."""

from __future__ import annotations

import pytest

from benchmarks import index_queries


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    cache = tmp_path_factory.mktemp("bench")
    return index_queries.main(["--rows", "9000", "--days", "3", "--vessels", "300", "--repeat", "2", "--cache-dir", str(cache)])


def test_every_query_answers_and_is_timed(report):
    assert report["facts"]["rows"] == 9000 and report["facts"]["days"] == 3
    cases = report["cases"]
    assert cases["count_by_split_and_type"]["rows_out"] > 0
    assert cases["vessel_history"]["rows_out"] >= 3  # the busiest vessel is chipped more than once
    for case in cases.values():
        assert len(case["runs_ms"]) == 2 and case["cold_ms"] > 0 and case["median_ms"] > 0


def test_the_indexed_copy_answers_as_the_parquet_days(report):
    assert report["copy"]["rows"] == 9000 and report["copy"]["days_loaded"] == 3
    for name, case in report["cases"].items():
        assert case["rows_sha256"] == report["parquet_days"][name]["rows_sha256"]


def test_verdicts(report):
    assert len(report["targets"]) == 6 and all(isinstance(t["pass"], bool) for t in report["targets"])
    assert all(t["pass"] for t in report["targets"] if "same answer" in t["name"])
