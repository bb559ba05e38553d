"""`shipchips collect` as a supervisor runs it: a subprocess against the twin, stopped by signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shipchips_core.ais.messages import parse_message
from shipchips_core.config import load_config
from shipchips_twin.ais_feed import iter_messages
from shipchips_twin.ais_server import AisStreamTwin

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
KEY = "cli-secret-key-0815"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "root"


def _env(url: str, root: Path, key: str = KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPCHIPS__")}
    return {**env, "AISSTREAM_API_KEY": key, "SHIPCHIPS__AIS__URL": url, "SHIPCHIPS__DATASET_ROOT": str(root),
            "SHIPCHIPS__AIS__FLUSH_MESSAGES": "100", "SHIPCHIPS__AIS__FLUSH_SECONDS": "0.2"}


def _start(env: dict, cwd: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "shipchips_core.cli", "--config", str(REPO / "config.yaml"), "collect", *args]
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _expected(world, shipped_config, end: datetime = END) -> list[str]:
    """What the twin serves for the shipped config's areas (the CLI subscribes with them)."""
    boxes = [[[a.bbox[1], a.bbox[0]], [a.bbox[3], a.bbox[2]]] for a in load_config(shipped_config).areas]
    feed = iter_messages(world, START, END, bounding_boxes=boxes)  # the twin's noise depends on its window
    return [json.dumps(env) for t, env in feed if t < end.timestamp()]


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _landed(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("aisstream-*.jsonl"))}


def _lines(files: dict[str, bytes]) -> list[str]:
    return [line for data in files.values() for line in data.decode().splitlines()]


def _hidden(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


def test_sigkill_then_restart_loses_nothing_flushed_and_leaves_no_partial_file(world, root, tmp_path, shipped_config):
    expected = _expected(world, shipped_config)
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1200.0) as twin:  # 20 min in ~1 s
        first = _start(_env(twin.url, root), tmp_path)
        _wait(lambda: len(_landed(root)) >= 2)
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        before = _landed(root)
        day = root / "ais" / "20260615"
        (day / ".aisstream-1781517600000-000099.jsonl.k1ll3d.tmp").write_bytes(b'{"MessageType": "Posi')
        second = _start(_env(twin.url, root), tmp_path)
        _wait(lambda: twin.replay_done and twin.connections >= 3)  # replay over, and it reconnected since
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=5)
    assert first.returncode == -signal.SIGKILL and second.returncode == 0, err
    after = _landed(root)
    assert _hidden(root) == []  # the killed run's temporaries are gone; the stopped run left none
    assert all(after[rel] == data for rel, data in before.items())  # flushed before the kill: intact
    for line in _lines(after):  # every visible file is whole: each line is a full message
        parse_message(line)
    n_first, sent_first = len(_lines(before)), twin.sent_per_connection[0]
    assert 0 < n_first <= sent_first  # the loss window: what the killed run had not flushed yet
    assert Counter(_lines(before)) == Counter(expected[:n_first])
    assert Counter(_lines(after)) - Counter(_lines(before)) == Counter(expected[sent_first:])  # resumed, none twice
    assert json.loads(out.splitlines()[-1])["stop_reason"] == "SIGTERM"


def test_sigterm_is_graceful_and_lands_everything(world, root, tmp_path, shipped_config):
    expected = _expected(world, shipped_config)
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1200.0, close_when_done=True) as twin:
        proc = _start(_env(twin.url, root), tmp_path, "--stats-every", "0.2")
        _wait(lambda: twin.replay_done and twin.connections >= 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert Counter(_lines(_landed(root))) == Counter(expected) and _hidden(root) == []
    summary = json.loads(out.splitlines()[-1])
    assert summary["landed"] == summary["flushed"] == len(expected) and summary["stop_reason"] == "SIGTERM"
    assert "AIS collector:" in err and KEY not in err + out  # periodic stats, never the key


def test_until_stops_on_message_time_with_exit_0(world, root, tmp_path, shipped_config):
    until = START + timedelta(minutes=5)
    expected = _expected(world, shipped_config, end=until)
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        proc = _start(_env(twin.url, root), tmp_path, "--until", until.isoformat())
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert Counter(_lines(_landed(root))) == Counter(expected)
    assert json.loads(out.splitlines()[-1])["stop_reason"] == "stop_at"


def test_bad_key_exits_2_without_the_key(world, root, tmp_path):
    with AisStreamTwin(world, START, END, api_key="the-right-key") as twin:
        proc = _start(_env(twin.url, root), tmp_path)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "Api Key Is Not Valid" in err and KEY not in out + err


def test_missing_key_exits_2(root, tmp_path):
    env = {k: v for k, v in _env("ws://127.0.0.1:9/v0/stream", root).items() if k != "AISSTREAM_API_KEY"}
    proc = _start(env, tmp_path)  # tmp_path has no .env
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2 and "AISSTREAM_API_KEY is not set" in err
