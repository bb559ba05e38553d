"""shipchips on Dagster: thin daily-partitioned assets over `shipchips_core`."""
