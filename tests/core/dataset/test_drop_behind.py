import os

import pytest

from shipchips_core.dataset import drop_behind
from shipchips_core.dataset.storage import LocalStorage

pytestmark = pytest.mark.skipif(not drop_behind.supported(), reason="no sync_file_range / posix_fadvise here")


def _write_day(storage: LocalStorage, n: int, data: bytes, **sync_options) -> list[str]:
    with storage.deferred_sync(**sync_options):
        return [storage.write_bytes(f"chips/{i:03d}/chip.tif", data) for i in range(n)]


def test_large_files_leave_the_page_cache_once_the_block_ends_and_small_ones_stay(tmp_path):
    data = os.urandom(drop_behind.MIN_BYTES)  # a COG's size class
    small = os.urandom(drop_behind.MIN_BYTES // 8)  # a quicklook's, a JSON document's
    kept = LocalStorage(tmp_path / "kept")
    kept_files = _write_day(kept, 3, data)
    kept_cached = [drop_behind.cached_bytes(kept.path(rel)) for rel in kept_files]
    if sum(kept_cached) == 0:
        pytest.skip("this filesystem keeps no written pages cached (nothing to drop)")
    assert kept_cached == [len(data)] * 3  # without drop_behind every page stays cached
    dropped = LocalStorage(tmp_path / "dropped")
    with dropped.deferred_sync(drop_behind=True):
        large = [dropped.write_bytes(f"chips/{i:03d}/chip.tif", data) for i in range(3 * drop_behind.BEHIND_FILES)]
        documents = [dropped.write_bytes(f"chips/{i:03d}/chip.json", small) for i in range(3)]
    assert [drop_behind.cached_bytes(dropped.path(rel)) for rel in large] == [0] * len(large)
    assert [drop_behind.cached_bytes(dropped.path(rel)) for rel in documents] == [len(small)] * 3
    assert all(dropped.read_bytes(rel) == data for rel in large)  # the bytes, from disk
    assert all(dropped.read_bytes(rel) == small for rel in documents)


def test_no_more_than_the_window_of_files_is_held_open(tmp_path):
    storage = LocalStorage(tmp_path)
    data = b"\0" * drop_behind.MIN_BYTES
    before = len(os.listdir("/proc/self/fd"))
    held = []
    with storage.deferred_sync(drop_behind=True):
        for i in range(3 * drop_behind.BEHIND_FILES):
            storage.write_bytes(f"d/{i}.tif", data)
            storage.write_bytes(f"d/{i}.json", b"{}\n")  # small: never held
            held.append(len(os.listdir("/proc/self/fd")) - before)
    assert max(held) == drop_behind.BEHIND_FILES
    assert len(os.listdir("/proc/self/fd")) == before  # every descriptor closed at the end
