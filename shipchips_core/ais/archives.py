"""Historical AIS archives into `ais_snapshots`, and which source feeds each daily partition.

A day covered by an `ais.archives` entry is read from that entry's daily file; every other day from
the collector's landing files (`landing_day.stream_landing_day`). Archive files are paths or http(s) URLs:
`.csv`, `.zip` holding one CSV, `.csv.zst` / `.csv.gz`. They are streamed, never loaded whole:
BLOCK_BYTES of text are parsed at a time (a `.zip` member and a `.zst` decompress on the fly; a
local `.csv` is read in byte ranges at once), the row rules drop and count most of a day right
away, and only the kept rows are converted and held. A `.zip` URL is downloaded to a temporary
file first: a zip's index sits at its end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date
from http.client import HTTPException
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from shipchips_core.ais import clean, day_stream, dma, landing_day, noaa, snapshot_dataset, work_files
from shipchips_core.ais.csv_layout import CANONICAL, Layout, canonical, raw_static_versions, row_keys
from shipchips_core.config import AisConfig
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage

LAYOUTS = {"noaa": noaa.LAYOUTS, "dma": dma.LAYOUTS}
# ~40 k rows a block; a part holds one block's text and its batch (see `_batches`)
BLOCK_BYTES = 4 << 20
PARTS = 2  # byte ranges of a local CSV parsed at once, one thread each (the machine's cores)
PART_MIN_BYTES = 4 * BLOCK_BYTES  # smaller files are read as one part
REGROUP_BLOCKS = 16  # a part's static versions are regrouped every this many blocks (same rows, see _convert)
HEADER_BYTES = 64 << 10
HTTP_TIMEOUT_S = 60.0
STATIC_SCHEMA = pa.schema([CANONICAL.field(n) for n in ("mmsi", "time_utc", *clean.STATIC_FIELDS, *clean.SIZE_FIELDS)])
POSITION_SCHEMA = pa.schema([CANONICAL.field(n) for n in clean.POSITION_FIELDS])
CODECS = {".zst": "zstd", ".gz": "gzip", ".bz2": "bz2"}


class ArchiveError(RuntimeError):
    """An archive file cannot be read or is not in the configured format; the message names it."""


def build_day(storage: LocalStorage, ais: AisConfig, day: date, areas: Iterable, out: Path) -> tuple[dict[str, int], str]:
    """Clean `day` from the source the config assigns it into the parquet file `out` (validated, then
    renamed into place); returns its counts and where it came from (the archive, or the landing folder)."""
    entry = ais.archive_for(day)
    if entry is None:
        return landing_day.stream_landing_day(storage, day, areas, out), paths.ais_landing_dir(day)
    location = entry.location_for(day)
    return stream_archive(location, entry.format, day, areas, out), location


def read_archive(location: str, fmt: str, day: date, areas: Iterable) -> tuple[pd.DataFrame, dict[str, int]]:
    """The cleaned snapshot of `day` from one archive file as a frame, and its counts (for a small day:
    a script, a test; the pipeline streams into the partition's file with `stream_archive`)."""
    with tempfile.TemporaryDirectory(prefix="shipchips-ais-") as tmp:
        out = Path(tmp) / "day.parquet"
        counts = stream_archive(location, fmt, day, areas, out)
        return snapshot_dataset.AisDataset(out).frame(), counts


def stream_archive(location: str, fmt: str, day: date, areas: Iterable, out: Path) -> dict[str, int]:
    """Clean `day` from one archive file (`fmt`: "noaa" or "dma") into `out`; its counts:
    rows_read = positions_kept + every drop reason. The kept rows are spilled as they are read."""
    rows = clean.RowFilter(day, areas)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=work_files.work_prefix()) as work:
        sink = day_stream.PositionSink(Path(work))
        try:
            with _local(location) as src:
                layout = _layout(fmt, _header(src), location)
                statics, rows_read = _stream(src, layout, rows, sink)
        except ArchiveError:
            raise
        except (pa.ArrowException, OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, HTTPException) as exc:
            raise ArchiveError(f"AIS archive {location}: {exc}") from exc
        counts = {"rows_read": rows_read, "positions_kept": 0, **rows.counts}
        static = clean.latest_static(_frame([_static_versions(statics)], STATIC_SCHEMA))
        day_stream.write_snapshot(sink, static, counts, layout.source, out)
    return counts


def _stream(src: str, layout: Layout, rows: clean.RowFilter, sink: day_stream.PositionSink) -> tuple[list[pa.Table], int]:
    """(static versions, rows read) of one file; the kept positions go to `sink`. The file is read in
    parts (`_parts`), each parsed and converted block by block on a thread of its own (Arrow and numpy
    release the GIL; the parse alone is a core's work). Each part's rows go to the sink under its
    number, its static versions and counts are kept apart, then taken in part order: the stage, the
    counts and the static versions are as if the file had been read serially."""
    parts = _parts(src)
    with ThreadPoolExecutor(len(parts)) as pool:
        done = list(pool.map(lambda i: _read_part(src, parts[i], i, layout, rows, sink), range(len(parts))))
    statics, rows_read = [], 0
    for versions, n, counts in done:
        statics += versions
        rows_read += n
        rows.add(counts)
    return statics, rows_read


def _read_part(src: str, part: tuple[int, int | None], index: int, layout: Layout, rows: clean.RowFilter,
               sink: day_stream.PositionSink) -> tuple[list[pa.Table], int, dict]:
    """One part's (static versions, rows read, row-rule counts); its kept positions go to `sink`."""
    statics, rows_read, counts = [], 0, dict.fromkeys(clean.ROW_REASONS, 0)
    with _open_part(src, part) as stream:
        for batch in _batches(stream, layout, _header(src), skip_header=part[0] == 0):
            n, block_counts, positions, versions = _convert(batch, layout, rows)
            rows_read += n
            for reason, hits in block_counts.items():
                counts[reason] += hits
            if positions is not None:
                sink.add(positions, index)
                statics.append(versions)
            if len(statics) >= REGROUP_BLOCKS:  # a few rows per vessel held, not a few per block
                statics = [_static_versions(statics)]
    sink.flush(index)
    return statics, rows_read, counts


def _batches(stream: pa.NativeFile, layout: Layout, header: list[str], skip_header: bool) -> Iterator[pa.RecordBatch]:
    """The stream's rows, BLOCK_BYTES of text at a time, each block parsed on its own with the header's
    names (every column's type is given, so every block reads alike). Not pyarrow's streaming reader:
    that one reads 32 blocks ahead on a thread of its own (~35 blocks held: ~145 MB a reader at 4 MB)."""
    for i, block in enumerate(_line_blocks(stream)):
        read = pacsv.ReadOptions(block_size=block.size + 1, use_threads=False, column_names=header,
                                 skip_rows=1 if skip_header and i == 0 else 0)
        table = pacsv.read_csv(pa.BufferReader(block), read_options=read, convert_options=layout.convert_options())
        if table.num_rows:
            yield table.combine_chunks().to_batches()[0]


def _line_blocks(stream: pa.NativeFile) -> Iterator[pa.Buffer]:
    """The stream's bytes in blocks of about BLOCK_BYTES that end at a line end (a row never spans two;
    the CSV is read without newlines inside values), the last as it ends."""
    rest = b""
    while data := stream.read(BLOCK_BYTES):
        text = rest + data if rest else data
        cut = text.rfind(b"\n") + 1
        if cut:
            yield pa.py_buffer(text).slice(0, cut)
        rest = text[cut:]
    if rest.strip():
        yield pa.py_buffer(rest)


def _parts(src: str) -> list[tuple[int, int | None]]:
    """Byte ranges (start, stop; None: to the end) of `src` read at once: PARTS of a local uncompressed
    file, cut at line ends (a row never spans two); one, the whole stream, for anything else."""
    plain = not (_is_url(src) or src.lower().endswith((".zip", *CODECS)))
    size = os.path.getsize(src) if plain else 0
    if size < PART_MIN_BYTES:
        return [(0, None)]
    cuts = [0]
    with open(src, "rb") as f:
        for k in range(1, PARTS):
            f.seek(max(size * k // PARTS, cuts[-1]))
            f.readline()  # to the next line end
            if cuts[-1] < f.tell() < size:
                cuts.append(f.tell())
    return list(zip(cuts, [*cuts[1:], None]))


@contextmanager
def _open_part(src: str, part: tuple[int, int | None]) -> Iterator[pa.NativeFile]:
    if part == (0, None):
        with _open(src) as stream:
            yield stream
        return
    start, stop = part
    with pa.OSFile(src) as f:  # a segment read at its own offsets: parts do not share a file position
        yield f.get_stream(start, (f.size() if stop is None else stop) - start)


def _convert(batch: pa.RecordBatch, layout: Layout, rows: clean.RowFilter) -> tuple:
    """One block: (rows, row-rule counts, kept positions, static versions), None where nothing is kept."""
    mask, counts = rows.test(*row_keys(batch, layout))
    if not mask.any():
        return batch.num_rows, counts, None, None
    kept = batch.filter(pa.array(mask))
    # regrouped with every other block's at the end (`_static_versions` is a max per group, in order of
    # first appearance: grouping block by block first would give the same rows)
    versions = canonical(raw_static_versions(kept, layout), layout, STATIC_SCHEMA.names)
    positions = day_stream.stage_rows(canonical(kept, layout, POSITION_SCHEMA.names))
    return batch.num_rows, counts, positions, versions


def _static_versions(tables: list[pa.Table]) -> pa.Table:
    """Each distinct set of static values of an MMSI, with the last time it was seen. Archives repeat
    the static fields on every row: this holds a few rows per vessel instead of one per position,
    and still gives `clean` the latest value of each field."""
    keys = [n for n in STATIC_SCHEMA.names if n != "time_utc"]
    table = pa.concat_tables(tables) if tables else STATIC_SCHEMA.empty_table()
    versions = table.group_by(keys, use_threads=False).aggregate([("time_utc", "max")])
    return versions.rename_columns([*keys, "time_utc"]).select(STATIC_SCHEMA.names)


def _frame(tables: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    """Tables as one pandas frame; Arrow buffers are released as they are converted."""
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    tables.clear()
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, self_destruct=True, split_blocks=True)


def _layout(fmt: str, header: list[str], location: str) -> Layout:
    if fmt not in LAYOUTS:
        raise ArchiveError(f"AIS archive {location}: unknown format {fmt!r}, expected one of {sorted(LAYOUTS)}")
    for layout in LAYOUTS[fmt]:
        if layout.matches(header):
            return layout
    raise ArchiveError(f"AIS archive {location}: header is not a {fmt} header: {','.join(header)[:300]!r}")


def _header(src: str) -> list[str]:
    with _open(src) as stream:
        first = stream.read(HEADER_BYTES).split(b"\n", 1)[0]
    return [name.strip().strip('"') for name in first.decode("utf-8-sig", "replace").rstrip("\r").split(",")]


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


@contextmanager
def _local(location: str) -> Iterator[str]:
    """`location`, or for a `.zip` URL a temporary local copy (deleted afterwards)."""
    if not (_is_url(location) and location.lower().endswith(".zip")):
        yield location
        return
    with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
        with urllib.request.urlopen(location, timeout=HTTP_TIMEOUT_S) as response:
            shutil.copyfileobj(response, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name


@contextmanager
def _open(src: str) -> Iterator[pa.NativeFile]:
    """A byte stream of the CSV text in `src`, decompressed on the fly."""
    codec = next((c for ext, c in CODECS.items() if src.lower().endswith(ext)), None)
    with ExitStack() as stack:
        if _is_url(src):
            raw = pa.PythonFile(stack.enter_context(urllib.request.urlopen(src, timeout=HTTP_TIMEOUT_S)), mode="r")
            yield pa.CompressedInputStream(raw, codec) if codec else raw
        elif src.lower().endswith(".zip"):
            archive = stack.enter_context(zipfile.ZipFile(src))
            yield pa.PythonFile(stack.enter_context(archive.open(_csv_member(archive, src))), mode="r")
        else:
            yield stack.enter_context(pa.input_stream(src, compression=codec))


def _csv_member(archive: zipfile.ZipFile, src: str) -> str:
    names = [n for n in archive.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX/")]
    if len(names) != 1:
        raise ArchiveError(f"AIS archive {src}: expected one CSV inside the zip, found {names}")
    return names[0]
