"""Backfill the whole asset graph over a date range from the command line:

    python -m shipchips_dagster.backfill --start 2024-01-01 --end 2024-01-07

`dagster asset materialize --partition-range` only takes assets with a single-run backfill policy,
and ours compute one day per run (each reads its `partition_key`); a UI backfill needs the daemon.
So this runs the daily assets one partition at a time, in-process, through the job Dagster builds
for the graph (asset checks included), printing one JSON line per day: a failed day does not stop
the next. The unpartitioned SQL models run once at the end. Runs are recorded in $DAGSTER_HOME's
instance when it is set (so the UI shows them), else in a throwaway one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import dagster as dg

from shipchips_core.config import CONFIG_ENV
from shipchips_core.progress import Progress, is_terminal

WHOLE_GRAPH = "unpartitioned"  # the `partition` of the outcome of the unpartitioned assets' run


@dataclass(frozen=True)
class Outcome:
    partition: str  # the day, or WHOLE_GRAPH
    success: bool
    run_id: str | None = None
    failed_steps: tuple[str, ...] = ()
    error: str | None = None


def split_selection(defs: dg.Definitions) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
    """Keys of the daily-partitioned assets and of the unpartitioned ones."""
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    return [k for k in keys if graph.get(k).partitions_def], [k for k in keys if not graph.get(k).partitions_def]


def backfill(defs: dg.Definitions, start: date, end: date, instance: dg.DagsterInstance,
             run_config: dict | None = None) -> Iterator[Outcome]:
    """One run per day from `start` to `end` (inclusive), then one of the unpartitioned assets if any day
    succeeded; yields each outcome as its run ends."""
    daily, whole = split_selection(defs)
    job = defs.resolve_implicit_global_asset_job_def()
    partitions = defs.resolve_asset_graph().get(daily[0]).partitions_def
    daily_job = job.get_subset(asset_selection=set(daily))
    any_success = False
    for day in (start + timedelta(days=n) for n in range((end - start).days + 1)):
        key = day.isoformat()
        if not partitions.has_partition_key(key):
            outcome = Outcome(key, False, error=f"{key} is not a daily partition (before partitions.start_date, or not over yet)")
        else:
            outcome = _run(daily_job, instance, key, run_config)
        any_success |= outcome.success
        yield outcome
    if whole and any_success:
        yield _run(job.get_subset(asset_selection=set(whole)), instance, None, run_config)


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance, partition: str | None, run_config: dict | None = None) -> Outcome:
    label = partition or WHOLE_GRAPH
    try:
        result = job.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False,
                                        tags={"shipchips/backfill": "cli"}, run_config=run_config)
    except Exception as exc:  # noqa: BLE001 - a run that cannot even start fails its day only
        return Outcome(label, False, error=f"{type(exc).__name__}: {exc}")
    failures = result.get_step_failure_events()
    error = _user_error(failures[0].step_failure_data.error) if failures else None
    return Outcome(label, result.success, result.run_id, tuple(e.step_key for e in failures), error)


def _user_error(error) -> str:
    """The first error below Dagster's wrappers, e.g. `ArchiveError: AIS archive ...: No such file`."""
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error.message.strip()


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipchips_dagster.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--start", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--config", help="config.yaml path (default: $SHIPCHIPS_CONFIG or ./config.yaml)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON line per day and Dagster's event stream (as off a terminal), no progress bar")
    args = parser.parse_args(argv)
    if args.end < args.start:
        parser.error(f"--end {args.end} is before --start {args.start}")
    if args.config:  # the one config source of the code location: its resource and its partitions
        os.environ[CONFIG_ENV] = args.config
    from shipchips_dagster.definitions import defs

    live = not args.json and is_terminal(sys.stderr)
    days = (args.end - args.start).days + 1
    failed = []
    with _instance() as instance, _days_bar(live, days) as bar:
        for outcome in backfill(defs, args.start, args.end, instance, QUIET if live else None):
            failed += [] if outcome.success else [outcome.partition]
            if live:
                bar.console_line(_human(outcome))
                bar.update(min(bar.done + 1, days), status=f"{len(failed)} failed" if failed else "")
            else:
                print(json.dumps(asdict(outcome)), flush=True)
    if not live:
        print(json.dumps({"failed": failed}), flush=True)
    elif failed:
        print(f"failed: {', '.join(failed)} (--json for the errors as JSON)", file=sys.stderr)
    return 1 if failed else 0


# on a terminal the bar stands for Dagster's DEBUG stream; the instance still records every event
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _days_bar(live: bool, days: int):
    return Progress("backfill", days, "days", stream=sys.stderr) if live else contextlib.nullcontext()


def _human(o: Outcome) -> str:
    state = "ok" if o.success else f"FAILED {', '.join(o.failed_steps)}: {o.error}"
    return f"{o.partition}  {state}" + (f"  (run {o.run_id})" if o.run_id else "")


if __name__ == "__main__":
    sys.exit(main())
