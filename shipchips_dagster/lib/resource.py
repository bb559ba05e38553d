"""Resources: the validated shipchips config and the dataset root it names."""


import dataclasses
from functools import cached_property

import dagster as dg
from dagster_aws.s3 import S3Resource

from shipchips_core.config import Config, S3Config, load_config
from shipchips_core.dataset.s3_storage import S3Storage
from shipchips_core.dataset.storage import LocalStorage, open_storage


def s3_resource_for(settings: S3Config) -> S3Resource:
    """dagster-aws's S3 resource for the config's `s3` section (no credentials: those stay in the
    environment or `.env`, so the UI's resource view shows none)."""
    # S3Resource's max_attempts counts retries (botocore's `max_attempts`); ours counts every attempt
    return S3Resource(endpoint_url=settings.endpoint_url or None, region_name=settings.region,
                      max_attempts=settings.max_attempts - 1)


class ShipchipsResource(dg.ConfigurableResource):
    """The core `Config` (config.yaml + SHIPCHIPS__* overrides) and the dataset root's storage.

    Endpoints (STAC API, aisstream) live in the config, so pointing a deployment at the offline
    twin or the real services changes nothing here. An `s3://` dataset root is reached through
    dagster-aws's `S3Resource` (`s3`; built from the config's `s3` section when not given).
    """

    config_path: str | None = None
    s3: S3Resource | None = None

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def storage(self) -> LocalStorage | S3Storage:
        cfg = self.config
        if not cfg.dataset_root.startswith("s3://"):
            return open_storage(cfg.dataset_root)
        s3 = self.s3 or s3_resource_for(cfg.s3)
        # the resource's endpoint, region and attempts win; timeouts, retry mode, transfers from the config
        settings = dataclasses.replace(cfg.s3, endpoint_url=s3.endpoint_url or "", region=s3.region_name or cfg.s3.region,
                                       max_attempts=s3.max_attempts + 1)
        # the resource's own client when it names credentials or a profile; else the same settings with
        # the credentials of the environment or .env
        explicit = s3.aws_access_key_id or s3.profile_name or s3.use_unsigned_session
        return S3Storage(cfg.dataset_root, settings, client_factory=s3.get_client if explicit else None)
