"""Relative paths of every product under the dataset root (seed spec §1.4).

`indexes/tiles.parquet` and `indexes/ais_observations.parquet` are hive-partitioned parquet
datasets (a folder with one `date=YYYY-MM-DD/part-0.parquet` file a day): every reader
(DuckDB, pyarrow, pandas) opens them as one table, and a day's run replaces only its own file,
so partitions can run concurrently on one machine or many.
"""

from __future__ import annotations

from datetime import date

TILES_INDEX = "indexes/tiles.parquet"
AIS_OBSERVATIONS_INDEX = "indexes/ais_observations.parquet"
TABLES = "tables"


def day_compact(day: date) -> str:
    return day.strftime("%Y%m%d")


def ais_landing_dir(day: date) -> str:
    return f"ais/{day_compact(day)}"


def chip_dir(split: str, mmsi: int, day: date) -> str:
    return f"chips/{split}/{mmsi}/{day.isoformat()}"


def chip_tif(split: str, mmsi: int, day: date, tile_id: str) -> str:
    return f"{chip_dir(split, mmsi, day)}/{tile_id}.tif"


def chip_quicklook(split: str, mmsi: int, day: date, tile_id: str) -> str:
    return f"{chip_dir(split, mmsi, day)}/{tile_id}_quicklook.jpg"


def chip_metadata(split: str, mmsi: int, day: date, tile_id: str) -> str:
    return f"{chip_dir(split, mmsi, day)}/{tile_id}.json"


def chip_masks(split: str, mmsi: int, day: date, tile_id: str) -> str:
    return f"{chip_dir(split, mmsi, day)}/{tile_id}_masks.tif"


def label_json(split: str, mmsi: int, day: date, tile_id: str) -> str:
    return f"labels/{split}/{mmsi}/{day.isoformat()}/{tile_id}_label.json"


def partition_file(dataset: str, day: date | None) -> str:
    """One parquet file per daily partition of a dataset (or one file for an unpartitioned one)."""
    if day is None:
        return f"{dataset}/part-0.parquet"
    return f"{dataset}/date={day.isoformat()}/part-0.parquet"


def partition_day(rel: str) -> str | None:
    """The 'YYYY-MM-DD' of a daily partition file's path (`partition_file`), None for any other path."""
    for part in rel.split("/"):
        if part.startswith("date=") and len(part) == len("date=YYYY-MM-DD"):
            return part[len("date="):]
    return None


def table_dataset(table: str) -> str:
    return f"{TABLES}/{table}"


def plan_pending_csv() -> str:
    return "plan/pending.csv"


def qa_report(day: date) -> str:
    return f"QA/reports/{day.isoformat()}.html"
