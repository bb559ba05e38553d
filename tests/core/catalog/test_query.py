"""`shipchips sql`: views over every dataset, parameters bound (never formatted in), a printed table."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from shipchips_core import cli
from shipchips_core.catalog import geoparquet, query
from shipchips_core.dataset import paths as layout
from shipchips_core.dataset.storage import LocalStorage

from ._rows import frame, tile

DAY1, DAY2 = date(2024, 5, 1), date(2024, 5, 2)


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    st = LocalStorage(tmp_path / "root")
    days = {
        DAY1: [tile("a000000000000001", 211000001, "2024-05-01T10:30:00", vessel_name="ALPHA"),
               tile("a000000000000002", 211000002, "2024-05-01T10:30:05", vessel_name="O'HARA", split="val")],
        DAY2: [tile("a000000000000003", 211000001, "2024-05-02T10:40:00", vessel_name="ALPHA")],
    }
    for day, rows in days.items():
        with st.temporary_path(layout.partition_file(layout.TILES_INDEX, day)) as tmp:
            geoparquet.write(frame(rows), str(tmp))
    return st


@pytest.fixture
def config(tmp_path, storage):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dataset_root": str(storage.root)}))
    return str(path)


def test_views_cover_every_day_and_empty_datasets_have_their_columns(storage):
    con = query.open_catalog(storage)
    (res,) = query.run(con, "SELECT date, count(*) FROM tiles GROUP BY date ORDER BY date")
    assert res.rows == [("2024-05-01", 2), ("2024-05-02", 1)]
    for view in ("ais_observations", "chips", "plan", "scenes"):
        (res,) = query.run(con, f"SELECT * FROM {view}")
        assert res.rows == [] and "date" in res.columns
    (res,) = query.run(con, "SELECT mmsi, status FROM chips")
    assert res.columns == ["mmsi", "status"]


def test_parameters_are_bound_never_formatted_in(storage):
    con = query.open_catalog(storage)
    (res,) = query.run(con, "SELECT tile_id FROM tiles WHERE vessel_name = $name", {"name": "O'HARA"})
    assert res.rows == [("a000000000000002",)]
    (res,) = query.run(con, "SELECT tile_id FROM tiles WHERE vessel_name = $name", {"name": "x' OR '1'='1"})
    assert res.rows == []  # an injection attempt is just a name no vessel has
    with pytest.raises(query.QueryError, match="missing parameter"):
        query.run(con, "SELECT * FROM tiles WHERE mmsi = $mmsi")
    with pytest.raises(query.QueryError, match="not used"):
        query.run(con, "SELECT 1", {"mmsi": 1})


def test_param_values_parse_as_json_else_text():
    assert query.parse_param("mmsi=211000001") == ("mmsi", 211000001)
    assert query.parse_param("$f=0.5") == ("f", 0.5)
    assert query.parse_param("d=2024-05-01") == ("d", "2024-05-01")
    assert query.parse_param('s="123"') == ("s", "123")
    with pytest.raises(query.QueryError):
        query.parse_param("novalue")


def test_cli_prints_the_rows_as_a_table(config, capsys):
    assert cli.main(["--config", config, "sql", "SELECT tile_id, split FROM tiles WHERE mmsi = $m ORDER BY tile_id",
                     "-p", "m=211000001"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[1].split() == ["|", "tile_id", "|", "split", "|"]
    assert [ln.split()[1] for ln in lines[3:5]] == ["a000000000000001", "a000000000000003"]
    assert lines[-1] == "(2 rows)"


def test_cli_reads_a_file_with_several_statements(config, tmp_path, capsys):
    sql = tmp_path / "q.sql"
    sql.write_text("SET threads = 1;\nSELECT split, count(*) AS n FROM tiles WHERE date >= $since GROUP BY ALL ORDER BY ALL;\n")
    assert cli.main(["--config", config, "sql", "--file", str(sql), "-p", "since=2024-05-01", "--format", "csv"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == ["split,n", "train,2", "val,1"]


def test_cli_reports_sql_errors_without_a_traceback(config, capsys):
    assert cli.main(["--config", config, "sql", "SELECT * FROM no_such_view"]) == 1
    assert "no_such_view" in capsys.readouterr().err
    assert cli.main(["--config", config, "sql"]) == 2


def test_days_with_other_columns_are_unioned_by_name(storage):
    # a day written before the GeoParquet change: no geometry columns, still one table with the others
    import pandas as pd

    old = frame([tile("c000000000000001", 211000005, "2024-04-30T10:30:00")]).drop(columns=list(geoparquet.GEOMETRY_COLUMNS))
    with storage.open_write(layout.partition_file(layout.TILES_INDEX, date(2024, 4, 30))) as fh:
        old.to_parquet(fh, index=False)
    con = query.open_catalog(storage)
    (res,) = query.run(con, "SELECT date, footprint IS NULL FROM tiles ORDER BY date, tile_id")
    assert res.rows == [("2024-04-30", True), ("2024-05-01", False), ("2024-05-01", False), ("2024-05-02", False)]
    assert pd.Timestamp(query.run(con, "SELECT min(acq_time) FROM tiles")[0].rows[0][0]) == pd.Timestamp("2024-04-30T10:30:00Z")
