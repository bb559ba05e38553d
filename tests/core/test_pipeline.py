"""A twin day through the pipeline's verbs (no Dagster) where the world lies: a radiometry flag, a
corrupt band, ships in a tile overlap, and AIS vessel facts no ship can have. The labels say which
facts were dropped, the stages count them, and the QA report's data quality section lists it all
with a funnel equal to the tables' row counts."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from html import unescape

import pytest

from shipchips_core import pipeline
from shipchips_core.catalog.day_summary import funnel
from shipchips_core.config import Config, StacConfig
from shipchips_core.config.sections import AreaOfInterest
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin import ais_feed
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.session import replay_window
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)
# ships chipped ok on this world, each made to lie about one fact (their true hulls stay as they are)
LIES = {219297975: "length_too_long", 211179190: "beam_too_wide", 235472193: "beam_exceeds_length",
        211234623: "heading_511", 244432598: "length_too_short"}
# two 10.24 km granules overlapping by 5 km; the lanes cross 31UFS's corrupt southern half and its clean north
SPEC = WorldSpec(granule_px=1024, x_min=544_000.0, x_max=559_480.0, y_max=5_781_000.0, days=(DAY,), history_days=(),
                 radiometry_lies=(("31UES", "flag_false"),), corrupt_bands=(("31UFS", "nir"),),
                 vessel_fact_lies=tuple(LIES.items()))
EXPECTED_LABEL_DROPS = {
    219297975: {"length_m": "length_out_of_range", "oriented_box_px": "length_out_of_range"},
    211179190: {"beam_m": "beam_out_of_range", "oriented_box_px": "beam_out_of_range"},
    235472193: dict.fromkeys(("length_m", "beam_m", "oriented_box_px"), "beam_exceeds_length"),
    211234623: {"heading_deg": "heading_not_available"},
    244432598: {"length_m": "length_out_of_range", "oriented_box_px": "length_out_of_range"},
}


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """Every stage of the day, as `pipeline` returns them."""
    world, tmp = World(SPEC), tmp_path_factory.mktemp("lying_day")
    generate_catalog(world, tmp / "catalog")
    storage = LocalStorage(tmp / "root")
    lines = [json.dumps(env) for _, env in ais_feed.iter_messages(world, *replay_window(DAY))]
    storage.write_bytes(paths.ais_landing_dir(DAY) + "/aisstream-0-000000.jsonl", ("\n".join(lines) + "\n").encode())
    with StacApiTwin(tmp / "catalog") as api:
        stac = StacConfig(url=api.url, max_cloud_cover=100)
        cfg = Config(areas=(AreaOfInterest("twin", world.bbox_lonlat),), stac=stac)
        ais = pipeline.ais_snapshots(cfg, storage, DAY)
        plan = pipeline.acquisition_plan(cfg, storage, DAY, ais.table)
        scenes = pipeline.scene_metadata(cfg, plan.table)
        cands = pipeline.chip_candidates(cfg, plan.table, scenes.table, ais.table)
        chips = pipeline.chips(cfg, storage, DAY, cands.table, scenes.table, ais.table)
    status = pipeline.plan_status(storage, DAY, plan.table, cands.table, chips.table)
    qa = pipeline.qa_report(storage, DAY, ais.table, status.table, scenes.table, chips.table, cands.table, ais.counts)
    html = storage.read_bytes(qa.table["report_path"].iloc[0]).decode()
    return dict(storage=storage, ais=ais, plan=plan, scenes=scenes, cands=cands, chips=chips, status=status, html=html)


def _labels(day) -> dict[int, dict]:
    ok = day["chips"].table.query("status == 'ok'")
    return {int(r.mmsi): json.loads(day["storage"].read_bytes(r.label_path)) for r in ok.itertuples()}


@pytest.mark.slow
def test_each_lying_ships_label_says_which_facts_were_dropped_and_why(day):
    labels = _labels(day)
    assert set(LIES) <= set(labels)
    for mmsi, expected in EXPECTED_LABEL_DROPS.items():
        label = labels[mmsi]
        assert label["dropped_facts"] == expected, mmsi
        assert all(label[fact] is None for fact in expected), mmsi
    assert labels[219297975]["beam_m"] is not None and labels[211234623]["oriented_box_px"] is not None  # the rest stays
    assert all(label["dropped_facts"] == {} for mmsi, label in labels.items() if mmsi not in LIES)
    meta = json.loads(day["storage"].read_bytes(_meta_path(day, 219297975)))
    assert meta["vessel"]["size_check"]["length"] == {"from_dims_m": 500.0, "reported_m": None, "used": "dims",
                                                      "decision": "dims_only"}
    assert meta["vessel"]["length_m"] is None and meta["vessel"]["dropped_facts"] == EXPECTED_LABEL_DROPS[219297975]


def _meta_path(day, mmsi) -> str:
    ok = day["chips"].table.query("status == 'ok' and mmsi == @mmsi")
    return ok["meta_path"].iloc[0]


@pytest.mark.slow
def test_nulled_facts_are_counted_by_reason_in_the_stages(day):
    expected = Counter(f"dropped_fact/{f}/{r}" for d in EXPECTED_LABEL_DROPS.values() for f, r in d.items())
    assert {k: v for k, v in day["chips"].counts.items() if k.startswith("dropped_fact/")} == dict(expected)
    per_vessel = {k: v for k, v in day["plan"].counts.items() if k.startswith("vessel_fact_nulled/")}
    static = Counter(f"vessel_fact_nulled/{f}/{r}" for d in EXPECTED_LABEL_DROPS.values() for f, r in d.items()
                     if f != "heading_deg")  # the heading is a fact of the instant, not of the vessel
    assert per_vessel == dict(static)
    assert day["ais"].counts["not_available_heading_deg"] > 0  # the 511s never reach the table


def _section(html: str, title: str) -> str:
    start = html.index(f"<h3>{title}</h3>")
    end = html.find("<h3>", start + 1)
    return html[start:end if end > 0 else None]


def _rows(section: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    return [[unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr)] for tr in rows]


@pytest.mark.slow
def test_qa_data_quality_lists_the_contradicted_scene_and_the_drops(day):
    html, chips = day["html"], day["chips"].table
    contradicted = day["scenes"].table.query("radiometry_verdict == 'contradicts'")
    assert len(contradicted) == 1  # the l2a 31UES item whose flag says false
    radiometry = _section(html, "Radiometry checked on the pixels")
    assert contradicted.scene_id.iloc[0] in radiometry and "1 contradict it" in radiometry
    for title, reason in (("Corrupt bands", "corrupt_band"), ("One chip per ship per datatake", "duplicate_datatake")):
        dropped = chips[chips.reason == reason]
        assert len(dropped) > 0, reason
        section = _section(html, title)
        assert f"{len(dropped)} chip(s) dropped as {reason}." in section
        assert {r[0] for r in _rows(section)[1:]} == set(dropped.tile_id)
    dups = chips[chips.reason == "duplicate_datatake"]
    kept = [r[4] for r in _rows(_section(html, "One chip per ship per datatake"))[1:]]
    assert kept == list(dups.sort_values("tile_id").kept_tile_id)
    facts = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in _rows(_section(html, "Vessel facts nulled"))[1:]}
    assert facts[("length_m", "length_out_of_range")] == (2, 2)
    assert facts[("heading_deg", "heading_not_available")] == (0, 1)
    assert facts[("oriented_box_px", "beam_exceeds_length")] == (1, 1)


@pytest.mark.slow
def test_the_funnel_equals_the_tables_row_counts(day):
    ais, plan, scenes, cands, chips = (day[k].table for k in ("ais", "status", "scenes", "cands", "chips"))
    ais = ais.frame()  # the stage hands on a lazy handle; the day is small
    rows = {r[0]: r[1:] for r in _rows(_section(day["html"], "Funnel: AIS fixes to chips"))[1:]}
    dropped_fixes = sum(day["ais"].counts[r] for r in ("position_not_available", "non_ship_mmsi", "unknown_ais_class",
                                                       "out_of_day", "out_of_area", "duplicate", "impossible_jump"))
    assert rows["AIS positions"][:3] == [str(len(ais) + dropped_fixes), str(len(ais)), str(dropped_fixes)]
    assert rows["vessels"][:2] == [str(ais.mmsi.nunique()), str(len(plan))]
    assert rows["plan"][:2] == [str(len(plan)), str((plan.status == "matched").sum())]
    assert rows["scenes"][:2] == [str(len(scenes)), str((scenes.status == "ok").sum())]
    assert rows["candidates"][:2] == [str(len(cands)), str((cands.match_status == "ok").sum())]
    assert rows["chips"][:2] == [str(len(chips)), str((chips.status == "ok").sum())]
    losses = dict(item.rsplit(" ", 1) for item in rows["chips"][3].split(", "))
    assert {k: int(v) for k, v in losses.items()} == dict(Counter(chips.reason.dropna()))
    later = ("vessels", "plan", "scenes", "candidates", "chips")
    assert [s.rows for s in funnel(ais, plan, scenes, cands, chips)][1:] == [int(rows[n][0]) for n in later]
