"""Rolling landing files: whole files only, never replacing a landed one, stale temporaries removed."""

from __future__ import annotations

import asyncio

from shipchips_core.ais.landing import Lander, remove_stale_temporaries
from shipchips_core.ais.stream import CollectStats
from shipchips_core.dataset.storage import LocalStorage


def _land(storage: LocalStorage, batches: list[list[bytes]], **kw) -> CollectStats:
    stats = CollectStats()

    async def run():
        lander = Lander(storage, stats, **{"flush_messages": 3, "flush_seconds": 60.0, "max_pending": 10, **kw})
        for batch in batches:
            for line in batch:
                lander.write("ais/20260615", "aisstream", 1000, line)
        await lander.close()

    asyncio.run(run())
    return stats


def test_files_roll_at_flush_messages_and_close_lands_the_rest(tmp_path):
    storage = LocalStorage(tmp_path)
    stats = _land(storage, [[b"a", b"b", b"c", b"d"]])
    assert list(stats.files) == ["ais/20260615/aisstream-1000-000000.jsonl", "ais/20260615/aisstream-1000-000001.jsonl"]
    assert [storage.read_bytes(r) for r in stats.files] == [b"a\nb\nc\n", b"d\n"]
    assert stats.flushed == 4 and stats.files_written == 2
    assert not [p for p in tmp_path.rglob(".*")]


def test_a_restart_never_replaces_a_landed_file(tmp_path):
    storage = LocalStorage(tmp_path)
    _land(storage, [[b"first run"]])
    stats = _land(storage, [[b"second run"]])  # same first-message time and sequence number
    assert list(stats.files) == ["ais/20260615/aisstream-1000-000001.jsonl"]
    assert storage.read_bytes("ais/20260615/aisstream-1000-000000.jsonl") == b"first run\n"


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path):
    storage = LocalStorage(tmp_path)
    day = tmp_path / "ais" / "20260615"
    (tmp_path / "ais" / "quarantine").mkdir(parents=True)
    day.mkdir(parents=True)
    stale = [day / ".aisstream-1-000000.jsonl.abc.tmp", tmp_path / "ais" / "quarantine" / ".quarantine-1-000001.jsonl.x.tmp"]
    kept = [day / "aisstream-1-000002.jsonl", day / ".someone-elses.tmp"]
    for p in stale + kept:
        p.write_bytes(b"partial")
    assert remove_stale_temporaries(storage) == 2
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert remove_stale_temporaries(LocalStorage(tmp_path / "empty")) == 0
