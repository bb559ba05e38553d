"""The project's SQL models: one `.sql` file each (see `shipchips_core.catalog.sql_models`), shipped with
the package so an installed code location finds them."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
