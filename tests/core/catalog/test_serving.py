"""The indexed DuckDB copy of the tile index: the same rows as the parquet days, kept in step with them."""

from __future__ import annotations

import os
from datetime import date

import duckdb
import pytest

from shipchips_core.catalog import geoparquet, query, serving
from shipchips_core.dataset import paths as layout
from shipchips_core.dataset.storage import LocalStorage

from ._rows import frame, tile

DAY1, DAY2, DAY3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)
HISTORY = "SELECT * FROM tiles WHERE mmsi = $mmsi ORDER BY acq_time"


def _write_day(st: LocalStorage, day: date, rows: list[dict]) -> None:
    with st.temporary_path(layout.partition_file(layout.TILES_INDEX, day)) as tmp:
        geoparquet.write(frame(rows), str(tmp))


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    st = LocalStorage(tmp_path / "root")
    _write_day(st, DAY1, [tile("a000000000000001", 211000001, "2024-05-01T10:30:00"),
                          tile("a000000000000002", 211000002, "2024-05-01T10:30:05", split="val")])
    _write_day(st, DAY2, [tile("a000000000000003", 211000001, "2024-05-02T10:40:00")])
    return st


def _rows(con, sql=HISTORY, params=None):
    (res,) = query.run(con, sql, params if params is not None else {"mmsi": 211000001})
    return res.columns, res.rows


def test_the_copy_answers_exactly_as_the_parquet_days(storage, tmp_path):
    served = query.open_catalog(storage, serving_cache=tmp_path / "cache")
    plain = query.open_catalog(storage)
    assert _rows(served) == _rows(plain)
    columns, rows = _rows(served)
    assert [r[columns.index("tile_id")] for r in rows] == ["a000000000000001", "a000000000000003"]
    assert columns[-1] == "date" and [r[-1] for r in rows] == ["2024-05-01", "2024-05-02"]
    by_split = "SELECT split, count(*) FROM tiles GROUP BY ALL ORDER BY ALL"
    assert _rows(served, by_split, {}) == _rows(plain, by_split, {}) == (["split", "count_star()"], [("train", 2), ("val", 1)])
    # lookups by vessel can go through an index on the copy (DuckDB takes it once a table is large)
    indexes = served.execute("SELECT database_name, table_name, expressions FROM duckdb_indexes()").fetchall()
    assert indexes == [("serving", "tiles", "[mmsi]")]


def test_sync_replaces_changed_days_drops_removed_ones_and_leaves_the_rest(storage, tmp_path):
    cache = tmp_path / "cache"
    con = duckdb.connect()
    first = serving.attach(con, storage, cache)
    assert first.loaded == ("2024-05-01", "2024-05-02") and first.rows == 3
    con.close()

    _write_day(storage, DAY2, [tile("b000000000000001", 211000001, "2024-05-02T11:00:00"),
                               tile("b000000000000002", 211000003, "2024-05-02T11:00:01")])
    _write_day(storage, DAY3, [tile("c000000000000001", 211000001, "2024-05-03T09:00:00")])
    os.remove(storage.path(layout.partition_file(layout.TILES_INDEX, DAY1)))
    con = duckdb.connect()
    again = serving.attach(con, storage, cache)
    assert again.loaded == ("2024-05-02", "2024-05-03") and again.removed == ("2024-05-01",) and again.rows == 3
    ids = con.execute("SELECT tile_id FROM serving.tiles ORDER BY tile_id").fetchall()
    assert ids == [("b000000000000001",), ("b000000000000002",), ("c000000000000001",)]
    con.close()

    con = duckdb.connect()
    unchanged = serving.attach(con, storage, cache)
    assert unchanged.loaded == () and unchanged.removed == () and unchanged.rows == 3


def test_a_copy_held_by_another_writer_falls_back_to_the_parquet_days(storage, tmp_path):
    cache = tmp_path / "cache"
    holder = duckdb.connect()  # another DuckDB in this process holds the file: the same lock another process would meet
    serving.attach(holder, storage, cache)
    why = []
    con = query.open_catalog(storage, serving_cache=cache, on_fallback=why.append)
    assert _rows(con)[1] and len(why) == 1 and str(serving.database_path(storage, cache)) in why[0]
    assert _rows(con) == _rows(query.open_catalog(storage))
    holder.close()


def test_a_copy_from_an_older_schema_version_is_rebuilt(storage, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    con = duckdb.connect()
    serving.attach(con, storage, cache)
    con.execute("CREATE TABLE serving.left_by_the_old_version (x INTEGER)")
    con.close()
    monkeypatch.setattr(serving, "SCHEMA_VERSION", serving.SCHEMA_VERSION + 1)
    con = duckdb.connect()
    rebuilt = serving.attach(con, storage, cache)
    assert rebuilt.loaded == ("2024-05-01", "2024-05-02") and rebuilt.rows == 3
    # a new file, not the old one with its tables dropped (DuckDB would not shrink it)
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'serving' ORDER BY 1").fetchall()
    assert tables == [("_days",), ("_version",), ("tiles",)]
    con.close()
    con = duckdb.connect()
    again = serving.attach(con, storage, cache)
    assert again.loaded == () and again.rows == 3


def test_shipchips_sql_keeps_its_copy_in_the_cache_dir_unless_told_not_to(storage, tmp_path, capsys):
    import yaml

    from shipchips_core import cli

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"dataset_root": str(storage.root)}))
    cache = tmp_path / "sql-cache"
    sql = "SELECT tile_id FROM tiles WHERE mmsi = $m ORDER BY tile_id"
    assert cli.main(["--config", str(config), "sql", sql, "-p", "m=211000001", "--format", "csv", "--no-cache",
                     "--cache-dir", str(cache)]) == 0
    assert not cache.exists()
    plain = capsys.readouterr().out
    assert cli.main(["--config", str(config), "sql", sql, "-p", "m=211000001", "--format", "csv", "--cache-dir", str(cache)]) == 0
    assert capsys.readouterr().out == plain and plain.split() == ["tile_id", "a000000000000001", "a000000000000003"]
    assert serving.database_path(storage, cache).exists()
