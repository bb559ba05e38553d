"""Resources: the validated shipchips config and the dataset root it names."""


from functools import cached_property

import dagster as dg

from shipchips_core.config import Config, load_config
from shipchips_core.dataset.storage import LocalStorage, open_storage


class ShipchipsResource(dg.ConfigurableResource):
    """The core `Config` (config.yaml + SHIPCHIPS__* overrides) and the dataset root's storage.

    Endpoints (STAC API, aisstream) live in the config, so pointing a deployment at the offline
    twin or the real services changes nothing here.
    """

    config_path: str | None = None

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def storage(self) -> LocalStorage:
        return open_storage(self.config.dataset_root)
