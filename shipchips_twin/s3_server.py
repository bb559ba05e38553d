"""A local S3-compatible store on loopback for an `s3://` dataset root: moto's server mode.

`running_s3()` starts moto's threaded server on a free loopback port, creates the bucket, and yields
the endpoint and the environment a run needs (`SHIPCHIPS__DATASET_ROOT`, `SHIPCHIPS__S3__ENDPOINT_URL`,
and made-up credentials, which moto accepts and never checks). `FaultyS3Proxy` sits in front of it
and answers some requests with `503 SlowDown`, as S3 does when throttling, before passing the rest
on unchanged: what the client's retry settings must absorb.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

# made-up keys: moto accepts any; distinctive, so a test can look for them in logs, events and objects
TEST_ACCESS_KEY = "AKIASHIPCHIPSTWIN001"
TEST_SECRET_KEY = "twin-secret-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"


@dataclass
class S3Twin:
    endpoint_url: str
    bucket: str
    prefix: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=TEST_ACCESS_KEY, aws_secret_access_key=TEST_SECRET_KEY)

    def objects(self) -> dict[str, bytes]:
        """Every object under the root: relative key → bytes."""
        client, found = self.client(), {}
        base = f"{self.prefix}/" if self.prefix else ""
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            for obj in page.get("Contents", ()):
                found[obj["Key"][len(base):]] = client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
        return found


def twin_env(endpoint_url: str, root: str) -> dict[str, str]:
    return {
        "SHIPCHIPS__DATASET_ROOT": root,
        "SHIPCHIPS__S3__ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@contextlib.contextmanager
def running_s3(bucket: str = "shipchips", prefix: str = "dataset") -> Iterator[S3Twin]:
    """moto's S3 server on 127.0.0.1 (a free port) with `bucket` created; stopped afterwards."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        twin = S3Twin(endpoint, bucket, prefix)
        twin.env = twin_env(endpoint, twin.root)
        twin.client().create_bucket(Bucket=bucket)
        yield twin
    finally:
        server.stop()


class FaultyS3Proxy:
    """A loopback HTTP proxy to `upstream` answering every `every`-th request with 503 SlowDown,
    `budget` times in all (then it only forwards). `injected` counts the 503s sent."""

    def __init__(self, upstream: str, every: int = 4, budget: int = 25):
        self.upstream = upstream.removeprefix("http://")
        self.every, self.budget = every, budget
        self.injected = 0
        self.forwarded = 0
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FaultyS3Proxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault_now(self) -> bool:
        with self._lock:
            n = next(self._count)
            if self.injected < self.budget and n % self.every == 0:
                self.injected += 1
                return True
            self.forwarded += 1
            return False

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: the tests read the run's own logs
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy._fault_now():
                    payload = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
                               b"<Message>Please reduce your request rate.</Message></Error>")
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                # a HEAD's length is the object's, not of the (empty) body
                self.send_header("Content-Length", resp.getheader("Content-Length", "0") if self.command == "HEAD"
                                 else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler
