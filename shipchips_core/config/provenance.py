"""Which settings shape the products, and the digest of those (the `config_hash` every chip records).

A setting is *output-shaping* when changing it, for the same AIS feed and the same catalogue, can change
a byte of some product (a chip file, a document, a table, the index, the QA report). Where products are
stored, how fast or in how many processes they are made, how the collector reconnects or cuts its
landing files, and how long a request may take change none: they are listed in `NOT_OUTPUT_SHAPING`
with the reason, and left out of the digest, so retuning them never rewrites a chip's JSON. Every other
key is hashed (a key nobody classified counts as shaping, and `tests/core/config/test_provenance.py`
fails until it is listed here).

Keys are dotted paths; `[]` stands for every entry of a list section (`areas[].bbox`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any

NOT_OUTPUT_SHAPING: dict[str, str] = {
    "dataset_root": "where the products are stored",
    "s3.endpoint_url": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.region": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.addressing_style": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.retry_mode": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.max_attempts": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.connect_timeout_seconds": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.read_timeout_seconds": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.multipart_threshold_mb": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.multipart_chunksize_mb": "how an s3:// dataset root is reached; the objects are the same bytes",
    "s3.collector_spool": "where the collector journals before a landing file is put; the file's bytes are the same",
    "partitions.start_date": "which days exist as partitions, not what a day holds",
    "areas[].name": "a label: written in no product",
    "ais.source": "the collector's protocol; it lands each message's own text",
    "ais.url": "where the feed is read from; the landed lines are the server's messages, verbatim",
    "ais.flush_messages": "how landed messages are cut into files; a day is read from all of them in order",
    "ais.flush_seconds": "how landed messages are cut into files; a day is read from all of them in order",
    "ais.connect_timeout_seconds": "how long the collector waits for a handshake",
    "ais.reconnect_base_seconds": "the collector's reconnect backoff",
    "ais.reconnect_max_seconds": "the collector's reconnect backoff",
    "ais.rate_limited_seconds": "the collector's wait after HTTP 429",
    "ais.receive_queue": "the collector's memory bound",
    "ais.max_pending_lines": "the collector's memory bound",
    "ais.stats_interval_seconds": "how often the collector logs its counters",
    "ais.sync_seconds": "how often the collector makes its journals durable (its loss window on a kill)",
    "ais.archives[].location": "where a day's archive file is read from, not what it holds",
    "stac.timeout_seconds": "how long a search may take",
    "stac.max_retries": "how often a failed search is repeated",
    "plan.lag_days": "when a day's run is started, not what it makes",
    "chips.workers": "how many processes cut the chips (re-runs are byte-identical with any number)",
    "chips.min_chips_per_worker": "when extra processes are used (on Dask, how small a task may be)",
    "chips.executor": "where the chips are cut (local processes or a Dask cluster): the same bytes either way",
    "chips.dask_scheduler": "which Dask cluster cuts them",
}

# the rest, each with what it shapes (documentation, and the test's second list)
OUTPUT_SHAPING: dict[str, str] = {
    "areas[].bbox": "which AIS positions are kept and which scenes are searched",
    "ais.message_types": "which messages the collector subscribes to, so what lands",
    "ais.archives[].format": "how a day's archive rows are read",
    "ais.archives[].start_date": "which days read an archive instead of the landing files",
    "ais.archives[].end_date": "which days read an archive instead of the landing files",
    "stac.url": "the API searched first: recorded as every scene row's `stac_api`, and the first to list a scene keeps it",
    "stac.collections": "which collections are searched, and which one an acquisition is chipped from",
    "stac.extra_apis[].url": "more APIs searched, recorded in `stac_api`",
    "stac.extra_apis[].collections": "their collections",
    "stac.max_cloud_cover": "which scenes are found",
    "plan.history_days": "the history overpasses are predicted from",
    "plan.overpass_local_solar_hour": "the fallback expected overpass",
    "plan.window_hours": "the search window",
    "matching.max_gap_seconds": "which fixes position a ship",
    "matching.max_uncertainty_m": "which matches are chipped",
    "chips.size": "the chip grid",
    "chips.stack": "the bands",
    "chips.ndwi_water_threshold": "the water and land masks",
    "chips.gating.centre_px": "the gates",
    "chips.gating.max_nodata_fraction": "the gates",
    "chips.gating.max_centre_nodata_fraction": "the gates",
    "chips.gating.max_cloud_fraction": "the gates",
    "chips.gating.max_centre_cloud_fraction": "the gates",
    "chips.gating.max_land_fraction": "the gates",
    "chips.gating.max_centre_land_fraction": "the gates",
    "chips.gating.max_corrupt_fraction": "the gates",
    "chips.quicklook": "whether quicklooks are written",
    "chips.radiometry_check": "which DN → reflectance rule a scene's chips get (the pixels' verdict or the metadata's)",
    "splits.train": "each vessel's split, so every chip's path",
    "splits.val": "each vessel's split",
    "splits.test": "each vessel's split",
}

_INDEX = re.compile(r"\[\d+\]")


def leaves(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf setting of a config dataclass by dotted key, list sections entry by entry
    (`areas[0].bbox`)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        key, value = f"{prefix}{f.name}", getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(leaves(value, f"{key}."))
        elif isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) for v in value):
            for i, entry in enumerate(value):
                out.update(leaves(entry, f"{key}[{i}]."))
        else:
            out[key] = value
    return out


def generic_key(key: str) -> str:
    """`areas[3].bbox` → `areas[].bbox`: the key as the lists above name it."""
    return _INDEX.sub("[]", key)


def is_output_shaping(key: str) -> bool:
    return generic_key(key) not in NOT_OUTPUT_SHAPING


def config_digest(config: Any) -> str:
    """A short hash of every output-shaping setting (list sections' entry counts included)."""
    settings = {k: v for k, v in leaves(config).items() if is_output_shaping(k)}
    settings["_entries"] = {f.name: len(getattr(config, f.name)) for f in dataclasses.fields(config)
                            if isinstance(getattr(config, f.name), tuple)}
    blob = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
