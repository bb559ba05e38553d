"""The `s3` section: how an `s3://bucket/prefix` dataset root is reached (the endpoint, retries, transfers).

Credentials are no setting: boto3 reads `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
`AWS_SESSION_TOKEN`) from the environment or `./.env` (`dataset.s3_storage`), else its own chain
(a profile, an instance role). A local root ignores this section.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipchips_core.config.validation import ConfigError, positive

RETRY_MODES = ("standard", "adaptive", "legacy")
ADDRESSING_STYLES = ("auto", "path", "virtual")


@dataclass(frozen=True)
class S3Config:
    # empty: AWS itself; else any S3-compatible store (MinIO, Ceph RGW, moto: http://127.0.0.1:9000)
    endpoint_url: str = ""
    region: str = "us-east-1"
    # MinIO and most self-hosted stores want path-style URLs (http://host/bucket/key)
    addressing_style: str = "auto"
    # botocore's own retries: 5xx, throttling (SlowDown, 503) and dropped connections are retried
    retry_mode: str = "standard"
    max_attempts: int = 10  # in all, the first included (botocore's `total_max_attempts`, AWS_MAX_ATTEMPTS)
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    # objects at least this large go up as multipart uploads (boto3's transfer manager), in parts this size
    multipart_threshold_mb: int = 64
    multipart_chunksize_mb: int = 16
    # the collector's local journals until each landing file is complete and put in the bucket
    collector_spool: str = "./.collector_spool"

    def validate(self, key: str) -> None:
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(f"{key}.endpoint_url must be an http(s) URL or empty (AWS), got {self.endpoint_url!r}")
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(f"{key}.retry_mode must be one of {', '.join(RETRY_MODES)}, got {self.retry_mode!r}")
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ConfigError(f"{key}.addressing_style must be one of {', '.join(ADDRESSING_STYLES)}, "
                              f"got {self.addressing_style!r}")
        if self.max_attempts < 1:
            raise ConfigError(f"{key}.max_attempts must be >= 1, got {self.max_attempts}")
        positive(f"{key}.connect_timeout_seconds", self.connect_timeout_seconds)
        positive(f"{key}.read_timeout_seconds", self.read_timeout_seconds)
        if self.multipart_chunksize_mb < 5:  # S3's smallest part but the last
            raise ConfigError(f"{key}.multipart_chunksize_mb must be >= 5 (S3's smallest part), "
                              f"got {self.multipart_chunksize_mb}")
        positive(f"{key}.multipart_threshold_mb", self.multipart_threshold_mb)
