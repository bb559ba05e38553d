"""A dataset root in an S3-compatible bucket (`s3://bucket/prefix`): the same interface as `LocalStorage`.

Semantics kept from the local root:
- a reader never sees a partial object: S3 makes an object visible only once its PUT (or the
  multipart upload's completion) succeeded, so writers build the whole content first (in memory, or
  in a local temporary file for writers that need a path, e.g. GDAL) and then put it;
- large files go up as multipart uploads through boto3's transfer manager (`s3.multipart_*`);
- listing by prefix is paginated (`list_objects_v2`, 1000 keys a page);
- transient 5xx, throttling and dropped connections are retried by botocore's own retry modes
  (`s3.retry_mode`, `s3.max_attempts`); nothing here loops on errors itself;
- a refused request (no such bucket, access denied, bad credentials) raises `StorageFault` naming
  the object's URI, never the credentials.

Credentials come from the environment or `./.env` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_SESSION_TOKEN`), else boto3's own chain. They are held only by the boto3 client: not in this
object's repr or pickled state (a chipping worker process reads them again).
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import io
import os
import shutil
import tempfile
import threading
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterator

from shipchips_core.config.s3 import S3Config
from shipchips_core.dataset import faults

SECRET_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_MB = 1024 * 1024
# error codes that no retry can fix: the environment (bucket, permissions, credentials) is wrong
_REFUSED = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
            "AccountProblem", "InvalidBucketName", "ExpiredToken", "InvalidToken"}
# what botocore retries; still failing once its attempts are spent, the store is unwell: fail naming the object
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable", "InternalError"}


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` → (`bucket`, `some/prefix`)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"dataset root {uri!r} names no bucket (s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def credentials(env_file: str | os.PathLike = ".env") -> dict[str, str]:
    """boto3 keyword arguments for the keys set in the environment or `.env` (none: boto3's chain)."""
    from shipchips_core.config.loading import load_secret

    found = {name: load_secret(name, env_file) for name in SECRET_NAMES}
    return {name.lower(): value for name, value in found.items() if value}


class S3Storage:
    """A dataset root under `s3://bucket/prefix`, reached as `settings` (the `s3` config section) says."""

    def __init__(self, root: str, settings: S3Config | None = None, client_factory: Callable[[], Any] | None = None):
        self.root_uri = root.rstrip("/")
        self.bucket, self.prefix = split_uri(root)
        self.settings = settings or S3Config()
        # e.g. dagster-aws's `S3Resource.get_client`; a worker process unpickled falls back to `make_client`
        self.client_factory = client_factory
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"S3Storage({self.root_uri!r}, endpoint={self.settings.endpoint_url or 'aws'!r})"

    def __getstate__(self) -> dict:  # clients (and the credentials they hold) stay in their process
        return {"root": self.root_uri, "settings": self.settings}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["root"], state["settings"])

    # -- the client ------------------------------------------------------------------------------
    @property
    def client(self):
        """This thread's boto3 client (clients are thread-safe, but sessions are not: one each)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = (self.client_factory or partial(make_client, self.settings))()
        return client

    def transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.settings.multipart_threshold_mb * _MB,
                              multipart_chunksize=self.settings.multipart_chunksize_mb * _MB)

    # -- names -----------------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        parts = PurePosixPath(rel).parts
        if rel.startswith("/") or ".." in parts:
            raise ValueError(f"storage path must be relative and inside the root: {rel!r}")
        rel = "/".join(parts)
        return f"{self.prefix}/{rel}" if self.prefix and rel else (self.prefix or rel)

    def uri(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.key(rel)}"

    def location(self, rel: str) -> str:
        """Where `rel` is, for people (logs, metadata, the demo's summary)."""
        return self.uri(rel)

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    # -- reading ---------------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fault(exc, rel) from exc
        return True

    def read_bytes(self, rel: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(rel))["Body"].read()
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"no object {self.uri(rel)}") from None
            raise self._fault(exc, rel) from exc

    @contextlib.contextmanager
    def local_copy(self, rel: str) -> Iterator[Path]:
        """A local file holding the object, for readers that need a path; removed afterwards."""
        with _scratch_dir() as folder:
            path = folder / PurePosixPath(rel).name
            try:
                self.client.download_file(self.bucket, self.key(rel), str(path), Config=self.transfer_config())
            except Exception as exc:
                if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                    raise FileNotFoundError(f"no object {self.uri(rel)}") from None
                raise self._fault(exc, rel) from exc
            yield path

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the objects under the folder `prefix` ending in `suffix`, sorted."""
        base = self.key(prefix)
        found = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{base}/" if base else "")
        try:
            for page in pages:
                for obj in page.get("Contents", ()):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if not name.startswith(".") and name.endswith(suffix):
                        found.append(self._rel(obj["Key"]))
        except Exception as exc:
            raise self._fault(exc, prefix) from exc
        return sorted(found)

    def glob(self, pattern: str) -> list[str]:
        """Objects matching `pattern`, `*` standing for one path segment (`chips/*/*/2026-06-15/*`)."""
        want = pattern.split("/")
        fixed = []
        for part in want:
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        listed = self.list("/".join(fixed)) if fixed else self.list("")
        return [rel for rel in listed if _segments_match(rel.split("/"), want)]

    def modified(self, rel: str) -> float:
        head = self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
        return head["LastModified"].timestamp()

    # -- readers that bring their own IO (pyarrow, DuckDB) ---------------------------------------
    def fsspec(self):
        """An s3fs filesystem with the same endpoint, credentials and retries (this process's own).
        No listings cache: a partition written a moment ago must be seen by the next query."""
        fs = getattr(self._local, "fs", None)
        if fs is None:
            import s3fs

            creds = credentials()
            s = self.settings
            fs = self._local.fs = s3fs.S3FileSystem(
                key=creds.get("aws_access_key_id"), secret=creds.get("aws_secret_access_key"),
                token=creds.get("aws_session_token"), endpoint_url=s.endpoint_url or None,
                client_kwargs={"region_name": s.region}, use_listings_cache=False, skip_instance_cache=True,
                config_kwargs={"retries": {"mode": s.retry_mode, "total_max_attempts": s.max_attempts},
                               "connect_timeout": s.connect_timeout_seconds, "read_timeout": s.read_timeout_seconds,
                               "s3": {"addressing_style": s.addressing_style}})
        return fs

    def fsspec_source(self, rel: str) -> tuple[str, Any]:
        """(`path`, `filesystem`) for pyarrow / pandas readers: `pd.read_parquet(path, filesystem=fs)`."""
        return f"{self.bucket}/{self.key(rel)}", self.fsspec()

    def duckdb_pattern(self, con, rel: str) -> str:
        """The glob of every parquet file under `rel` as DuckDB reads it: through s3fs, registered
        on `con` (DuckDB's fsspec integration; its httpfs extension is a download this avoids)."""
        fs = self.fsspec()
        if not set(_names(fs)) & set(con.list_filesystems()):
            con.register_filesystem(fs)
        return f"{self.uri(rel)}/**/*.parquet"

    # -- writing ---------------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> str:
        if len(data) < self.settings.multipart_threshold_mb * _MB:  # one PUT, no transfer-manager threads
            self._upload(lambda: self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=data), rel)
        else:
            self._upload(lambda: self.client.upload_fileobj(io.BytesIO(data), self.bucket, self.key(rel),
                                                             Config=self.transfer_config()), rel)
        return rel

    @contextlib.contextmanager
    def open_write(self, rel: str, mode: str = "wb") -> Iterator[IO]:
        """A local file to write; put as one object when the block ends, nothing on error."""
        with self.temporary_path(rel) as tmp:
            with open(tmp, mode) as fh:
                yield fh

    @contextlib.contextmanager
    def temporary_path(self, rel: str) -> Iterator[Path]:
        """A local path (same file name) for a writer; uploaded to `rel` once complete. The bucket
        never holds a temporary: a killed writer leaves nothing there to clean."""
        with _scratch_dir() as folder:
            tmp = folder / PurePosixPath(rel).name
            yield tmp
            if tmp.stat().st_size < self.settings.multipart_threshold_mb * _MB:
                self.write_bytes(rel, tmp.read_bytes())
            else:  # multipart, in parts of multipart_chunksize_mb, visible once the upload completes
                self._upload(lambda: self.client.upload_file(str(tmp), self.bucket, self.key(rel),
                                                              Config=self.transfer_config()), rel)

    @contextlib.contextmanager
    def deferred_sync(self, drop_behind: bool = False) -> Iterator[None]:
        """An object is durable once its PUT returned: nothing to flush at the end (and no page
        cache to leave: `drop_behind` changes nothing)."""
        yield

    def delete(self, rel: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(rel))
        except Exception as exc:
            raise self._fault(exc, rel) from exc

    def _upload(self, put, rel: str) -> None:
        try:
            put()
        except Exception as exc:
            raise self._fault(exc, rel) from exc

    def _fault(self, exc: BaseException, rel: str) -> BaseException:
        """A StorageFault naming the object for a refusal no retry fixes, or a transfer that failed
        after botocore's retries; credentials are in neither (botocore's messages hold none)."""
        code = _code(exc)
        if code in _REFUSED or _status(exc) >= 500 or code in _THROTTLED or isinstance(exc, _transfer_errors()):
            reason = "the request was refused" if code in _REFUSED else "the transfer failed after the client's retries"
            return faults.StorageFault(errno.EIO, f"cannot reach {self.uri(rel)}: {reason} ({type(exc).__name__}: {exc})",
                                       self.uri(rel))
        return exc


def make_client(settings: S3Config):
    """A boto3 S3 client for `settings`, with botocore's retry mode doing every retry."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(
        region_name=settings.region,
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        s3={"addressing_style": settings.addressing_style},
    )
    session = boto3.session.Session(**credentials())
    return session.client("s3", endpoint_url=settings.endpoint_url or None, config=config)


def _names(fs) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _transfer_errors() -> tuple[type, ...]:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import NoCredentialsError

    return (S3UploadFailedError, BotoConnectionError, NoCredentialsError)


def _segments_match(parts: list[str], pattern: list[str]) -> bool:
    return len(parts) == len(pattern) and all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, pattern))


@contextlib.contextmanager
def _scratch_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="shipchips-s3-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["S3Storage", "credentials", "make_client", "split_uri"]
