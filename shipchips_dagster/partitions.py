"""The daily partitioning shared by every asset."""

from __future__ import annotations

from datetime import date

import dagster as dg

from shipchips_core.config import load_config

DAILY = dg.DailyPartitionsDefinition(start_date=load_config().partitions.start_date, timezone="UTC")


def partition_day(context: dg.AssetExecutionContext | dg.OutputContext | dg.InputContext) -> date:
    return date.fromisoformat(context.partition_key)
