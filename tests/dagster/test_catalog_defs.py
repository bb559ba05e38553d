"""The catalogue assets in the code location: daily Items after the index, the Collection over all days."""

import dagster as dg

from shipchips_dagster.definitions import defs
from shipchips_dagster.defs.chips.automation import DOWNSTREAM_JOB


def test_stac_assets_sit_downstream_of_the_index():
    graph = defs.resolve_asset_graph()
    items, collection = graph.get(dg.AssetKey("stac_items")), graph.get(dg.AssetKey("stac_collection"))
    assert {dg.AssetKey("tile_index"), dg.AssetKey("s2_scene_metadata")} <= set(items.parent_keys)
    assert items.partitions_def is not None and collection.partitions_def is None
    assert dg.AssetKey("stac_items") in collection.parent_keys


def test_the_daily_job_makes_the_items_and_leaves_the_collection_to_whole_runs():
    job = defs.resolve_job_def(DOWNSTREAM_JOB.name)
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "stac_items" in keys and "stac_collection" not in keys
