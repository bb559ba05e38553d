"""The code location loads from defs/: the pipeline graph flowing one way, SQL models, checks, automation."""

import dagster as dg

from shipchips_dagster.definitions import defs

# plan → scenes → candidates → chips → {plan_status, tile_index} → qa_report
EDGES = [
    ("ais_snapshots", "acquisition_plan"),
    ("acquisition_plan", "s2_scene_metadata"),
    ("s2_scene_metadata", "chip_candidates"),
    ("chip_candidates", "chips"),
    ("chips", "plan_status"),
    ("chips", "tile_index"),
    ("tile_index", "qa_report"),
    ("plan_status", "qa_report"),
]
DAILY_TABLES = sorted({a for edge in EDGES for a in edge})


def test_definitions_load_with_the_pipeline_graph():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(DAILY_TABLES) <= keys
    assert {"daily_chip_summary", "vessel_coverage", "scene_yield"} <= keys
    for upstream, downstream in EDGES:
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys, (upstream, downstream)
    # data flows one way: the plan's status is not an input of chipping
    assert dg.AssetKey("plan_status") not in graph.get(dg.AssetKey("chips")).parent_keys
    assert all(graph.get(dg.AssetKey(k)).partitions_def is not None for k in DAILY_TABLES)


def test_every_table_asset_has_a_blocking_schema_check():
    check_keys = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {f"{k}_schema" for k in DAILY_TABLES} <= check_keys
    assert {"chips_files_and_centring", "tile_index_covers_chips"} <= check_keys


def test_automation_is_found_in_defs():
    assert {j.name for j in defs.jobs} >= {"ais_daily", "downstream_daily"}
    assert [s.name for s in defs.sensors] == ["matured_days_sensor"]
    assert [s.name for s in defs.schedules] == ["ais_daily_schedule"]


def test_orphan_cleanup_runs_after_both_tables_that_point_at_chip_files():
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("orphan_cleanup"))
    assert {dg.AssetKey("chips"), dg.AssetKey("tile_index")} <= set(node.parent_keys)
    assert node.partitions_def is not None
