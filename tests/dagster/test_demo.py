"""The demo's summary against the tables it summarizes, on a real twin day (the `pipeline_run` fixture)."""

from __future__ import annotations

import duckdb
import pytest

from shipchips_core.catalog.day_summary import day_summary, format_summary
from shipchips_core.dataset import paths
from shipchips_twin.world import SAMPLE_DAY

pytestmark = pytest.mark.slow


def _sql(run, dataset: str, select: str) -> list[tuple]:
    """The same counts, asked of the stored parquet by DuckDB (not by the code under test)."""
    path = run.storage.path(paths.partition_file(dataset, SAMPLE_DAY))
    return duckdb.sql(select.format(T=f"read_parquet('{path}')")).fetchall()


def _losses(run, table: str, column: str, ok: str, reason: str | None = None) -> dict:
    label = column if reason is None else f"split_part(coalesce({reason}, {column}), ':', 1)"
    return dict(_sql(run, paths.table_dataset(table), f"SELECT {label}, count(*) FROM {{T}} WHERE {column} <> '{ok}' GROUP BY 1"))


def test_the_summary_is_the_stored_tables_funnel(pipeline_run):
    run = pipeline_run
    stages = {s.name: s for s in day_summary(run.storage, SAMPLE_DAY)}
    assert list(stages) == ["AIS positions", "vessels", "plan", "scenes", "candidates", "chips"]
    [(positions, vessels)] = _sql(run, paths.AIS_OBSERVATIONS_INDEX, "SELECT count(*), count(DISTINCT mmsi) FROM {T}")
    assert (stages["AIS positions"].rows, stages["vessels"].rows) == (positions, vessels) and positions > 10_000
    for name, table, column, ok, reason in (("plan", "plan_status", "status", "matched", None),
                                            ("scenes", "s2_scene_metadata", "status", "ok", "reason"),
                                            ("candidates", "chip_candidates", "match_status", "ok", None),
                                            ("chips", "chips", "status", "ok", "reason")):
        [(rows, kept)] = _sql(run, paths.table_dataset(table), f"SELECT count(*), count_if({column} = '{ok}') FROM {{T}}")
        assert (stages[name].rows, stages[name].kept) == (rows, kept), name
        assert dict(stages[name].losses) == _losses(run, table, column, ok, reason), name
    # the funnel holds together: every ok candidate was attempted, every ok chip is in the index
    [(indexed,)] = _sql(run, paths.TILES_INDEX, "SELECT count(*) FROM {T}")
    assert stages["chips"].rows == stages["candidates"].kept and stages["chips"].kept == indexed > 0
    assert stages["candidates"].losses["outside_footprint"] > 0  # the twin's day has ships off every tile


def test_the_printed_table_shows_each_stage_and_its_top_losses(pipeline_run):
    stages = day_summary(pipeline_run.storage, SAMPLE_DAY)
    lines = format_summary(stages).splitlines()
    assert len(lines) == 2 + len(stages)
    candidates = next(line for line in lines if line.startswith("candidates"))
    top_reason, n = stages[4].losses.most_common(1)[0]
    assert f"{stages[4].rows:,}" in candidates and f"{top_reason} {n}" in candidates
