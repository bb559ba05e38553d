"""shipchips on Dagster: thin daily-partitioned assets over `shipchips_core`."""

import warnings

import dagster as dg

# Chosen on purpose and pinned to dagster 1.13: pandera Dagster types (beta) and partitioned asset
# checks (preview, so a check loads only its partition). Their notices would drown every run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
