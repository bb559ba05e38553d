"""The code location loads: the six pipeline assets in order, SQL models, checks and resources."""

import dagster as dg

from shipchips_dagster.definitions import defs

PIPELINE = ["ais_snapshots", "acquisition_plan", "s2_scene_metadata", "chips", "tile_index", "qa_report"]


def test_definitions_load_with_the_pipeline_graph():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(PIPELINE) <= keys
    assert {"daily_chip_summary", "vessel_coverage", "scene_yield"} <= keys
    for upstream, downstream in zip(PIPELINE, PIPELINE[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    assert all(graph.get(dg.AssetKey(k)).partitions_def is not None for k in PIPELINE)


def test_every_pipeline_asset_has_a_schema_check():
    check_keys = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {f"{k}_schema" for k in [*PIPELINE, "plan_status"]} <= check_keys
    assert "chips_files_and_centring" in check_keys


def test_orphan_cleanup_runs_after_both_tables_that_point_at_chip_files():
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("orphan_cleanup"))
    assert {dg.AssetKey("chips"), dg.AssetKey("tile_index")} <= set(node.parent_keys)
    assert node.partitions_def is not None
