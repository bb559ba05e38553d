"""A real PostgreSQL server on loopback for one test module: Debian's `postgresql` package (make system-deps),
a fresh cluster in a temporary folder, password authentication, a free port. As root it runs as the
`postgres` user (the server refuses to run as root)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg2

USER, PASSWORD = "dagster", "pg-test-secret-5f1c"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def connect(self, db: str = "postgres"):
        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname=db)

    def create_database(self, name: str) -> str:
        conn = self.connect()
        conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return name

    def env(self, db: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its Postgres storage from."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": db,
                "DAGSTER_PG_USER": self.user, "DAGSTER_PG_PASSWORD": self.password}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"no /usr/lib/postgresql/*/bin/{name}: install Debian's postgresql (make system-deps)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> dict:
    """Popen arguments that drop root to `postgres`; nothing for any other user."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def _wait_ready(server: PostgresServer, proc: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            server.connect().close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready after {timeout_s} s: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    top = Path(tempfile.mkdtemp(prefix="shipchips-pg-"))
    top.chmod(0o755)  # the server user must reach its folders (pytest's tmp folders are root's, 0700)
    data, sockets, pwfile, log = top / "data", top / "run", top / "pw", top / "postgres.log"
    sockets.mkdir()
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        for p in (top, sockets, pwfile):
            os.chown(p, pg.pw_uid, pg.pw_gid)
    subprocess.run([_bin("initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True, **_as_server_user())
    server = PostgresServer("127.0.0.1", _free_port(), USER, PASSWORD)
    with open(log, "wb") as out:
        # a throwaway cluster: no fsync (nothing to keep after the test), loopback only
        proc = subprocess.Popen([_bin("postgres"), "-D", str(data), "-p", str(server.port), "-k", str(sockets),
                                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100"],
                                stdout=out, stderr=subprocess.STDOUT, **_as_server_user())
    try:
        _wait_ready(server, proc, log)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions left open
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(top, ignore_errors=True)
