import pytest

from shipchips_core.dataset.storage import LocalStorage


def test_write_is_atomic_and_leaves_no_temporary(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("a/b/c.txt", b"one")
    with pytest.raises(RuntimeError):
        with storage.open_write("a/b/c.txt") as fh:
            fh.write(b"half a new vers")
            raise RuntimeError("writer died")
    assert storage.read_bytes("a/b/c.txt") == b"one"
    assert [p.name for p in (tmp_path / "a/b").iterdir()] == ["c.txt"]
    assert storage.list("a") == ["a/b/c.txt"]


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd"])
def test_paths_outside_the_root_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="inside the root"):
        LocalStorage(tmp_path).path(bad)


def test_deferred_sync_lands_every_file_and_leaves_no_temporary(tmp_path):
    from shipchips_core.dataset.storage import LocalStorage

    storage = LocalStorage(tmp_path)
    with storage.deferred_sync():
        with storage.deferred_sync():  # nested blocks: the outer one flushes
            storage.write_bytes("a/b/one.json", b"1")
        with storage.temporary_path("a/c/two.tif") as tmp:
            tmp.write_bytes(b"22")
        assert storage.read_bytes("a/b/one.json") == b"1"  # renamed into place as soon as written
    assert storage.read_bytes("a/c/two.tif") == b"22"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["one.json", "two.tif"]


def test_a_failed_writer_leaves_nothing_behind(tmp_path):
    from shipchips_core.dataset.storage import LocalStorage

    storage = LocalStorage(tmp_path)
    try:
        with storage.open_write("x/y.json") as fh:
            fh.write(b"partial")
            raise RuntimeError("writer died")
    except RuntimeError:
        pass
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
