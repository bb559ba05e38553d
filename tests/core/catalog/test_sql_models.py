"""The SQL models of dbt_like_sql/ over a hand-made two-day tile index."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from shipchips_core.catalog import geoparquet
from shipchips_core.catalog.sql_models import SqlModelError, load_models, parse_model, run_model
from shipchips_core.dataset import paths, schemas
from shipchips_core.dataset.storage import LocalStorage

MODELS_DIR = Path(__file__).resolve().parents[3] / "dbt_like_sql"
DAY1, DAY2 = date(2024, 5, 1), date(2024, 5, 2)


def tile(tile_id: str, mmsi: int, scene_id: str, acq_time: str, **overrides) -> dict:
    """One valid tile_index row; `overrides` replace any column."""
    row = {
        "tile_id": tile_id, "mmsi": mmsi, "scene_id": scene_id, "collection": "sentinel-2-l2a",
        "acq_time": pd.Timestamp(acq_time, tz="UTC"), "split": "train", "lon": 4.0, "lat": 52.0,
        "epsg": 32631, "x_utm": 600000.0, "y_utm": 5760000.0, "ship_row": 128.0, "ship_col": 128.0,
        "interp_method": "linear", "gap_before_s": 10.0, "gap_after_s": 20.0, "uncertainty_m": 10.0,
        "valid_fraction": 1.0, "cloud_fraction": 0.0, "land_fraction": 0.0, "water_fraction": 1.0,
        "edge_padded": False, "radiometry_rule": "dn_minus_1000_div_10000", "bands": "B02,B03,B04,B08",
        "tif_path": f"chips/train/{mmsi}/{tile_id}.tif",
        "quicklook_path": f"chips/train/{mmsi}/{tile_id}_quicklook.jpg",
        "meta_path": f"chips/train/{mmsi}/{tile_id}.json", "label_path": f"labels/train/{mmsi}/{tile_id}_label.json",
        "mask_path": f"chips/train/{mmsi}/{tile_id}_masks.tif",
        "mgrs_tile": "31UFU", "platform": "sentinel-2a", "scene_cloud_cover": 5.0, "vessel_name": "ALPHA",
        "ship_type": 70, "length_m": 100.0, "beam_m": 20.0,
    }
    row.update(overrides)
    return row


def tile_frame(rows: list[dict]) -> pd.DataFrame:
    columns = [c for c in schemas.TILE_INDEX.columns if c not in geoparquet.GEOMETRY_COLUMNS]
    df = geoparquet.add_geometry(pd.DataFrame(rows, columns=columns).astype({"ship_type": "Int64"}), chip_size=256)
    return schemas.validate("tile_index", df)


def write_partition(storage: LocalStorage, day: date, rows: list[dict]) -> None:
    with storage.open_write(paths.partition_file(paths.TILES_INDEX, day)) as fh:
        tile_frame(rows).to_parquet(fh, index=False)


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    st = LocalStorage(tmp_path)
    write_partition(st, DAY1, [
        tile("a000000000000001", 211000001, "S2A_1", "2024-05-01T10:30:00", uncertainty_m=10.0,
             cloud_fraction=0.2, water_fraction=0.8, edge_padded=True, valid_fraction=0.9),
        tile("a000000000000002", 211000002, "S2A_1", "2024-05-01T10:30:05", uncertainty_m=20.0,
             cloud_fraction=0.0, water_fraction=0.6, valid_fraction=0.7, vessel_name=None, ship_type=pd.NA),
        tile("a000000000000003", 211000002, "S2B_2", "2024-05-01T10:40:00", uncertainty_m=60.0,
             cloud_fraction=0.1, water_fraction=1.0, valid_fraction=1.0, scene_cloud_cover=12.0,
             vessel_name="BRAVO", split="val"),
    ])
    write_partition(st, DAY2, [
        tile("b000000000000001", 211000001, "S2C_3", "2024-05-02T10:20:00", uncertainty_m=30.0,
             vessel_name="ALPHA II", ship_type=71, valid_fraction=0.5, collection="sentinel-2-c1-l2a",
             scene_cloud_cover=20.0),
    ])
    return st


@pytest.fixture(scope="module")
def models() -> dict:
    return {m.name: m for m in load_models(MODELS_DIR)}


def test_models_load_with_headers(models):
    assert set(models) == {"daily_chip_summary", "vessel_coverage", "scene_yield"}
    assert models["daily_chip_summary"].partitioned
    assert not models["vessel_coverage"].partitioned and not models["scene_yield"].partitioned
    assert all(m.description for m in models.values())


def test_daily_chip_summary_returns_only_its_partition(models, storage):
    df = run_model(models["daily_chip_summary"], storage, partition_date="2024-05-01")
    assert len(df) == 1
    row = df.iloc[0]
    assert row["date"] == "2024-05-01"
    assert (row["chips"], row["vessels"], row["scenes"]) == (3, 2, 2)
    assert row["mean_uncertainty_m"] == pytest.approx(30.0)
    assert row["median_uncertainty_m"] == pytest.approx(20.0)
    assert row["mean_cloud_fraction"] == pytest.approx(0.1)
    assert row["mean_water_fraction"] == pytest.approx(0.8)
    assert row["edge_padded_share"] == pytest.approx(1 / 3)

    df2 = run_model(models["daily_chip_summary"], storage, partition_date=DAY2)
    assert df2[["date", "chips", "vessels", "scenes"]].to_dict("records") == [
        {"date": "2024-05-02", "chips": 1, "vessels": 1, "scenes": 1}
    ]
    empty_day = run_model(models["daily_chip_summary"], storage, partition_date="2024-05-03")
    assert empty_day[["date", "chips"]].to_dict("records") == [{"date": "2024-05-03", "chips": 0}]


def test_daily_model_needs_a_date_and_others_refuse_one(models, storage):
    with pytest.raises(SqlModelError, match="partition_date"):
        run_model(models["daily_chip_summary"], storage)
    with pytest.raises(SqlModelError, match="not partitioned"):
        run_model(models["scene_yield"], storage, partition_date="2024-05-01")


def test_vessel_coverage(models, storage):
    df = run_model(models["vessel_coverage"], storage).set_index("mmsi")
    assert list(df.index) == [211000001, 211000002]
    one, two = df.loc[211000001], df.loc[211000002]
    assert (one["days_seen"], one["chips"], one["vessel_name"], one["ship_type"]) == (2, 2, "ALPHA II", 71)
    assert one["first_acq_time"] == pd.Timestamp("2024-05-01T10:30:00", tz="UTC")
    assert one["last_acq_time"] == pd.Timestamp("2024-05-02T10:20:00", tz="UTC")
    assert (one["split"], one["n_splits"]) == ("train", 1)
    assert (two["days_seen"], two["chips"], two["vessel_name"]) == (1, 2, "BRAVO")
    assert (two["split"], two["n_splits"]) == ("train,val", 2)  # crosses splits: what this model is for


def test_scene_yield(models, storage):
    df = run_model(models["scene_yield"], storage)
    assert list(zip(df["collection"], df["scene_id"])) == [
        ("sentinel-2-c1-l2a", "S2C_3"), ("sentinel-2-l2a", "S2A_1"), ("sentinel-2-l2a", "S2B_2"),
    ]
    assert df["chips"].tolist() == [1, 2, 1]
    assert df["vessels"].tolist() == [1, 2, 1]
    assert df["mean_valid_fraction"].tolist() == pytest.approx([0.5, 0.8, 1.0])
    assert df["scene_cloud_cover"].tolist() == pytest.approx([20.0, 5.0, 12.0])


def test_models_run_on_an_empty_dataset(models, tmp_path):
    storage = LocalStorage(tmp_path / "empty")
    assert run_model(models["vessel_coverage"], storage).empty
    assert run_model(models["scene_yield"], storage).empty
    assert run_model(models["daily_chip_summary"], storage, "2024-05-01")["chips"].tolist() == [0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("SELECT 1 AS x\n", "header is missing"),
        ("-- model: other\n-- description: d\n-- partitioned: none\nSELECT 1\n", "does not match the file name"),
        ("-- model: bad\n-- description: d\n-- partitioned: weekly\nSELECT 1\n", "must be 'daily' or 'none'"),
        ("-- model: bad\n-- description: d\n-- partitioned: daily\nSELECT 1\n", "partition_date"),
        ("-- model: bad\n-- description: d\n-- partitioned: none\nSELECT 1; SELECT 2\n", "single SELECT"),
        ("-- model: bad\n-- description: d\n-- partitioned: none\nSELEC 1\n", "does not parse"),
    ],
)
def test_bad_model_file_names_the_file(tmp_path, text, message):
    path = tmp_path / "bad.sql"
    path.write_text(text)
    with pytest.raises(SqlModelError, match=message) as exc:
        parse_model(path)
    assert str(path) in str(exc.value)
    with pytest.raises(SqlModelError, match="bad.sql"):
        load_models(tmp_path)
