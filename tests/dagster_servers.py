"""Dagster as a person runs it, on loopback: the code location as a gRPC server, `dagster-webserver` and
`dagster-daemon` on free ports over a temporary DAGSTER_HOME (queued runs, launched as subprocesses).
Each is started in its own process group and stopped by its id, children included (runs, steps)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

BIN = Path(sys.executable).parent
INSTANCE = {
    "telemetry": {"enabled": False},
    "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator",
                        "config": {"max_concurrent_runs": 2}},
    "run_monitoring": {"enabled": False},
}


@dataclass(frozen=True)
class DagsterServers:
    url: str
    home: Path
    logs: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (the server and what it started), SIGKILL what is left after 15 s."""
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # grandchildren (a run's steps) outliving their parent


def _wait_http(url: str, procs: list[subprocess.Popen], logs: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        dead = [p.args[0] for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{dead} exited early; logs in {logs}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not up after {timeout_s} s; logs in {logs}")
        time.sleep(0.5)


@contextlib.contextmanager
def running_dagster(tmp: Path, env: dict[str, str], module: str = "shipchips_dagster.definitions"
                    ) -> Iterator[DagsterServers]:
    home, logs = tmp / "dagster_home", tmp / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(INSTANCE))
    grpc_port, web_port = _free_port(), _free_port()
    workspace = tmp / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": grpc_port, "location_name": "shipchips"}}]}))
    env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    procs = [_start([str(BIN / "dagster"), "api", "grpc", "-m", module, "-h", "127.0.0.1", "-p", str(grpc_port)],
                    env, logs / "code_server.log")]
    try:
        _wait_grpc(grpc_port, procs, env, logs)
        procs.append(_start([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port),
                             "-w", str(workspace)], env, logs / "webserver.log"))
        procs.append(_start([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs / "daemon.log"))
        url = f"http://127.0.0.1:{web_port}"
        _wait_http(f"{url}/server_info", procs, logs)
        yield DagsterServers(url=url, home=home, logs=logs)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_grpc(port: int, procs: list[subprocess.Popen], env: dict, logs: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    check = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
    while subprocess.run(check, env=env, capture_output=True).returncode != 0:
        if procs[0].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the code server on port {port} did not start; logs in {logs}")
        time.sleep(1)
