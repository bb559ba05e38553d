"""Landing journals: durable within the commit interval, recovered up to the last whole line."""

from __future__ import annotations

import asyncio
import time

import pytest

from shipchips_core.ais import journal
from shipchips_core.ais.journal import LandingError, recover_journals
from shipchips_core.ais.landing import Lander
from shipchips_core.ais.stream import CollectStats
from shipchips_core.dataset.storage import LocalStorage

DAY = "ais/20260615"


def test_lines_reach_the_journal_within_the_commit_interval_without_a_new_file(tmp_path):
    storage, stats = LocalStorage(tmp_path), CollectStats()
    journal_file = tmp_path / DAY / ".aisstream-1000-000000.jsonl.journal"

    async def run():
        lander = Lander(storage, stats, flush_messages=1000, flush_seconds=60.0, max_pending=100, sync_seconds=0.05)
        ticker = asyncio.create_task(lander.flush_periodically())
        for i in range(3):
            lander.write(DAY, "aisstream", 1000, b"line %d" % i)
        await asyncio.sleep(0.2)
        during = journal_file.read_bytes(), storage.list("ais")
        lander.write(DAY, "aisstream", 1000, b"line 3")
        ticker.cancel()
        await lander.close()
        return during

    (content, visible) = asyncio.run(run())
    assert content == b"line 0\nline 1\nline 2\n" and visible == []  # durable, not yet a landing file
    assert storage.read_bytes(f"{DAY}/aisstream-1000-000000.jsonl") == b"line 0\nline 1\nline 2\nline 3\n"
    assert stats.committed == stats.flushed == 4 and stats.files_written == 1
    assert not journal_file.exists()


def test_recovery_lands_journals_up_to_their_last_whole_line(tmp_path):
    day, quarantine = tmp_path / DAY, tmp_path / "ais" / "quarantine"
    day.mkdir(parents=True)
    quarantine.mkdir(parents=True)
    (day / ".aisstream-1-000000.jsonl.journal").write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": 3')  # torn tail
    (day / ".aisstream-2-000001.jsonl.journal").write_bytes(b'{"d"')  # nothing whole
    (quarantine / ".quarantine-3-000002.jsonl.journal").write_bytes(b'{"reason": "bad_json"}\n')
    (day / "aisstream-4-000003.jsonl").write_bytes(b"landed\n")
    (day / ".aisstream-4-000003.jsonl.journal").write_bytes(b"copied in\n")  # its name is taken: never overwrite
    assert recover_journals(tmp_path) == (3, 4, len(b'{"c": 3') + len(b'{"d"'))
    assert (day / "aisstream-1-000000.jsonl").read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert not (day / "aisstream-2-000001.jsonl").exists()
    assert (quarantine / "quarantine-3-000002.jsonl").read_bytes() == b'{"reason": "bad_json"}\n'
    assert (day / "aisstream-4-000003.jsonl").read_bytes() == b"landed\n"
    assert (day / "aisstream-4-000003-recovered1.jsonl").read_bytes() == b"copied in\n"
    assert [p.name for p in tmp_path.rglob(".*")] == []
    assert recover_journals(tmp_path) == (0, 0, 0) and recover_journals(tmp_path / "nothing") == (0, 0, 0)


def test_a_write_failure_names_the_journal_and_stops_the_lander(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal, "_write_all", full)

    async def run():
        lander = Lander(LocalStorage(tmp_path), CollectStats(), flush_messages=10, flush_seconds=60.0, max_pending=5,
                        sync_seconds=0.01)
        lander.write(DAY, "aisstream", 7, b"x")
        lander.commit()
        for _ in range(100):  # the writer thread fails; the next check raises
            await asyncio.sleep(0.01)
            lander.check()
        await lander.close()

    with pytest.raises(LandingError) as err:
        asyncio.run(run())
    assert str(err.value) == (f"cannot write AIS landing file {tmp_path / DAY}/.aisstream-7-000000.jsonl.journal: "
                              "[Errno 28] No space left on device")


def test_a_slow_disk_makes_the_receive_loop_wait_not_memory_grow(tmp_path, monkeypatch):
    real = journal._fsync
    monkeypatch.setattr(journal, "_fsync", lambda fd: (time.sleep(0.05), real(fd)))
    stats = CollectStats()

    async def run():
        lander = Lander(LocalStorage(tmp_path), stats, flush_messages=10_000, flush_seconds=60.0, max_pending=50,
                        sync_seconds=0.01)
        peak = 0
        for i in range(400):
            lander.write(DAY, "aisstream", 1, b"%d" % i)
            if lander.backlogged:
                await lander.wait_backlog()
            peak = max(peak, lander._buffered + lander._writer.uncommitted)
        await lander.close()
        return peak

    peak = asyncio.run(run())
    assert peak <= 51 and stats.flushed == 400
