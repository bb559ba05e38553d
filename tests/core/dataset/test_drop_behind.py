import os

import pytest

from shipchips_core.dataset import drop_behind
from shipchips_core.dataset.storage import LocalStorage

pytestmark = pytest.mark.skipif(not drop_behind.supported(), reason="no sync_file_range / posix_fadvise here")


def _write_day(storage: LocalStorage, n: int, data: bytes, **sync_options) -> list[str]:
    with storage.deferred_sync(**sync_options):
        return [storage.write_bytes(f"chips/{i:03d}/chip.tif", data) for i in range(n)]


def test_pages_of_the_files_written_are_out_of_the_cache_once_the_block_ends(tmp_path):
    data = os.urandom(256 * 1024)
    kept = LocalStorage(tmp_path / "kept")
    kept_files = _write_day(kept, 3, data)
    kept_cached = [drop_behind.cached_bytes(kept.path(rel)) for rel in kept_files]
    if sum(kept_cached) == 0:
        pytest.skip("this filesystem keeps no written pages cached (nothing to drop)")
    assert kept_cached == [len(data)] * 3  # without drop_behind every page stays cached
    dropped = LocalStorage(tmp_path / "dropped")
    files = _write_day(dropped, 3 * drop_behind.BEHIND_FILES, data, drop_behind=True)
    assert [drop_behind.cached_bytes(dropped.path(rel)) for rel in files] == [0] * len(files)
    assert all(dropped.read_bytes(rel) == data for rel in files)  # the bytes, from disk


def test_no_more_than_the_window_of_files_is_held_open(tmp_path):
    storage = LocalStorage(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    held = []
    with storage.deferred_sync(drop_behind=True):
        for i in range(5 * drop_behind.BEHIND_FILES):
            storage.write_bytes(f"d/{i}.json", b"{}\n")
            held.append(len(os.listdir("/proc/self/fd")) - before)
    assert max(held) == drop_behind.BEHIND_FILES
    assert len(os.listdir("/proc/self/fd")) == before  # every descriptor closed at the end
