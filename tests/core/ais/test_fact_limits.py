"""Sanity limits for vessel facts: what no ship can be is nulled with its reason; a DMA row whose
Length/Width contradict its A/B/C/D keeps both and says which is used."""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd
import pytest

from shipchips_core.ais import archives, fact_limits as fl
from shipchips_core.ais.vessels import fact_counts, latest_vessel_facts
from tests.core.ais.test_archives import DMA_DAY, DMA_HEADER, SKAGERRAK


def test_a_plausible_ship_keeps_every_fact():
    facts = fl.check_static(21, 24, 6, 6, 45.0, 12.0)
    assert (facts.length_m, facts.beam_m, facts.dropped) == (45.0, 12.0, {})
    assert facts.dims == {"dim_a": 21, "dim_b": 24, "dim_c": 6, "dim_d": 6}
    assert facts.length.as_dict() == {"from_dims_m": 45.0, "reported_m": 45.0, "used": "dims", "decision": "agree"}


LONG, SHORT, WIDE, WIDER = "length_out_of_range", "length_out_of_range", "beam_out_of_range", "beam_exceeds_length"


@pytest.mark.parametrize("dims, reported, length, beam, dropped", [
    ((400, 100, 10, 22), (None, None), None, 32.0, {"length_m": LONG, "oriented_box_px": LONG}),
    ((2, 1, 1, 1), (None, None), None, 2.0, {"length_m": SHORT, "oriented_box_px": SHORT}),
    ((150, 50, 50, 45), (None, None), 200.0, None, {"beam_m": WIDE, "oriented_box_px": WIDE}),
    ((3, 3, 5, 5), (None, None), None, None, dict.fromkeys(("length_m", "beam_m", "oriented_box_px"), WIDER)),
    ((None, None, None, None), (600.0, 1.0), None, None, {"length_m": LONG, "beam_m": WIDE}),
])
def test_sizes_beyond_the_limits_are_nulled_with_their_reason(dims, reported, length, beam, dropped):
    facts = fl.check_static(*dims, *reported)
    assert (facts.length_m, facts.beam_m, facts.dropped) == (length, beam, dropped)
    if "oriented_box_px" in dropped:  # the box is not drawn from offsets that break the limits
        assert set(facts.dims.values()) == {None}


def test_limits_are_inclusive_and_a_zero_offset_is_legal():
    assert fl.check_static(0, 460, 0, 80).dropped == {}  # antenna at the bow and the port side
    assert fl.check_static(3, 2, 1, 1).dropped == {}  # 5 m by 2 m
    assert fl.check_static(0, 0, 0, 0).length.decision == "unknown"  # all zero: not available, nothing dropped


@pytest.mark.parametrize("dims, reported, used, decision, length", [
    ((21, 24), 45.5, "dims", "agree", 45.0),
    ((21, 24), 120.0, "dims", "disagree_dims_used", 45.0),  # both plausible: the offsets the box is drawn from
    ((400, 100), 120.0, "reported", "disagree_reported_used", 120.0),  # the offsets break the limits, Length does not
    ((400, 100), 470.0, "dims", "disagree_neither_in_limits", None),
    ((None, None), 120.0, "reported", "reported_only", 120.0),
])
def test_which_length_is_used_when_offsets_and_reported_size_disagree(dims, reported, used, decision, length):
    facts = fl.check_static(*dims, 6, 6, reported, 12.0)
    assert (facts.length.source, facts.length.decision, facts.length_m) == (used, decision, length)
    assert (facts.length.reported_m, facts.length.from_dims_m) == (reported, None if dims[0] is None else sum(dims))


def test_motion_facts():
    assert fl.check_motion(10.0, 90.0, 91.0) == ({"sog_kn": 10.0, "cog_deg": 90.0, "heading_deg": 91.0}, {})
    motion, dropped = fl.check_motion(0.4, 213.0, 511)
    assert motion == {"sog_kn": 0.4, "cog_deg": None, "heading_deg": None}
    assert dropped == {"cog_deg": "cog_below_min_sog", "heading_deg": "heading_not_available"}
    assert fl.check_motion(1.0, 213.0, float("nan"))[1] == {"heading_deg": "heading_not_available"}  # 1 kn: kept
    assert fl.check_motion(None, 213.0, 5.0)[0]["cog_deg"] == 213.0  # no speed known: nothing says it is noise


def test_dropped_facts_round_trip_a_table_cell():
    dropped = {"length_m": "length_out_of_range", "cog_deg": "cog_below_min_sog"}
    assert fl.format_dropped(dropped) == "cog_deg=cog_below_min_sog;length_m=length_out_of_range"
    assert fl.parse_dropped(fl.format_dropped(dropped)) == dropped and fl.format_dropped({}) is None
    assert fl.parse_dropped(None) == {} and fl.parse_dropped(float("nan")) == {}


def test_the_published_label_schema_knows_every_reason():
    schema = json.loads((resources.files("shipchips_core") / "json_schemas" / "label.schema.json").read_text())
    assert tuple(schema["properties"]["dropped_facts"]["additionalProperties"]["enum"]) == fl.REASONS
    meta = json.loads((resources.files("shipchips_core") / "json_schemas" / "chip_metadata.schema.json").read_text())
    assert tuple(meta["$defs"]["size_check"]["properties"]["decision"]["enum"]) == fl.SIZE_DECISIONS


# DMA rows: Width, Length ... A, B, C, D. VESTKYST agrees (45 = 21+24); NORDLYS's Length says 120 m but its
# offsets 45 m; HAVBRIS's offsets sum to 500 m, its Length is 118 m; both beams agree.
_ROW = ("18/03/2023 {t},Class A,{mmsi},57.0{k}0000,10.300000,Under way using engine,0.0,10.2,30.2,31,Unknown,OX{k},"
        "{name},Cargo,,{width},{length},GPS,3.2,HIRTSHALS,,AIS,{a},{b},{c},{d}")
DMA_SIZES = [
    dict(mmsi=219000873, name="VESTKYST", width=12, length=45, a=21, b=24, c=6, d=6),
    dict(mmsi=219000875, name="NORDLYS", width=12, length=120, a=21, b=24, c=6, d=6),
    dict(mmsi=219000876, name="HAVBRIS", width=20, length=118, a=400, b=100, c=10, d=10),
]


def test_dma_length_and_offsets_that_disagree_are_both_kept_and_one_is_used(tmp_path):
    rows = [_ROW.format(t=f"00:0{k}:00", k=k, **v) for k, v in enumerate(DMA_SIZES)]
    path = tmp_path / "aisdk-2023-03-18.csv"
    path.write_text(DMA_HEADER + "\n" + "\n".join(rows) + "\n")
    ais, _ = archives.read_archive(str(path), "dma", DMA_DAY, [SKAGERRAK])
    assert list(ais["reported_length_m"]) == [45.0, 120.0, 118.0] and list(ais["length_m"]) == [45.0, 45.0, 500.0]
    vessels = latest_vessel_facts(ais).set_index("mmsi")
    sizes = vessels["size_check"]
    assert sizes[219000873]["length"] == {"from_dims_m": 45.0, "reported_m": 45.0, "used": "dims", "decision": "agree"}
    assert sizes[219000875]["length"] == {"from_dims_m": 45.0, "reported_m": 120.0, "used": "dims",
                                          "decision": "disagree_dims_used"}
    assert sizes[219000876]["length"] == {"from_dims_m": 500.0, "reported_m": 118.0, "used": "reported",
                                          "decision": "disagree_reported_used"}
    assert list(vessels["length_m"]) == [45.0, 45.0, 118.0]
    # the 500 m offsets draw no box: the hull they describe is not the ship's
    assert vessels.loc[219000876, "dropped_facts"] == {"oriented_box_px": "dims_contradict_reported_size"}
    assert pd.isna(vessels.loc[219000876, "dim_a"]) and vessels.loc[219000875, "dim_a"] == 21
    assert fact_counts(vessels.reset_index()) == {
        "size_disagrees/length/disagree_dims_used": 1, "size_disagrees/length/disagree_reported_used": 1,
        "vessel_fact_nulled/oriented_box_px/dims_contradict_reported_size": 1,
    }
