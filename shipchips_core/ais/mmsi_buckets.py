"""A day's kept positions regrouped into runs of whole MMSIs, in MMSI order, in bounded memory.

Every day-wide rule looks within one MMSI, so the day need not be sorted as a whole. The positions
are staged (Arrow IPC: no encoding, read back at memory speed) in chunks as they arrive, each chunk
sorted by MMSI (a stable sort: an MMSI's rows stay in read order) and written as small record batches
whose MMSI span is noted, while a histogram of the MMSIs is kept (a few bytes per vessel). Its
cumulative counts then cut the MMSI range into buckets of about `rows` rows of whole MMSIs (one
vessel's day is never split); a bucket is gathered from the batches of every chunk that overlap its
range, in file order, so each MMSI's rows come in read order. One write and about one read of the
kept rows, no merge; memory: one chunk while staging, one bucket while finishing.

A source read in parts at once (an archive file's byte ranges, on threads of their own) adds each
chunk with its `part`: a bucket then gathers its pieces in (part, file) order, which is read order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BATCH_ROWS = 4096  # rows of a staged record batch: a bucket reads at most one extra batch per chunk


class Histogram:
    """Rows per MMSI over every batch added."""

    def __init__(self):
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add_sorted(self, mmsi: np.ndarray) -> None:
        if len(mmsi):
            first = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
            self._parts.append((mmsi[first], np.diff(np.r_[first, len(mmsi)])))
        if len(self._parts) > 64:  # keep it a few arrays, however many chunks a day has
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
        return keys[np.r_[True, bucket[1:] != bucket[:-1]]]


class Stage:
    """The staged positions at `path` (IPC file, `schema`, an int64 `mmsi` column). Text columns are
    staged as int32 codes of a day-wide vocabulary (Arrow's take of text copies every string: sorting
    a chunk cost three times as much with them) and come back dictionary-encoded on that vocabulary."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = Path(path), schema
        self.histogram = Histogram()
        self._vocab = {f.name: {} for f in schema if pa.types.is_string(f.type)}
        self._stored = pa.schema([pa.field(f.name, pa.int32()) if f.name in self._vocab else f for f in schema])
        self._file = pa.OSFile(str(self.path), "wb")
        self._writer = pa.ipc.new_file(self._file, self._stored)
        self._first: list[int] = []
        self._last: list[int] = []
        self._part: list[int] = []
        self._lock = threading.Lock()  # parts add from threads of their own: the sort runs outside it

    def add(self, chunk: pa.Table, part: int = 0) -> None:
        """A chunk of rows in read order (of its `part`); staged sorted by MMSI (stable)."""
        with self._lock:
            columns = [_codes(chunk.column(n), self._vocab[n]) if n in self._vocab else chunk.column(n)
                       for n in self.schema.names]
        chunk = pa.table(columns, schema=self._stored)
        mmsi = chunk.column("mmsi").to_numpy()
        order = _stable_order(mmsi)
        mmsi, chunk = mmsi[order], chunk.take(pa.array(order)).combine_chunks()
        with self._lock:
            self.histogram.add_sorted(mmsi)
            for start in range(0, len(mmsi), BATCH_ROWS):
                stop = min(start + BATCH_ROWS, len(mmsi))
                self._writer.write_batch(chunk.slice(start, stop - start).to_batches()[0])
                self._first.append(int(mmsi[start]))
                self._last.append(int(mmsi[stop - 1]))
                self._part.append(part)

    def close(self) -> None:
        if not self._file.closed:
            self._writer.close()
            self._file.close()

    def runs(self, rows: int) -> Iterator[pa.Table]:
        """The staged rows as one table per bucket of about `rows` rows, in MMSI order, each MMSI's rows
        in read order. The stage file goes once read."""
        self.close()
        starts = self.histogram.bucket_starts(rows)
        ends = np.r_[starts[1:], np.iinfo(np.int64).max]
        first, last = np.asarray(self._first, np.int64), np.asarray(self._last, np.int64)
        part = np.asarray(self._part, np.int64)
        try:
            with pa.OSFile(str(self.path)) as f:
                reader = pa.ipc.open_file(f)
                for lo, hi in zip(starts, ends):
                    overlap = np.flatnonzero((first < hi) & (last >= lo))  # in file order
                    overlap = overlap[np.argsort(part[overlap], kind="stable")]  # in read order
                    pieces = [_within(reader.get_batch(int(i)), lo, hi) for i in overlap]
                    yield self._decoded(pa.Table.from_batches(pieces, self._stored).combine_chunks())
        finally:
            self.path.unlink(missing_ok=True)

    def _decoded(self, table: pa.Table) -> pa.Table:
        for name, vocab in self._vocab.items():
            words = pa.array(list(vocab), pa.string())
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, pa.DictionaryArray.from_arrays(table.column(i).combine_chunks(), words))
        return table


def _codes(values: pa.ChunkedArray, vocab: dict) -> pa.ChunkedArray:
    """Text (plain or dictionary-encoded) as int32 codes in `vocab` (words added as first seen), null
    where missing: each chunk's few distinct words are looked up, its rows only re-indexed."""
    out = []
    for chunk in values.chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
        mapping = pa.array([vocab.setdefault(w, len(vocab)) for w in encoded.dictionary.to_pylist()], pa.int32())
        out.append(mapping.take(encoded.indices))
    return pa.chunked_array(out, pa.int32())


def _stable_order(mmsi: np.ndarray) -> np.ndarray:
    """np.argsort(mmsi, kind="stable"), sooner: (mmsi, row) packed in one int64 is unique, so numpy's
    plain sort of it (about half the time of a stable argsort) gives the same order."""
    bits = max(int(len(mmsi)).bit_length(), 1)
    if len(mmsi) and (mmsi.min() < 0 or int(mmsi.max()) >= 1 << (62 - bits)):
        return np.argsort(mmsi, kind="stable")
    key = (mmsi.astype(np.int64) << bits) | np.arange(len(mmsi), dtype=np.int64)
    return np.sort(key) & ((1 << bits) - 1)


def _within(batch: pa.RecordBatch, lo: int, hi: int) -> pa.RecordBatch:
    """The rows of an MMSI-sorted batch with lo <= mmsi < hi."""
    mmsi = batch.column("mmsi").to_numpy()
    a, z = np.searchsorted(mmsi, [lo, hi], side="left")
    return batch.slice(a, z - a)
