"""The Dagster UI as a person uses it: dagster-webserver and dagster-daemon on loopback over a test instance,
the code location served over gRPC against the offline twin, driven by Playwright in Debian's headless
chromium (make system-deps; never a downloaded browser). Screenshots go to .test-artifacts/ui/."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from shipchips_core.dataset import paths, schemas
from shipchips_twin.world import SAMPLE_DAY
from tests.dagster_servers import running_dagster
from tests.twin_day import twin_day

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DAY = SAMPLE_DAY.isoformat()
RUN_TIMEOUT_S = 1500
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _backfill_days() -> list[str]:
    """Three recent days (inside the dialog's default range) without AIS: the graph runs on empty tables."""
    today = datetime.now(timezone.utc).date()
    return [(today - timedelta(days=n)).isoformat() for n in (5, 4, 3)]


class Ui:
    """The browser page on the webserver, with the few gestures the tests make."""

    def __init__(self, page, url: str):
        self.page, self.url = page, url

    def go(self, path: str) -> None:
        self.page.goto(self.url + path, wait_until="networkidle", timeout=120_000)


    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(out))
        return out

    def text(self) -> str:
        return self.page.inner_text("body")

    def wait_text(self, pattern: str, timeout_s: float = 60) -> None:
        self.page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_s * 1000)

    def launch_from_materialize_dialog(self, partitions: list[str], name: str) -> None:
        """The lineage page's "Materialize all…": pick the partitions in the dialog's text box, launch."""
        self.go("/asset-groups")
        self.page.get_by_text("Materialize all").first.click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_text("Partition selection").wait_for()
        dialog.get_by_text("Show all partitions").click()  # the text box of partition names comes with it
        box = dialog.get_by_role("textbox")
        box.fill(",".join(partitions))
        box.press("Enter")
        dialog.get_by_text(re.compile(rf"^{len(partitions)} partitions?$")).wait_for()
        self.shot(f"{name}_dialog")
        dialog.get_by_role("button", name=re.compile("^Launch")).click()
        dialog.wait_for(state="hidden", timeout=120_000)


def _nux_seen(url: str) -> None:
    """What the first visit's "Join the Dagster community" dialog's Skip records (it would cover the page)."""
    body = json.dumps({"query": "mutation { setNuxSeen }"}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.load(answer)["data"]["setNuxSeen"] is True


def _loopback_only(route) -> None:
    """The page may load from the webserver only (the dialog above embeds a page from the internet)."""
    host = urllib.parse.urlsplit(route.request.url).hostname
    route.continue_() if host in ("127.0.0.1", "localhost") else route.abort()


@pytest.fixture(scope="module")
def ui(tmp_path_factory, shipped_config):
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("ui")
    with twin_day(tmp, shipped_config) as day, running_dagster(tmp, day.env()) as servers:
        instance = dg.DagsterInstance.from_config(str(servers.home))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            _nux_seen(servers.url)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.route("**/*", _loopback_only)
            page.set_default_timeout(60_000)
            try:
                yield {"ui": Ui(page, servers.url), "instance": instance, "day": day}
            finally:
                browser.close()
                instance.dispose()


@pytest.fixture(scope="module")
def definitions():
    from shipchips_dagster.definitions import defs

    return defs


@pytest.fixture(scope="module")
def sample_day_run(ui):
    """The sample day's partition of every asset, launched from the UI's materialize dialog."""
    instance = ui["instance"]
    ui["ui"].launch_from_materialize_dialog([DAY], "materialize_one_partition")
    return _wait_run(instance, {"dagster/partition": DAY})


def _wait_run(instance: dg.DagsterInstance, tags: dict) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(tags=tags))
        if runs and runs[0].status in TERMINAL:
            return runs[0]
        time.sleep(5)
    raise AssertionError(f"no run with tags {tags} finished within {RUN_TIMEOUT_S} s")


def _wait_backfill(instance: dg.DagsterInstance, before: set[str]):
    deadline = time.monotonic() + RUN_TIMEOUT_S * 2
    while time.monotonic() < deadline:
        new = [b for b in instance.get_backfills() if b.backfill_id not in before]
        if new and new[0].status != BulkActionStatus.REQUESTED:
            return new[0]
        time.sleep(5)
    raise AssertionError(f"the backfill did not finish within {RUN_TIMEOUT_S * 2} s")


def test_the_asset_graph_shows_every_asset_with_its_checks_and_daily_partitions(ui, definitions):
    page = ui["ui"]
    graph = definitions.resolve_asset_graph()
    daily_keys = graph.get(dg.AssetKey("chips")).partitions_def.get_partition_keys()
    by_group: dict[str, list[dg.AssetKey]] = {}
    for key in sorted(graph.get_all_asset_keys()):
        by_group.setdefault(graph.get(key).group_name, []).append(key)
    page.page.set_viewport_size({"width": 2560, "height": 1600})  # a group graph drawn whole: only nodes in view render
    for group, keys in by_group.items():
        page.go(f"/locations/shipchips/asset-groups/{group}/lineage")
        try:
            for key in keys:  # each asset is a node of its group's graph
                page.page.locator("[class*=AssetNode_assetName]", has_text=re.compile(rf"^{key.path[-1]}$")).wait_for()
        finally:  # the graph as it stood, also when a node is missing
            page.shot(f"graph_{group}")
        for key in keys:  # clicking a node opens its sidebar with the asset's checks
            checks = sorted(c.name for c in graph.get_check_keys_for_assets([key]))
            if not checks:
                continue
            page.go(f"/locations/shipchips/asset-groups/{group}/lineage")  # the whole group in view again
            page.page.locator("[class*=AssetNode_assetName]", has_text=re.compile(rf"^{key.path[-1]}$")).click()
            for check in checks:
                page.page.get_by_text(check, exact=True).first.wait_for()
        page.go(f"/locations/shipchips/asset-groups/{group}/list")
        partitioned = [k for k in keys if graph.get(k).partitions_def is not None]
        if partitioned:  # the counts arrive after the rows ("- partitions" until then)
            page.wait_text(rf"^{len(daily_keys):,} partitions$")
        text = page.text()
        # the list shows each daily asset's partition count: one per day since partitions.start_date
        assert text.count(f"{len(daily_keys):,} partitions") == len(partitioned), (group, len(daily_keys))
    page.page.set_viewport_size({"width": 1600, "height": 1000})
    assert daily_keys[0] == "2024-01-01" and len(daily_keys) > 365


def test_the_catalog_shows_each_tables_column_schema(ui, definitions):
    page = ui["ui"]
    graph = definitions.resolve_asset_graph()
    tables = {k.path[-1]: graph.get(k).metadata["shipchips/schema"] for k in graph.get_all_asset_keys()
              if graph.get(k).metadata.get("shipchips/schema")}
    assert {"ais_snapshots", "chips", "tile_index", "qa_report"} <= set(tables)
    for name, schema in sorted(tables.items()):
        page.go(f"/assets/{name}")
        page.wait_text("^Columns$")
        columns = list(schemas.SCHEMAS[schema].columns)
        missing = [c for c in columns if not page.page.get_by_text(c, exact=True).count()]
        assert not missing, (name, missing)
        if name == "chips":
            page.shot("catalog_chips_columns")


def test_one_partition_launched_from_the_ui_succeeds(ui, sample_day_run):
    page = ui["ui"]
    assert sample_day_run.status == dg.DagsterRunStatus.SUCCESS, page.shot("materialize_failed")
    page.go(f"/runs/{sample_day_run.run_id}")
    page.wait_text("^Success$")
    page.shot("materialize_one_partition_run")
    page.go("/asset-groups")
    page.shot("graph_after_one_partition")
    chips = ui["instance"].get_latest_materialization_event(dg.AssetKey("chips"))
    assert chips.run_id == sample_day_run.run_id and chips.asset_materialization.metadata["count/ok"].value > 0


def test_the_qa_reports_path_is_shown_as_the_assets_metadata(ui, sample_day_run):
    page = ui["ui"]
    report = ui["day"].storage.path(paths.qa_report(SAMPLE_DAY))
    assert report.is_file() and report.read_bytes().startswith(b"<!")
    page.go(f"/assets/qa_report?partition={DAY}")
    page.page.get_by_text(str(report), exact=True).first.wait_for()
    page.shot("qa_report_metadata")


def test_a_three_day_backfill_from_the_dialog_completes_all_green(ui, sample_day_run):
    page, instance = ui["ui"], ui["instance"]
    days = _backfill_days()
    before = {b.backfill_id for b in instance.get_backfills()}
    page.launch_from_materialize_dialog(days, "backfill")
    backfill = _wait_backfill(instance, before)
    page.page.set_viewport_size({"width": 1600, "height": 1400})  # every asset's row of the backfill in view
    page.go(f"/runs/b/{backfill.backfill_id}")
    page.shot("backfill")
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, backfill.status
    page.wait_text("^Succeeded$")
    # one row per asset: a full green bar, 3 of 3 partitions for the daily ones
    n_assets = len(backfill.asset_selection)
    assert page.page.get_by_text("100% completed", exact=True).count() == n_assets == 17
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert runs and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    for asset in ("ais_snapshots", "chips", "qa_report"):  # every day's partition is materialized (green)
        assert set(days) <= instance.get_materialized_partitions(dg.AssetKey(asset)), asset
    page.go("/assets/chips?view=partitions")
    page.shot("chips_partitions")
    assert date.fromisoformat(days[0]) > SAMPLE_DAY
