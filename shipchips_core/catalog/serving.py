"""The tile index served from an indexed DuckDB copy: point lookups by vessel without a scan of every day.

The GeoParquet days under `indexes/tiles.parquet` stay the dataset's record (what GeoPandas, DuckDB and
the exports read). A parquet scan decodes one whole row group per day for a lookup by MMSI, however the
days are laid out (measured in benchmarks/index_queries.py), so over months of days a vessel's history
costs seconds. `shipchips sql` therefore queries a DuckDB database that mirrors the days in one table
with an ART index on `mmsi`: a copy, kept in a cache folder outside the dataset root, that anyone can
delete.

`attach` brings the copy up to date with the stored days: a day file that is new, or whose modification
time changed, replaces that day's rows; a day whose file is gone loses its rows; the rest is
not touched. The copy records which file state each day came from (table `_days`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shipchips_core.dataset import paths as layout

SCHEMA_VERSION = 2  # bump when the copy's tables change: an older copy is rebuilt
TABLE = "tiles"
CACHE_ENV = "SHIPCHIPS_CACHE_DIR"


@dataclass(frozen=True)
class SyncReport:
    """What one `sync` changed: days (re)loaded and removed, and the rows the copy then holds."""

    loaded: tuple[str, ...]
    removed: tuple[str, ...]
    rows: int


def default_cache_dir() -> Path:
    """`$SHIPCHIPS_CACHE_DIR`, else `~/.cache/shipchips`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "shipchips").expanduser()


def database_path(storage, cache_dir: Path) -> Path:
    """The copy of `storage`'s tile index: one file per dataset root, named after the root."""
    root = storage.uri("")
    return Path(cache_dir) / f"tiles-{hashlib.sha256(root.encode()).hexdigest()[:16]}.duckdb"


def _stored_days(con: duckdb.DuckDBPyConnection, storage) -> dict[str, tuple[str, float]]:
    """{day: (the day's parquet as DuckDB reads it, its modification time)} of the tile-index days stored."""
    days = {}
    for rel in storage.list(layout.TILES_INDEX, ".parquet"):
        day = layout.partition_day(rel)
        if day is not None:
            folder = rel.rsplit("/", 1)[0]  # the hive folder: DuckDB takes `date` from its name
            days[day] = (storage.duckdb_pattern(con, folder), float(storage.modified(rel)))
    return days


def _recorded_days(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, tuple[str, float]]:
    version = con.execute(f"SELECT max(version) FROM {db}._version").fetchone()[0]
    if version != SCHEMA_VERSION:
        return {}
    return {d: (src, m) for d, src, m in con.execute(f"SELECT date, source, modified FROM {db}._days").fetchall()}


def _ensure_tables(con: duckdb.DuckDBPyConnection, db: str, first_file: str) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {db}._version (version INTEGER)")
    if con.execute(f"SELECT max(version) FROM {db}._version").fetchone()[0] is None:  # a new copy (`attach` replaced an old one)
        con.execute(f"INSERT INTO {db}._version VALUES ({SCHEMA_VERSION})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {db}._days (date VARCHAR PRIMARY KEY, source VARCHAR, modified DOUBLE)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {db}.{TABLE} AS SELECT * FROM {_read(first_file)} LIMIT 0")


def _older_version(con: duckdb.DuckDBPyConnection, db: str) -> bool:
    """True for a copy made by another schema version (an empty new file is not one)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = $db", {"db": db}).fetchall()}
    if "_version" not in tables:
        return bool(tables)
    return con.execute(f"SELECT max(version) FROM {db}._version").fetchone()[0] != SCHEMA_VERSION


def _read(file: str) -> str:
    quoted = file.replace("'", "''")
    return f"read_parquet('{quoted}', hive_partitioning = true, hive_types = {{'date': 'VARCHAR'}})"


def _sync(con: duckdb.DuckDBPyConnection, db: str, stored: dict[str, tuple[str, float]]) -> SyncReport:
    """Bring the attached copy `db` up to date with the `stored` days (module docstring)."""
    _ensure_tables(con, db, next(iter(stored.values()))[0])
    recorded = _recorded_days(con, db)
    stale = sorted(d for d in recorded if d not in stored or recorded[d] != stored[d])
    fresh = sorted(d for d in stored if recorded.get(d) != stored[d])
    if stale or fresh:
        con.execute("BEGIN TRANSACTION")
        try:
            _apply(con, db, stale, {d: stored[d] for d in fresh}, first_build=not recorded)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    rows = con.execute(f"SELECT count(*) FROM {db}.{TABLE}").fetchone()[0]
    return SyncReport(loaded=tuple(fresh), removed=tuple(d for d in stale if d not in stored), rows=int(rows))


def _apply(con, db: str, stale: list[str], fresh: dict[str, tuple[str, float]], first_build: bool) -> None:
    if first_build:  # the index is built once after the bulk load: far faster than row by row
        con.execute(f"DROP INDEX IF EXISTS {db}.tiles_mmsi")
    for day in stale:
        con.execute(f"DELETE FROM {db}.{TABLE} WHERE date = $d", {"d": day})
        con.execute(f"DELETE FROM {db}._days WHERE date = $d", {"d": day})
    for day, (source, modified) in fresh.items():
        con.execute(f"INSERT INTO {db}.{TABLE} BY NAME SELECT * FROM {_read(source)}")
        con.execute(f"INSERT INTO {db}._days VALUES ($d, $s, $m)", {"d": day, "s": source, "m": modified})
    con.execute(f"CREATE INDEX IF NOT EXISTS tiles_mmsi ON {db}.{TABLE} (mmsi)")


def attach(con: duckdb.DuckDBPyConnection, storage, cache_dir: Path, db: str = "serving") -> SyncReport | None:
    """Attach (creating if needed) the copy of `storage`'s tile index to `con` as `db`, synced; None (and
    nothing attached) while no day is stored.

    Raises duckdb.IOException when another process holds the copy open for writing."""
    stored = _stored_days(con, storage)
    if not stored:
        return None
    path = database_path(storage, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {db}")
    if _older_version(con, db):  # a new file, not tables dropped inside the old one: DuckDB does not shrink files
        con.execute(f"DETACH {db}")
        path.unlink()
        Path(f"{path}.wal").unlink(missing_ok=True)
        con.execute(f"ATTACH '{quoted}' AS {db}")
    try:
        return _sync(con, db, stored)
    except BaseException:
        con.execute(f"DETACH {db}")
        raise
