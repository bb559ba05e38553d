"""A tiny, framework-free runner for the SQL models in `dbt_like_sql/`.

Each model is one `.sql` file: a header of `-- key: value` comment lines naming the model (the file's
stem), describing it and saying whether it is `partitioned: daily` or `partitioned: none`, then a
single SELECT over the view `tiles` (the tile index, every day, with its hive `date` column as a
'YYYY-MM-DD' string). A daily model filters on the DuckDB named parameter `$partition_date`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from shipchips_core.dataset import paths, schemas

_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_PARTITIONED = {"daily": True, "none": False}
# integer columns stay integers (nullable) instead of turning float when a value is NULL
_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
}


@dataclass(frozen=True)
class SqlModel:
    name: str
    description: str
    partitioned: bool
    sql: str
    path: Path


class SqlModelError(ValueError):
    """A model file is malformed, or a model was run with the wrong arguments."""


def parse_model(path: str | Path) -> SqlModel:
    """Parse one model file; raise SqlModelError naming the file if its header or body is bad."""
    path = Path(path)
    header: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    body_start = len(lines)
    for i, line in enumerate(lines):
        match = _HEADER_LINE.match(line.strip())
        if match:
            header[match.group(1)] = match.group(2)
        elif line.strip() and not line.strip().startswith("--"):
            body_start = i
            break
    missing = [k for k in ("model", "description", "partitioned") if not header.get(k)]
    if missing:
        raise SqlModelError(f"{path}: header is missing {', '.join(f'-- {k}: ...' for k in missing)}")
    if header["model"] != path.stem:
        raise SqlModelError(f"{path}: '-- model: {header['model']}' does not match the file name {path.stem!r}")
    if header["partitioned"] not in _PARTITIONED:
        raise SqlModelError(f"{path}: '-- partitioned: {header['partitioned']}' must be 'daily' or 'none'")
    partitioned = _PARTITIONED[header["partitioned"]]
    sql = "\n".join(lines[body_start:]).strip().rstrip(";").strip()
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlModelError(f"{path}: SQL does not parse: {exc}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise SqlModelError(f"{path}: the body must be a single SELECT statement")
    params = set(statements[0].named_parameters)
    if params != ({"partition_date"} if partitioned else set()):
        expected = "exactly $partition_date" if partitioned else "no parameters"
        raise SqlModelError(f"{path}: a '{header['partitioned']}' model takes {expected}, found {sorted(params)}")
    return SqlModel(header["model"], header["description"], partitioned, sql, path)


def default_models_dir() -> Path:
    """The shipped models: the top-level `dbt_like_sql` package (installed beside the core)."""
    import dbt_like_sql

    return dbt_like_sql.MODELS_DIR


def load_models(directory: str | Path | None = None) -> list[SqlModel]:
    """Every `*.sql` model in `directory` (default: the shipped models), sorted by name."""
    directory = default_models_dir() if directory is None else directory
    paths = sorted(Path(directory).glob("*.sql"))
    if not paths:
        raise SqlModelError(f"{directory}: no .sql model files")
    return [parse_model(p) for p in paths]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_tiles_view(con: duckdb.DuckDBPyConnection, storage) -> None:
    if storage.list(paths.TILES_INDEX, ".parquet"):
        pattern = _sql_string(storage.duckdb_pattern(con, paths.TILES_INDEX))
        con.execute(
            f"CREATE VIEW tiles AS SELECT * FROM read_parquet({pattern}, hive_partitioning = true, "
            "hive_types = {'date': 'VARCHAR'}, union_by_name = true)"
        )
        return
    empty = schemas.empty_frame("tile_index")
    empty = empty.astype({c: "string" for c in empty.columns if empty[c].dtype == object})
    empty["date"] = pd.Series(dtype="string")
    con.register("tiles_empty", empty)
    con.execute("CREATE VIEW tiles AS SELECT * FROM tiles_empty")


def _as_date(day: str | date) -> date:
    if isinstance(day, datetime):
        return day.date()
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def run_model(model: SqlModel, storage, partition_date: str | date | None = None) -> pd.DataFrame:
    """Run `model` over the tile index of `storage` in a fresh in-memory DuckDB; a daily model needs a date."""
    if model.partitioned and partition_date is None:
        raise SqlModelError(f"model {model.name!r} is partitioned daily: pass partition_date='YYYY-MM-DD'")
    if not model.partitioned and partition_date is not None:
        raise SqlModelError(f"model {model.name!r} is not partitioned: it takes no partition_date")
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        _create_tiles_view(con, storage)
        params = {"partition_date": _as_date(partition_date).isoformat()} if model.partitioned else None
        # via Arrow: DuckDB's .df() drops the time zone of TIMESTAMPTZ_NS columns (acq_time); Arrow keeps it
        return con.sql(model.sql, params=params).to_arrow_table().to_pandas(types_mapper=_NULLABLE_INTS.get)
    finally:
        con.close()
