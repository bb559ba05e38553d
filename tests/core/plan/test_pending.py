"""plan/pending.csv: the unresolved days only."""

from datetime import date

from shipchips_core.plan.status import resolve_plan

DAY = date(2026, 6, 15)


def test_pending_csv_lists_unresolved_days_only(resolve_case, tmp_path):
    from shipchips_core.dataset import paths
    from shipchips_core.dataset.storage import LocalStorage
    from shipchips_core.plan.pending import write_pending_csv

    storage = LocalStorage(tmp_path)
    plan, cand, chips = resolve_case
    older = date(2026, 6, 14)
    with storage.open_write(paths.partition_file(paths.table_dataset("acquisition_plan"), older)) as fh:
        plan.to_parquet(fh)
    assert write_pending_csv(storage, DAY, plan) == 12  # the older day's 6 + today's 6
    with storage.open_write(paths.partition_file(paths.table_dataset("plan_status"), older)) as fh:
        resolve_plan(plan, cand, chips).to_parquet(fh)
    assert write_pending_csv(storage, DAY, None) == 0
    text = storage.read_bytes(paths.plan_pending_csv()).decode()
    assert text.startswith("plan_id,mmsi,expected_overpass")
