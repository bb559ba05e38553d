"""The matured-day sensor, evaluated against a real (ephemeral) instance."""

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from shipchips_core.plan.acquisition import matured_days
from shipchips_dagster.definitions import defs
from shipchips_dagster.defs.chips.automation import matured_days_sensor
from shipchips_dagster.lib.resource import ShipchipsResource

TODAY = datetime.now(timezone.utc).date()


def test_matured_days_follow_the_lag():
    days = [date(2026, 6, 10), date(2026, 6, 12), date(2026, 6, 13)]
    assert matured_days(days, date(2026, 6, 15), lag_days=3) == [date(2026, 6, 10), date(2026, 6, 12)]
    assert matured_days(days, date(2026, 6, 15), lag_days=0) == days


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _materialize(instance, asset, day):
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=day.isoformat()))


def _requests(instance, tmp_path, lag_days=3):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"plan: {{lag_days: {lag_days}}}\n")
    with dg.build_sensor_context(instance=instance, resources={"shipchips": ShipchipsResource(config_path=str(cfg))},
                                 definitions=defs) as context:  # closes its resources before the instance goes
        return matured_days_sensor(context).run_requests


def test_sensor_requests_each_matured_day_once_with_its_partition(instance, tmp_path):
    old, fresh = TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    _materialize(instance, "ais_snapshots", old)
    _materialize(instance, "ais_snapshots", fresh)
    requests = _requests(instance, tmp_path)
    assert [(r.partition_key, r.run_key) for r in requests] == [(old.isoformat(), f"downstream-{old.isoformat()}")]
    # the run key is the day: asking again is the same request, which Dagster runs only once
    assert [r.run_key for r in _requests(instance, tmp_path)] == [f"downstream-{old.isoformat()}"]


def test_sensor_skips_days_already_done_and_days_without_ais(instance, tmp_path):
    done, missing = TODAY - timedelta(days=10), TODAY - timedelta(days=8)
    _materialize(instance, "ais_snapshots", done)
    _materialize(instance, "chips", done)
    assert _requests(instance, tmp_path) == []
    assert missing.isoformat() not in {r.partition_key for r in _requests(instance, tmp_path, lag_days=0)}


def test_lag_zero_requests_today_too(instance, tmp_path):
    _materialize(instance, "ais_snapshots", TODAY)
    assert [r.partition_key for r in _requests(instance, tmp_path, lag_days=0)] == [TODAY.isoformat()]


