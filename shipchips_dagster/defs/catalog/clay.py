"""Clay exports and dataset statistics, downstream of the tile index; each body one call into
`shipchips_core.catalog`.

- `clay_cubes` (daily): the day's chips as Clay training cubes under `exports/clay/{split}/sentinel-2-l2a/`.
- `dataset_stats` (unpartitioned, it must see every day): `stats/stats.json`.
- `clay_metadata` (unpartitioned): `exports/clay/metadata.yaml` (Clay's statistics) and
  `metadata_shipchips_stats.yaml` (ours), both listing both sets.
"""

import dagster as dg
import pandas as pd

from shipchips_core.catalog import clay, stats
from shipchips_dagster.lib.partitions import DAILY, WHOLE_DATASET, partition_day
from shipchips_dagster.lib.resource import ShipchipsResource

GROUP = "exports"


@dg.asset(partitions_def=DAILY, group_name=GROUP, kinds={"numpy"})
def clay_cubes(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, tile_index: pd.DataFrame) -> dg.MaterializeResult:
    """Clay training cubes of the day: per split, its chips sorted by tile_id, at most 128 per `.npz`
    (DN = reflectance × 10000; nodata = Clay's mean DN, mask in `valid_mask`)."""
    files = clay.write_day_cubes(shipchips.storage, tile_index, partition_day(context), shipchips.config.chips.band_assets)
    return dg.MaterializeResult(metadata={
        "n_cubes": len(files),
        "n_samples": sum(f.n_samples for f in files),
        **{f"samples/{s}": sum(f.n_samples for f in files if f.split == s) for s in sorted({f.split for f in files})},
        "folder": dg.MetadataValue.path(shipchips.storage.location(clay.EXPORT_DIR)),
    })


@dg.asset(deps=["tile_index"], group_name=GROUP, kinds={"numpy"}, tags=WHOLE_DATASET)
def dataset_stats(shipchips: ShipchipsResource) -> dg.MaterializeResult:
    """`stats/stats.json`: per band and split, mean/std/min/max/percentiles of the valid pixels over
    every day of the index (two passes, histograms), in reflectance and DN."""
    doc = stats.build_stats(shipchips.storage, shipchips.config.chips.band_assets)
    return dg.MaterializeResult(metadata={
        "days": len(doc["days"]),
        "n_chips": doc["splits"]["all"]["n_chips"],
        "n_valid_pixels": doc["splits"]["all"]["n_valid_pixels"],
        "path": dg.MetadataValue.path(shipchips.storage.location(stats.STATS_JSON)),
    })


@dg.asset(deps=[dataset_stats], group_name=GROUP, kinds={"yaml"}, tags=WHOLE_DATASET)
def clay_metadata(shipchips: ShipchipsResource) -> dg.MaterializeResult:
    """`exports/clay/metadata.yaml` for the configured stack, the file a user hands to Clay."""
    paths = clay.build_metadata(shipchips.storage, shipchips.config.chips.band_assets)
    return dg.MaterializeResult(metadata={"files": [shipchips.storage.location(p) for p in paths]})

