"""Where a partition's slices are cut: local worker processes, or tasks on a Dask distributed cluster.

`chips.executor: local` (the default) cuts the first group of slices in this process while spawned
processes cut the others. `chips.executor: dask` submits every slice as one task to the scheduler
named by `chips.dask_scheduler` (else `$SHIPCHIPS_DASK_SCHEDULER`). A task is pure: it reads its
scene's COGs and writes its chips' files, each through a temporary name renamed into place, so a
task that runs twice (its worker was lost half-way, Dask re-ran it elsewhere) writes the same bytes
again and leaves at most stale temporaries, which `orphan_cleanup` removes. Either way the rows and
files are those of a one-process run. An environment fault raised in a task (a full disk) fails the
partition at once and cancels the tasks not yet finished.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from shipchips_core.config import ConfigError

SCHEDULER_ENV = "SHIPCHIPS_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 30  # a scheduler that does not answer by then is down or misnamed

ProgressFn = Callable[[int, int], None]  # (attempts done, attempts planned)
SliceFn = Callable[..., list[dict]]  # cut_slices(job, tasks, vessels[, on_attempt]) -> rows


class Tally:
    """Counts finished attempts for a progress callback; thread-safe (pool callbacks run in a thread)."""

    def __init__(self, planned: int, progress: ProgressFn | None):
        self.planned, self.progress, self.done, self._lock = planned, progress, 0, threading.Lock()

    def add(self, n: int) -> None:
        if self.progress is None:
            return
        with self._lock:
            self.done += n
            self.progress(self.done, self.planned)

    def add_future(self, future) -> None:
        if not future.cancelled() and future.exception() is None:
            self.add(len(future.result()))


def run_local(cut: SliceFn, job, groups: Sequence[list], vessels: Sequence[dict], tally: Tally) -> list[dict]:
    """`groups[0]` cut in this process while worker processes cut the others (`vessels[i]`: the
    vessel facts group i needs)."""
    others = [(g, v) for g, v in zip(groups[1:], vessels[1:]) if g]
    if not others:
        return cut(job, groups[0], vessels[0], tally.add)
    # spawn, not fork: the caller may run threads (servers, Dagster) that a fork would copy half-way
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=len(others), mp_context=context)
    try:
        futures = [pool.submit(cut, job, group, facts) for group, facts in others]
        for f in futures:
            f.add_done_callback(tally.add_future)
        rows = cut(job, groups[0], vessels[0], tally.add)
        rows += [row for f in futures for row in f.result()]
    except BaseException:  # an environment fault fails the run now: start no more slices
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    # every row is in: the idle workers' interpreters wind down in the background, not on the
    # partition's clock (~0.15 s a run here); the pool's own thread still reaps them
    pool.shutdown(wait=False)
    return rows


def scheduler_address(chips_cfg, environ=None) -> str:
    """The Dask scheduler to submit to: the config's, else the environment's; a clear error if neither."""
    environ = os.environ if environ is None else environ
    address = chips_cfg.dask_scheduler or environ.get(SCHEDULER_ENV, "")
    if not address:
        raise ConfigError(f"chips.executor is 'dask' but no scheduler is named: set chips.dask_scheduler "
                          f"(e.g. tcp://scheduler:8786) or export {SCHEDULER_ENV}")
    return address


def run_dask(cut: SliceFn, job, tasks: Sequence[list], vessels: Sequence[dict], tally: Tally) -> list[dict]:
    """Every task (a list of slices) submitted to the configured Dask cluster; the rows in task order."""
    from distributed import Client, as_completed  # imported here: the local executor does without it

    address = scheduler_address(job.cfg.chips)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"Dask scheduler {address} could not be reached: {exc}. "
                              f"Check chips.dask_scheduler / {SCHEDULER_ENV}") from exc
    with client:
        run_id = uuid.uuid4().hex[:8]  # one run's keys never alias another run's results
        futures = [client.submit(cut, job, task, facts, key=f"cut_slices-{job.day}-{run_id}-{i}", pure=False)
                   for i, (task, facts) in enumerate(zip(tasks, vessels))]
        try:
            for future in as_completed(futures, loop=client.loop):
                tally.add(len(future.result()))  # re-raises a task's own exception (a StorageFault) here
            return [row for f in futures for row in f.result()]
        except BaseException:
            client.cancel(futures)
            raise
