"""A backfill of the whole graph by partition names, launched through Dagster's GraphQL API (what the UI's
backfill dialog sends), then carried out by the backfill daemon's own iteration on a test instance."""

from __future__ import annotations

import logging

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster_graphql.test.utils import execute_dagster_graphql

from shipchips_core.config import CONFIG_ENV
from shipchips_core.dataset import paths

DAYS = ["2024-01-02", "2024-01-03"]  # days without AIS: the whole graph runs on empty tables
LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on UnauthorizedError { message }
  }
}
"""
IN_PROCESS = {
    "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher", "class": "SyncInMemoryRunLauncher"},
    "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
}


@pytest.mark.slow
def test_a_two_partition_backfill_of_the_whole_graph_by_partition_names(monkeypatch, tmp_path, shipped_config):
    data = yaml.safe_load(shipped_config.read_text())
    data["dataset_root"] = str(tmp_path / "root")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "config.yaml"))
    monkeypatch.setenv("SHIPCHIPS__STAC__URL", "http://127.0.0.1:9")  # days without AIS never search
    target = ModuleTarget(module_name="shipchips_dagster.definitions", attribute="defs", working_directory=None,
                          location_name="shipchips")
    with dg.instance_for_test(overrides=IN_PROCESS) as instance, WorkspaceProcessContext(instance, target) as process:
        from shipchips_dagster.definitions import defs

        keys = sorted(defs.resolve_asset_graph().get_all_asset_keys())
        params = {"partitionNames": DAYS, "assetSelection": [{"path": k.path} for k in keys]}
        launched = execute_dagster_graphql(process.create_request_context(), LAUNCH, {"params": params})
        answer = launched.data["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        backfill_id = answer["backfillId"]
        for _ in range(40):  # each iteration launches the runs whose upstream partitions are done
            list(execute_backfill_iteration(process, logging.getLogger("backfill-test")))
            if instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED:
                break
        backfill = instance.get_backfill(backfill_id)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, backfill.status
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    for table in ("acquisition_plan", "chip_candidates", "chips", "plan_status", "qa_report"):
        days = sorted(p.name for p in (tmp_path / "root" / paths.table_dataset(table)).iterdir() if p.is_dir())
        assert days == [f"date={d}" for d in DAYS], (table, days)
