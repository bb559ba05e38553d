"""The six daily assets of the pipeline; each body is a few calls into `shipchips_core`."""


from collections import Counter

import dagster as dg
import pandas as pd
from dagster_pandera import pandera_schema_to_dagster_type

from shipchips_core import chipping, index, layout, matching, overpass, pending, plan, qa, scenes, schemas
from shipchips_core.ais import archives

from .io_managers import DATASET_KEY, SCHEMA_KEY
from .partitions import DAILY, partition_day
from .resources import ShipchipsResource

TABLE_IO = "table_io"
# one Dagster type per schema (Dagster refuses two types of the same name)
DAGSTER_TYPES = {name: pandera_schema_to_dagster_type(schema) for name, schema in schemas.SCHEMAS.items()}


def _table_asset(name: str, schema: str | None = None, dataset: str | None = None, deps: tuple = ()):
    """A daily table asset typed by its pandera schema and stored by the table IO manager."""
    schema = schema or name
    metadata = {SCHEMA_KEY: schema, **({DATASET_KEY: dataset} if dataset else {})}
    return dg.asset(
        name=name,
        partitions_def=DAILY,
        io_manager_key=TABLE_IO,
        dagster_type=DAGSTER_TYPES[schema],
        group_name="pipeline",
        metadata=metadata,
        deps=list(deps),
    )


def _table_out(name: str, description: str, schema: str | None = None) -> dg.AssetOut:
    """A table output of a multi-asset, typed and stored like `_table_asset`'s."""
    schema = schema or name
    return dg.AssetOut(
        io_manager_key=TABLE_IO,
        dagster_type=DAGSTER_TYPES[schema],
        metadata={SCHEMA_KEY: schema},
        description=description,
    )


def _counts_metadata(counts: dict) -> dict:
    return {f"count/{k}": int(v) for k, v in sorted(counts.items())}


@_table_asset("ais_snapshots", dataset=layout.AIS_OBSERVATIONS_INDEX)
def ais_snapshots(context: dg.AssetExecutionContext, shipchips: ShipchipsResource) -> pd.DataFrame:
    """Every cleaned AIS position of the day inside the configured areas, with static data joined: from the
    day's archive file when `ais.archives` covers the day, else from the collector's landing files."""
    cfg = shipchips.config
    df, counts, origin = archives.build_day(shipchips.storage, cfg.ais, partition_day(context), cfg.areas)
    context.add_output_metadata({**_counts_metadata(counts), "ais_origin": origin})
    return df


@_table_asset("acquisition_plan")
def acquisition_plan(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, ais_snapshots: pd.DataFrame) -> pd.DataFrame:
    """One row per vessel of the day: its expected Sentinel-2 overpass window, predicted from the STAC
    catalogue's acquisitions of the `plan.history_days` before the day (solar-time rule as fallback)."""
    cfg, day = shipchips.config, partition_day(context)
    history = None
    if not ais_snapshots.empty:  # a day without vessels searches nothing
        history = overpass.search_history(cfg.stac, _areas_bbox(cfg.areas), day, cfg.plan.history_days)
    df = plan.build_acquisition_plan(ais_snapshots, day, cfg.plan, cfg.matching, history)
    context.add_output_metadata({
        "pending_csv_rows": pending.write_pending_csv(shipchips.storage, day, df),
        "history_acquisitions": 0 if history is None else len(history),
        **_counts_metadata({f"overpass_source/{k}": v for k, v in Counter(df["overpass_source"]).items()}),
    })
    return df


@_table_asset("s2_scene_metadata")
def s2_scene_metadata(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, acquisition_plan: pd.DataFrame) -> pd.DataFrame:
    """The Sentinel-2 L2A scenes covering the plan from every configured STAC API, one row per item
    (invalid items with a reason)."""
    cfg = shipchips.config
    window = plan.search_window(acquisition_plan)
    if window is None:
        return schemas.empty_frame("s2_scene_metadata")
    bbox = _areas_bbox(cfg.areas)
    rows = scenes.scene_rows(scenes.search_items(cfg.stac, bbox, *window), cfg.chips.band_assets)
    context.add_output_metadata({"scenes_ok": int((rows["status"] == "ok").sum()), "scenes_invalid": int((rows["status"] != "ok").sum())})
    return rows


@dg.multi_asset(
    outs={
        "chips": _table_out("chips", "One row per chip attempt; the chip files themselves go to the dataset root."),
        "plan_status": _table_out(
            "plan_status", "The day's plan with every row's outcome: matched, no_scene, cloudy, out_of_frame or expired.",
            schema="acquisition_plan",
        ),
    },
    partitions_def=DAILY,
    group_name="pipeline",
)
def chips(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    ais_snapshots: pd.DataFrame,
    acquisition_plan: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
):
    cfg, day = shipchips.config, partition_day(context)
    candidates = matching.match_candidates(
        acquisition_plan, s2_scene_metadata, ais_snapshots, cfg.matching, cfg.stac.collection_order
    )
    df, unpositioned = chipping.cut_partition(chipping.ChipJob(shipchips.storage, day, cfg), candidates, s2_scene_metadata, ais_snapshots)
    resolved = plan.resolve_plan(acquisition_plan, candidates, df)
    pending.write_pending_csv(shipchips.storage, day, None)
    outcome = Counter(df["status"]) + Counter({f"reason/{r}": n for r, n in Counter(df["reason"].dropna()).items()})
    yield dg.Output(df, output_name="chips", metadata=_counts_metadata(outcome + unpositioned))
    yield dg.Output(resolved, output_name="plan_status", metadata=_counts_metadata(Counter(resolved["status"])))


@_table_asset("tile_index", dataset=layout.TILES_INDEX)
def tile_index(shipchips: ShipchipsResource, chips: pd.DataFrame, s2_scene_metadata: pd.DataFrame, ais_snapshots: pd.DataFrame) -> pd.DataFrame:
    """`indexes/tiles.parquet` (GeoParquet): one row per chip written, with scene and vessel facts."""
    return index.build_tile_index(chips, s2_scene_metadata, ais_snapshots, chip_size=shipchips.config.chips.size)


@_table_asset("qa_report", schema="qa_summary", deps=("tile_index",))
def qa_report(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    ais_snapshots: pd.DataFrame,
    acquisition_plan: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
    chips: pd.DataFrame,
) -> pd.DataFrame:
    """`QA/reports/{date}.html` and its one-row summary."""
    summary = qa.build_qa_report(
        partition_day(context),
        ais=ais_snapshots,
        plan=acquisition_plan,
        scenes=s2_scene_metadata,
        chips=chips,
        storage=shipchips.storage,
    )
    context.add_output_metadata({"report": dg.MetadataValue.path(str(shipchips.storage.path(summary["report_path"].iloc[0])))})
    return summary


def _areas_bbox(areas) -> tuple[float, float, float, float]:
    return (
        min(a.bbox[0] for a in areas),
        min(a.bbox[1] for a in areas),
        max(a.bbox[2] for a in areas),
        max(a.bbox[3] for a in areas),
    )


PIPELINE_ASSETS = [ais_snapshots, acquisition_plan, s2_scene_metadata, chips, tile_index, qa_report]
