"""The table IO manager: validates before writing, replaces only its partition, round-trips dtypes."""

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from shipchips_core.dataset import paths, schemas
from shipchips_dagster.lib.partitions import DAILY
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_io import ParquetTableIOManager


def ais_rows(n=3, mmsi=244123456):
    t0 = pd.Timestamp("2026-06-15T10:00:00Z")
    return pd.DataFrame({
        "mmsi": pd.Series([mmsi] * n, dtype="int64"),
        "time_utc": pd.Series([t0 + pd.Timedelta(seconds=10 * i) for i in range(n)]).dt.as_unit("ns"),
        "lat": [52.1] * n, "lon": [3.9] * n, "sog_kn": [10.0, float("nan"), 10.0][:n], "cog_deg": [90.0] * n,
        "heading_deg": [float("nan")] * n, "nav_status": pd.array([0, None, 0][:n], dtype="Int64"),
        "msg_type": ["PositionReport"] * n, "ais_class": ["A"] * n, "source": ["aisstream"] * n,
        "ship_name": ["NOORDZEE", None, "NOORDZEE"][:n], "imo": pd.array([9000001] * n, dtype="Int64"),
        "call_sign": [None] * n, "ship_type": pd.array([70] * n, dtype="Int64"),
        **{k: pd.array([10] * n, dtype="Int64") for k in ("dim_a", "dim_b", "dim_c", "dim_d")},
        "length_m": [20.0] * n, "beam_m": [20.0] * n, "reported_length_m": [float("nan")] * n,
        "reported_beam_m": [float("nan")] * n,
    })


@pytest.fixture
def io_manager(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"dataset_root: {tmp_path / 'root'}\n")
    return ParquetTableIOManager(shipchips=ShipchipsResource(config_path=str(cfg))), tmp_path / "root"


INSTANCE = dg.DagsterInstance.ephemeral()  # one instance for every test context (no per-context teardown)


def _out(partition="2026-06-15"):
    return dg.build_output_context(asset_key=dg.AssetKey("ais_snapshots"), partition_key=partition, instance=INSTANCE)


def _in(partition="2026-06-15"):
    return dg.build_input_context(
        asset_key=dg.AssetKey("ais_snapshots"),
        asset_partition_key_range=dg.PartitionKeyRange(partition, partition),
        asset_partitions_def=DAILY,
        upstream_output=dg.build_output_context(asset_key=dg.AssetKey("ais_snapshots"), instance=INSTANCE),
        instance=INSTANCE,
    )


def test_valid_table_round_trips_with_its_dtypes(io_manager):
    manager, root = io_manager
    df = ais_rows()
    manager.handle_output(_out(), df)
    back = manager.load_input(_in()).frame()  # ais_snapshots comes back as a lazy handle
    pd.testing.assert_frame_equal(back, df)
    assert (root / paths.partition_file(paths.table_dataset("ais_snapshots"), date(2026, 6, 15))).exists()


def test_invalid_table_is_refused_and_nothing_lands(io_manager):
    manager, root = io_manager
    manager.handle_output(_out(), ais_rows())
    bad = ais_rows()
    bad.loc[1, "lat"] = 91.0  # the AIS not-available value must never reach the table
    bad.loc[2, "mmsi"] = 2442000  # not a ship MMSI
    with pytest.raises(schemas.SchemaViolation, match="ais_snapshots") as err:
        manager.handle_output(_out(), bad)
    assert "column=lat" in str(err.value) and "column=mmsi" in str(err.value)
    kept = manager.load_input(_in()).frame()
    assert kept.lat.max() == 52.1 and len(kept) == 3
    assert not list(root.rglob("*.tmp"))


def test_missing_column_is_refused(io_manager):
    manager, _ = io_manager
    with pytest.raises(schemas.SchemaViolation, match="sog_kn"):
        manager.handle_output(_out(), ais_rows().drop(columns=["sog_kn"]))


def test_a_partition_write_replaces_only_that_partition(io_manager):
    manager, _ = io_manager
    manager.handle_output(_out("2026-06-15"), ais_rows(3))
    manager.handle_output(_out("2026-06-16"), ais_rows(2, mmsi=244999999))
    manager.handle_output(_out("2026-06-16"), ais_rows(1, mmsi=244999999))
    assert len(manager.load_input(_in("2026-06-15"))) == 3
    assert len(manager.load_input(_in("2026-06-16"))) == 1


def test_a_streamed_day_is_stored_by_a_rename_and_read_back_as_a_lazy_handle(io_manager, tmp_path):
    """ais_snapshots arrives as a validated staged file: storing it moves it into the partition, the
    lineage counts its rows, and downstream assets get an AisDataset on it, not a frame."""
    import json

    from shipchips_core.ais import archives
    from shipchips_core.ais.snapshot_dataset import AisDataset
    from shipchips_core.dataset.storage import LocalStorage
    from tests.core.ais.test_archives import DAY, GALVESTON, noaa_text

    manager, root = io_manager
    (tmp_path / "day.csv").write_text(noaa_text())
    staged = AisDataset.staged(LocalStorage(root), date(2026, 6, 15))  # the partition; the rows: an archive day
    counts = archives.stream_archive(str(tmp_path / "day.csv"), "noaa", DAY, [GALVESTON], staged.path)
    manager.handle_output(_out(), staged)
    final = root / paths.partition_file(paths.table_dataset("ais_snapshots"), date(2026, 6, 15))
    assert final.exists() and not staged.path.exists()
    assert sorted(p.name for p in final.parent.iterdir()) == ["_lineage.json", "part-0.parquet"]
    lineage = json.loads((final.parent / "_lineage.json").read_text())
    assert lineage["rows"] == counts["positions_kept"] == 4 and lineage["schema"]["nav_status"] == "Int64"
    handle = manager.load_input(_in())
    assert isinstance(handle, AisDataset) and len(handle) == 4
    assert handle.frame(columns=("mmsi",))["mmsi"].tolist() == [338123456] + [367596940] * 3
