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


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "a/.."])
def test_writes_outside_the_root_are_refused_and_write_nothing(tmp_path, bad):
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="inside the root"):
        LocalStorage(root).write_bytes(bad, b"x")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("rel", ["a//b/c.txt", "a/./b/c.txt", "./a/b/c.txt"])
def test_unnormalised_paths_land_where_path_says(tmp_path, rel):
    storage = LocalStorage(tmp_path)
    storage.write_bytes(rel, b"abc")
    assert (tmp_path / "a/b/c.txt").read_bytes() == b"abc"


def test_chip_folders_are_made_under_folders_made_earlier_in_the_block(tmp_path):
    """New `{mmsi}/{day}` folders under a split made before, a file where a folder should be
    refused naming nothing else lost, and a folder someone else made meanwhile taken as it is."""
    storage = LocalStorage(tmp_path)
    with storage.deferred_sync():
        storage.write_bytes("chips/train/1/2026-06-15/a.tif", b"1")
        storage.write_bytes("chips/train/2/2026-06-15/b.tif", b"22")  # two new folders, top-down
        (tmp_path / "chips/train/3/2026-06-15").mkdir(parents=True)  # made by another writer
        storage.write_bytes("chips/train/3/2026-06-15/c.tif", b"333")
        (tmp_path / "chips/train/4").write_bytes(b"not a folder")
        with pytest.raises(OSError):
            storage.write_bytes("chips/train/4/2026-06-15/d.tif", b"4444")
        storage.write_bytes("chips/val/5/2026-06-15/e.tif", b"55555")  # a split new to the block
    files = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {"chips/train/1/2026-06-15/a.tif": b"1", "chips/train/2/2026-06-15/b.tif": b"22",
                     "chips/train/3/2026-06-15/c.tif": b"333", "chips/train/4": b"not a folder",
                     "chips/val/5/2026-06-15/e.tif": b"55555"}


def test_a_large_buffer_is_written_whole(tmp_path):
    data = bytes(range(256)) * 40_000  # 10 MB: more than one write(2) may take at once on some systems
    LocalStorage(tmp_path).write_bytes("big.bin", data)
    assert (tmp_path / "big.bin").read_bytes() == data
