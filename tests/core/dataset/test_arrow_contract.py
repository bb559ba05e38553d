"""The pandera contract evaluated on Arrow batches refuses exactly what pandera refuses, naming the column."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tests.core.ais import frame_oracle
from shipchips_core.dataset import arrow_contract, schemas
from tests.dagster.lib.test_table_io import ais_rows

BREAKS = {
    "mmsi": lambda df: df.assign(mmsi=df["mmsi"].replace({244123456: 2440123})),
    "lat": lambda df: df.assign(lat=[52.1, 91.0, 52.1]),
    "cog_deg": lambda df: df.assign(cog_deg=[90.0, 360.0, 90.0]),
    "sog_kn": lambda df: df.assign(sog_kn=[10.0, 102.3, 10.0]),
    "ais_class": lambda df: df.assign(ais_class=["A", "C", "A"]),
    "dim_a": lambda df: df.assign(dim_a=pd.array([10, 600, 10], dtype="Int64")),
    "length_m": lambda df: df.assign(length_m=[20.0, -1.0, 20.0]),
    "msg_type": lambda df: df.assign(msg_type=["PositionReport", None, "PositionReport"]),
}


def arrow(df: pd.DataFrame) -> pa.Table:
    return frame_oracle.as_table(df)


def test_a_valid_batch_passes_both():
    df = ais_rows()
    schemas.validate("ais_snapshots", df)
    arrow_contract.validate_batch("ais_snapshots", arrow(df))


@pytest.mark.parametrize("column", sorted(BREAKS))
def test_each_broken_rule_is_refused_by_both_naming_its_column(column):
    df = BREAKS[column](ais_rows())
    with pytest.raises(schemas.SchemaViolation, match=f"column={column} "):
        schemas.validate("ais_snapshots", df)
    with pytest.raises(schemas.SchemaViolation, match=f"column={column} .*row=1"):
        arrow_contract.validate_batch("ais_snapshots", arrow(df))


def test_a_missing_column_is_refused():
    table = arrow(ais_rows()).drop_columns(["beam_m"])
    with pytest.raises(schemas.SchemaViolation, match="strict/ordered"):
        arrow_contract.validate_batch("ais_snapshots", table)
