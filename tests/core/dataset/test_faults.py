"""Environment faults raise a StorageFault naming the path, with nothing partial left behind."""

import errno
import os
from pathlib import Path

import duckdb
import pytest

from shipchips_core.dataset.faults import StorageFault, environment_fault, storage_fault
from shipchips_core.dataset.storage import LocalStorage
from tests.small_fs import remount_read_only, small_filesystem


def _visible_and_hidden(root: Path) -> tuple[list[Path], list[Path]]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return [p for p in files if not p.name.startswith(".")], [p for p in files if p.name.startswith(".")]


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    with small_filesystem(tmp_path / "fs", "1m") as root:
        storage = LocalStorage(root)
        storage.write_bytes("QA/reports/small.html", b"fits")
        with pytest.raises(StorageFault) as info:
            storage.write_bytes("QA/reports/2026-06-15.html", os.urandom(2 * 1024 * 1024))
        assert info.value.errno == errno.ENOSPC
        assert info.value.filename == str(root / "QA/reports/2026-06-15.html")
        assert str(root / "QA/reports/2026-06-15.html") in str(info.value)
        visible, hidden = _visible_and_hidden(root)
        assert visible == [root / "QA/reports/small.html"] and hidden == []


def test_a_writer_that_words_a_full_disk_its_own_way_is_recognised(tmp_path):
    """DuckDB (the table writer) reports ENOSPC as an IOException, no errno: the filesystem tells."""
    with small_filesystem(tmp_path / "fs", "1m") as root:
        storage = LocalStorage(root)
        rel = "tables/chips/date=2026-06-15/part-0.parquet"
        with pytest.raises(StorageFault, match=r"disk full \(ENOSPC\) writing .*part-0\.parquet") as info:
            with storage.temporary_path(rel) as tmp:
                duckdb.sql("SELECT random()::VARCHAR || range AS s FROM range(400000)").write_parquet(
                    str(tmp), compression="uncompressed")
        assert info.value.filename == str(root / rel)
        assert _visible_and_hidden(root) == ([], [])


def test_a_read_only_root_names_the_file(tmp_path):
    with small_filesystem(tmp_path / "fs", "1m") as root:
        (root / "chips").mkdir()
        remount_read_only(root)
        with pytest.raises(StorageFault, match="read-only filesystem") as info:
            LocalStorage(root).write_bytes("chips/train/1/2026-06-15/a.json", b"{}")
        assert info.value.errno == errno.EROFS and "chips/train/1/2026-06-15" in str(info.value)


def test_permission_denied_is_a_fault_naming_the_path(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)

    def refuse(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("shipchips_core.dataset.storage.os.replace", refuse)
    with pytest.raises(StorageFault, match="permission denied") as info:
        storage.write_bytes("labels/x.json", b"{}")
    assert info.value.filename == str(tmp_path / "labels/x.json")
    assert _visible_and_hidden(tmp_path) == ([], [])


def test_a_writers_own_error_is_left_alone_on_a_healthy_disk(tmp_path):
    err = ValueError("band 3 has no data")
    assert storage_fault(err, tmp_path / "a.tif") is None
    assert environment_fault(err) is None
    wrapped = RuntimeError("TIFFWriteDirectory failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device", "/data/x.tif")
    fault = environment_fault(wrapped)
    assert fault.errno == errno.ENOSPC and fault.filename == "/data/x.tif" and "/data/x.tif" in str(fault)
    # a source file we may not read is that scene's problem, not the environment's
    assert environment_fault(PermissionError(errno.EACCES, "Permission denied", "/scenes/b04.tif")) is None
