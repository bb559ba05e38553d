"""`shipchips sql`: SQL over the dataset in DuckDB, through a catalog of views on the stored parquet.

Views (every day of each dataset as one table, its hive `date` column a 'YYYY-MM-DD' string):

| view | dataset |
|---|---|
| `tiles` | `indexes/tiles.parquet` (GeoParquet: `footprint`, `ship_point` are GEOMETRY in OGC:CRS84) |
| `ais_observations` | `indexes/ais_observations.parquet` |
| `chips` | `tables/chips` (every chip attempt, with status and reason) |
| `plan` | `tables/acquisition_plan` |
| `scenes` | `tables/s2_scene_metadata` |
| `stac_items` | `indexes/stac_items.parquet` (when exported) |

A dataset with no stored day yet is an empty view with its schema's columns. Values come in as named
parameters (`$name`) bound by DuckDB, never formatted into the SQL text.

Given a cache folder (`shipchips sql` passes one), `tiles` reads the indexed DuckDB copy of the index
(`catalog/serving.py`), synced first, instead of the parquet days: the same rows and columns, with lookups
by vessel through an index. Where the copy cannot be used (another process is writing it, a day's columns
differ from the others'), `tiles` reads the parquet days and `on_fallback` is told why.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from shipchips_core.catalog import serving, stac
from shipchips_core.dataset import paths as layout
from shipchips_core.dataset import schemas

VIEWS: dict[str, tuple[str, str | None]] = {
    "tiles": (layout.TILES_INDEX, "tile_index"),
    "ais_observations": (layout.AIS_OBSERVATIONS_INDEX, "ais_snapshots"),
    "chips": (layout.table_dataset("chips"), "chips"),
    "plan": (layout.table_dataset("acquisition_plan"), "acquisition_plan"),
    "scenes": (layout.table_dataset("s2_scene_metadata"), "s2_scene_metadata"),
    "stac_items": (stac.STAC_ITEMS, None),
}


# statements whose only answer is DuckDB's "Success" (or nothing): run, not printed
_SILENT = {"SET", "VARIABLE_SET", "CREATE", "CREATE_FUNC", "DROP", "ALTER", "TRANSACTION", "LOAD", "ATTACH", "DETACH", "PREPARE"}


class QueryError(ValueError):
    """A statement that does not parse, a parameter missing or unused, or a failing query."""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty_arrow(schema_name: str) -> pa.Table:
    frame = schemas.empty_frame(schema_name)
    frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("date", pa.array([], pa.string()))


def _uniform_schema(con: duckdb.DuckDBPyConnection, pattern: str) -> bool:
    """True when every file of the glob has the same columns, in the same order, of the same types
    (the footers read here stay in DuckDB's metadata cache for the queries that follow)."""
    per_file: dict[str, list] = {}
    for file_name, name, type_ in con.execute(f"SELECT file_name, name, type FROM parquet_schema({pattern})").fetchall():
        per_file.setdefault(file_name, []).append((name, type_))
    return len({tuple(cols) for cols in per_file.values()}) <= 1


def open_catalog(storage, database: str = ":memory:", threads: int | None = None, serving_cache=None,
                 on_fallback=None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per dataset of `storage` (see the module docstring)."""
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET parquet_metadata_cache = true")  # footers read once per session
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for view, (dataset, schema_name) in VIEWS.items():
        if view == "tiles" and serving_cache is not None and _serve_tiles(con, storage, serving_cache, on_fallback):
            continue
        if storage.list(dataset, ".parquet"):
            pattern = _sql_string(storage.duckdb_pattern(con, dataset))
            # unioning by name costs every query a schema pass over every file (about twice the time of a
            # one-vessel lookup over 60 days): only when the days' schemas differ (e.g. older partitions)
            union = "" if _uniform_schema(con, pattern) else ", union_by_name = true"
            con.execute(
                f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet({pattern}, hive_partitioning = true, "
                f"hive_types = {{'date': 'VARCHAR'}}{union})"
            )
        elif schema_name is not None:
            con.register(f"_{view}_empty", _empty_arrow(schema_name))
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM _{view}_empty")
    return con


def _serve_tiles(con: duckdb.DuckDBPyConnection, storage, cache_dir, on_fallback) -> bool:
    """Point `tiles` at the synced serving copy; False (and `on_fallback` told why) where it cannot be used."""
    try:
        if serving.attach(con, storage, cache_dir) is None:  # no day stored yet: the empty view
            return False
    except (duckdb.Error, OSError) as exc:
        if on_fallback is not None:
            on_fallback(f"the indexed copy at {serving.database_path(storage, cache_dir)} is not usable ({exc}); "
                        "reading the parquet days")
        return False
    con.execute(f"CREATE OR REPLACE VIEW tiles AS SELECT * FROM serving.{serving.TABLE}")
    return True


def parse_param(text: str) -> tuple[str, Any]:
    """`name=value` from the command line: the value as JSON (number, true/false/null, "string", list)
    when it parses, else the raw text as a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise QueryError(f"parameter {text!r}: expected name=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip().lstrip("$"), value


@dataclass
class Result:
    sql: str
    columns: list[str]
    rows: list[tuple]


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[Result]:
    """Run every statement of `sql` in order, each bound to the named parameters it uses; the results
    of the statements that return rows. A parameter no statement uses is an error (a typo)."""
    params = dict(params or {})
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL does not parse: {exc}") from None
    if not statements:
        raise QueryError("no SQL statement given")
    used = set().union(*(set(s.named_parameters) for s in statements))
    if unused := sorted(set(params) - used):
        raise QueryError(f"parameter(s) {', '.join(unused)} not used by the SQL (write them as ${unused[0]})")
    results = []
    for st in statements:
        names = set(st.named_parameters)
        if missing := sorted(names - set(params)):
            raise QueryError(f"missing parameter(s): {', '.join(missing)} (pass --param {missing[0]}=VALUE)")
        try:
            cur = con.execute(st.query, {k: params[k] for k in names} if names else None)
            if cur.description is None or st.type.name in _SILENT:
                continue
            columns = [d[0] for d in cur.description]
            results.append(Result(st.query, columns, cur.fetchall()))
        except duckdb.Error as exc:
            raise QueryError(str(exc)) from None
    return results


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, float):
        text = f"{value:.10g}"
    elif isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_result(result: Result, fmt: str = "table", max_rows: int | None = 100, max_width: int = 40) -> str:
    """A result as an aligned text table (default), CSV or JSON lines."""
    rows = result.rows if max_rows is None else result.rows[:max_rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_cell(v, 10**9) if v is not None else "" for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(result.columns, [_cell(v, 10**9) if not isinstance(v, (int, float, bool)) or v is None else v for v in r])), default=str) for r in rows)
    cells = [[_cell(v, max_width) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(result.columns, widths)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    out.append(line)
    shown = f"{len(rows)} of {len(result.rows)} rows" if len(rows) < len(result.rows) else f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
    out.append(f"({shown})")
    return "\n".join(out)
