"""Landing files into an object store: the collector journals locally, then puts each landed file.

An S3 object cannot be appended to or fsynced, so the collector's durability (group-committed
journals, renamed when complete, `journal.py`) stays on a local spool folder (`s3.collector_spool`),
and each file, once landed there, is put whole under the same relative path in the bucket
(`ais/YYYYMMDD/aisstream-….jsonl`) and removed from the spool. A reader of the bucket therefore
only sees whole landing files, as on a local root. The puts happen on the journal writer thread,
so the receive loop never waits for the network; a put that fails after botocore's retries stops
the collector naming the object, and the file stays in the spool for the next start to put.
"""

from __future__ import annotations

import logging
from typing import Any

from shipchips_core.ais.journal import LandingError
from shipchips_core.dataset.storage import LocalStorage

log = logging.getLogger(__name__)


class Shipper:
    """Puts landed files of `spool` (a local root) into `remote` (an S3 root), then drops them locally."""

    def __init__(self, spool: LocalStorage, remote: Any):
        self.spool, self.remote = spool, remote

    def ship(self, rel: str) -> None:
        self.remote.write_bytes(rel, self.spool.read_bytes(rel))
        self.spool.delete(rel)

    def ship_all(self) -> int:
        """Put the files a stopped run landed but did not put (call before collecting)."""
        left = self.spool.list("ais", ".jsonl")
        for rel in left:
            self.ship(rel)
        if left:
            log.warning("put %d landing file(s) an earlier run left in %s", len(left), self.spool.root)
        return len(left)

    def landed(self, rel: str) -> bool:
        """A file of this name is already in the bucket (a restart never replaces one)."""
        try:
            return self.remote.exists(rel)
        except OSError as exc:  # the bucket refuses: the collector stops, as for a full disk
            raise LandingError(f"cannot write AIS landing file {self.remote.uri(rel)}: {exc}") from None
