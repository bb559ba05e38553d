import pytest

from shipchips_core.storage import LocalStorage


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
