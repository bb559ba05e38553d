"""The graph for the sample day with deploy/dagster.yaml's Postgres storage, verbatim, on a real PostgreSQL
server on loopback: runs, materializations and check results are stored there and read back."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from shipchips_core.dataset import paths
from shipchips_twin.world import SAMPLE_DAY
from tests.postgres_server import running_postgres
from tests.twin_day import twin_day

pytestmark = pytest.mark.slow
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DAY = SAMPLE_DAY.isoformat()


@pytest.fixture(scope="module")
def stored(tmp_path_factory, shipped_config):
    """The day's daily assets run once into an instance whose storage is deploy/dagster.yaml's."""
    from shipchips_dagster.definitions import build_definitions

    tmp = tmp_path_factory.mktemp("pg_e2e")
    home = tmp / "dagster_home"
    home.mkdir()
    storage = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["storage"]
    # the deployment's storage section as it is; runs launched in this process (no cluster here)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage, "telemetry": {"enabled": False}}))
    with running_postgres() as server, twin_day(tmp, shipped_config) as day:
        db = server.create_database("shipchips_dagster")
        os.environ.update(server.env(db))
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            defs = build_definitions(str(day.config_path))
            graph = defs.resolve_asset_graph()
            daily = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None}
            job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=daily)
            result = job.execute_in_process(instance=instance, partition_key=DAY)
            # read back through a fresh instance on the same database, and straight from the tables
            reread = dg.DagsterInstance.from_config(str(home))
            conn = server.connect(db)
            yield {"result": result, "daily": daily, "instance": reread, "conn": conn, "server": server,
                   "storage": day.storage}
            conn.close()
            reread.dispose()
        finally:
            instance.dispose()


def _sql(conn, query: str, *args) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def test_the_instance_stores_runs_events_and_schedules_in_postgres(stored):
    instance = stored["instance"]
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert stored["result"].success


def test_the_run_is_a_row_of_the_postgres_runs_table(stored):
    run_id = stored["result"].run_id
    rows = _sql(stored["conn"], "SELECT status, partition FROM runs WHERE run_id = %s", run_id)
    assert rows == [("SUCCESS", DAY)]
    assert stored["instance"].get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS


def test_every_daily_asset_has_its_materialization_in_the_event_log_table(stored):
    rows = _sql(stored["conn"], "SELECT asset_key, partition FROM event_logs "
                "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'", stored["result"].run_id)
    keys = {dg.AssetKey.from_db_string(k) for k, _ in rows}
    assert keys == stored["daily"] and {p for _, p in rows} == {DAY}


def test_the_chips_materialization_read_back_from_postgres_counts_the_stored_chips(stored):
    event = stored["instance"].get_latest_materialization_event(dg.AssetKey("chips"))
    meta = event.asset_materialization.metadata
    table = stored["storage"].path(paths.partition_file(paths.table_dataset("chips"), SAMPLE_DAY))
    [(rows, ok)] = duckdb.sql(f"SELECT count(*), count_if(status = 'ok') FROM read_parquet('{table}')").fetchall()
    assert (meta["rows"].value, meta["count/ok"].value) == (rows, ok) and ok > 0
    assert stored["instance"].get_materialized_partitions(dg.AssetKey("chips")) == {DAY}


def test_check_results_are_stored_and_passed(stored):
    rows = _sql(stored["conn"], "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
                stored["result"].run_id)
    assert rows and {s for _, s in rows} == {"SUCCEEDED"}, rows


def test_the_database_password_is_in_no_stored_event(stored):
    [(n,)] = _sql(stored["conn"], "SELECT count(*) FROM event_logs WHERE event LIKE %s",
                  f"%{stored['server'].password}%")
    [(total,)] = _sql(stored["conn"], "SELECT count(*) FROM event_logs")
    assert n == 0 and total > 100
