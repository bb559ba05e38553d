"""A killed run's AIS work files are swept when the day is staged again; a live writer's are kept; a day
copied from a bucket lives as long as its handle."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import textwrap
from datetime import date
from pathlib import Path

from shipchips_core.ais import work_files
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.config import S3Config
from shipchips_core.dataset import paths
from shipchips_core.dataset.s3_storage import S3Storage
from shipchips_core.dataset.storage import LocalStorage

DAY = date(2024, 5, 1)

KILLED_RUN = textwrap.dedent("""
    import os, signal, sys, tempfile
    from pathlib import Path
    from shipchips_core.ais import work_files
    from shipchips_core.ais.snapshot_dataset import AisDataset
    from shipchips_core.dataset.storage import LocalStorage
    from datetime import date

    staged = AisDataset.staged(LocalStorage(sys.argv[1]), date(2024, 5, 1)).path
    folder = staged.parent
    work = Path(tempfile.mkdtemp(dir=folder, prefix=work_files.work_prefix()))
    (work / "positions.parquet").write_bytes(b"x" * 4096)
    staged.write_bytes(b"y" * 4096)
    staged.with_name(f".{staged.name}.{os.getpid()}.writing").write_bytes(b"z")
    spill = work_files.spill_dir(folder)
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"s")
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _day_folder(storage: LocalStorage) -> Path:
    return storage.path(paths.partition_file(paths.AIS_OBSERVATIONS_INDEX, DAY)).parent


def test_a_killed_runs_work_files_go_when_the_day_is_staged_again(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    run = subprocess.run([sys.executable, "-c", KILLED_RUN, str(storage.root)], capture_output=True, text=True)
    assert run.returncode == -9, run.stderr
    folder = _day_folder(storage)
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) == 4 and any(n.startswith(".ais-work-") for n in left) and any(n.endswith(".writing") for n in left)
    (folder / "part-0.parquet").write_bytes(b"the stored day")
    (folder / ".notes").write_text("not ours")

    staged = AisDataset.staged(storage, DAY)

    assert sorted(p.name for p in folder.iterdir()) == [".notes", "part-0.parquet"]
    assert (folder / "part-0.parquet").read_bytes() == b"the stored day"
    assert staged.path.parent == folder and not staged.path.exists()


def test_a_running_writers_work_files_are_kept(tmp_path):
    folder = tmp_path / "date=2024-05-01"
    folder.mkdir()
    mine = Path(work_files.spill_dir(folder))
    mine.mkdir()
    ours = folder / f"{work_files.work_prefix()}abc"
    ours.mkdir()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            theirs = folder / f".staged-{other.pid}-1-part-0.parquet"
            theirs.write_bytes(b"live")
            assert work_files.remove_stale(folder) == []
            assert theirs.exists() and mine.exists() and ours.exists()
        finally:
            other.kill()
    other.wait()
    assert work_files.remove_stale(folder) == [theirs]


KILLED_READER = textwrap.dedent("""
    import os, signal
    from shipchips_core.ais.snapshot_dataset import AisDataset
    ds = AisDataset._in_own_folder("part-0.parquet")
    ds.path.write_bytes(b"a day copied from a bucket")
    print(ds.path.parent, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_bucket_days_local_copy_goes_with_its_handle_and_a_killed_readers_at_the_next(tmp_path, monkeypatch, s3_root):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    bucket = S3Storage(s3_root.root, S3Config(endpoint_url=s3_root.endpoint_url, max_attempts=2))
    rel = paths.partition_file(paths.AIS_OBSERVATIONS_INDEX, DAY)
    bucket.write_bytes(rel, b"the stored day")
    run = subprocess.run([sys.executable, "-c", KILLED_READER], capture_output=True, text=True,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert run.returncode == -9, run.stderr
    killed = Path(run.stdout.strip())
    assert killed.parent == tmp_path and (killed / "part-0.parquet").exists()

    ds = AisDataset.of_stored(bucket, rel)
    assert ds.path.read_bytes() == b"the stored day" and ds.path.parent.parent == tmp_path
    assert not killed.exists()  # swept: its process is gone
    folder = ds.path.parent
    del ds
    gc.collect()
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
