"""A day's kept positions regrouped into runs of whole MMSIs, in MMSI order, in bounded memory.

Every day-wide rule looks within one MMSI, so the day need not be sorted as a whole: the positions
are staged in read order (Arrow IPC: no encoding, read back at memory speed) while a histogram of
their MMSIs is kept (a few bytes per vessel). Its cumulative counts cut the MMSI range into buckets
of about `rows` rows each (whole MMSIs: one vessel's day is never split). One pass over the stage
then appends each batch's rows to their bucket's file, which keeps read order within a bucket;
each bucket is then read back alone, in MMSI order, and is a run for `day_rules.finish_run`.
Memory: one stage batch while splitting, one bucket while finishing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa


class Histogram:
    """Rows per MMSI over every batch added."""

    def __init__(self):
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, mmsi: np.ndarray) -> None:
        self._parts.append(np.unique(mmsi, return_counts=True))
        if len(self._parts) > 64:  # keep it a few arrays, however many batches a day has
            self._parts = [self.counts()]

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted MMSIs, rows of each)."""
        if not self._parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        keys = np.concatenate([k for k, _ in self._parts])
        rows = np.concatenate([n for _, n in self._parts])
        uniq, where = np.unique(keys, return_inverse=True)
        return uniq, np.bincount(where, weights=rows, minlength=len(uniq)).astype(np.int64)

    def bucket_starts(self, rows: int) -> np.ndarray:
        """The first MMSI of each bucket: whole MMSIs, a new bucket once `rows` rows are reached."""
        keys, counts = self.counts()
        if not len(keys):
            return keys
        before = np.cumsum(counts) - counts  # rows of the MMSIs below each one
        bucket = before // max(rows, 1)
        first = np.r_[True, bucket[1:] != bucket[:-1]]
        return keys[first]


def runs(stage: Path, schema: pa.Schema, starts: np.ndarray, workdir: Path) -> Iterator[pa.Table]:
    """The staged rows (IPC stream `stage`, `schema`) as one table per bucket (`starts`: first MMSI of
    each), in MMSI order, each in read order. Bucket files live in `workdir` and go once read."""
    files = _split(stage, schema, starts, workdir)
    stage.unlink()
    for path in files:
        with pa.OSFile(str(path)) as f:
            table = pa.ipc.open_stream(f).read_all()
        path.unlink()
        yield table.combine_chunks()


def _split(stage: Path, schema: pa.Schema, starts: np.ndarray, workdir: Path) -> list[Path]:
    files = [Path(workdir) / f"bucket-{k:05d}.arrow" for k in range(len(starts))]
    sinks = [pa.OSFile(str(p), "wb") for p in files]
    writers = [pa.ipc.new_stream(s, schema) for s in sinks]
    try:
        with pa.OSFile(str(stage)) as f:
            for batch in pa.ipc.open_stream(f):
                _scatter(batch, starts, writers)
    finally:
        for w, s in zip(writers, sinks):
            w.close()
            s.close()
    return files


def _scatter(batch: pa.RecordBatch, starts: np.ndarray, writers: list) -> None:
    """Each row of `batch` to its bucket's writer; a stable sort keeps read order within a bucket."""
    bucket = np.searchsorted(starts, batch.column("mmsi").to_numpy(), side="right") - 1
    if len(starts) <= 1 << 16:
        bucket = bucket.astype(np.uint16)  # numpy's stable sort of 16-bit keys is a radix sort
    order = np.argsort(bucket, kind="stable")
    grouped = batch.take(pa.array(order))
    cuts = np.searchsorted(bucket[order], np.arange(len(starts) + 1))
    for k in np.flatnonzero(np.diff(cuts)):
        writers[k].write_batch(grouped.slice(cuts[k], cuts[k + 1] - cuts[k]))
