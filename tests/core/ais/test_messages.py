"""Parsing aisstream envelopes into flat records, and naming what is wrong with bad ones."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from shipchips_core.ais.messages import (
    MalformedMessage,
    PositionRecord,
    StaticRecord,
    parse_message,
    parse_time_utc,
)
from shipchips_twin.ais_feed import iter_messages
from shipchips_twin.world import World, WorldSpec

# the shape of a real aisstream class A report (SPEC-NOTES §2)
REAL_A = {
    "Message": {
        "PositionReport": {
            "Cog": 308, "CommunicationState": 81982, "Latitude": 66.02695, "Longitude": 12.253821666666665,
            "MessageID": 1, "NavigationalStatus": 15, "PositionAccuracy": True, "Raim": False, "RateOfTurn": 4,
            "RepeatIndicator": 0, "Sog": 0, "Spare": 0, "SpecialManoeuvreIndicator": 0, "Timestamp": 31,
            "TrueHeading": 235, "UserID": 259000420, "Valid": True,
        }
    },
    "MessageType": "PositionReport",
    "MetaData": {
        "MMSI": 259000420, "MMSI_String": "259000420", "ShipName": "AUGUSTSON           ",
        "latitude": 66.02695, "longitude": 12.253821666666665, "time_utc": "2022-12-29 18:22:32.318353076 +0000 UTC",
    },
}


def _class_b(**body) -> dict:
    env = copy.deepcopy(REAL_A)
    env["MessageType"] = "StandardClassBPositionReport"
    fields = env["Message"].pop("PositionReport")
    fields.pop("NavigationalStatus")
    fields.update(MessageID=18, **body)
    env["Message"]["StandardClassBPositionReport"] = fields
    return env


def _static_b(report_a: dict, report_b: dict) -> dict:
    env = copy.deepcopy(REAL_A)
    env["MessageType"] = "StaticDataReport"
    env["Message"] = {"StaticDataReport": {"MessageID": 24, "PartNumber": bool(report_b.get("Valid")),
                                           "UserID": 259000420, "Valid": True, "ReportA": report_a, "ReportB": report_b}}
    return env


def test_real_class_a_report():
    rec = parse_message(json.dumps(REAL_A))
    assert rec == PositionRecord(
        mmsi=259000420, time_utc=datetime(2022, 12, 29, 18, 22, 32, 318353, tzinfo=timezone.utc), lat=66.02695,
        lon=12.253821666666665, sog_kn=0.0, cog_deg=308.0, heading_deg=235.0, nav_status=15,
        msg_type="PositionReport", ais_class="A",
    )
    assert parse_message(REAL_A) == rec  # an already-decoded dict too
    assert parse_message(json.dumps(REAL_A).encode()) == rec


@pytest.mark.parametrize(
    "text, micro",
    [
        ("2022-12-29 18:22:32.318353076 +0000 UTC", 318353),
        ("2022-12-29 18:22:32.3183530 +0000 UTC", 318353),
        ("2022-12-29 18:22:32.318353 +0000 UTC", 318353),
        ("2022-12-29 18:22:32.3 +0000 UTC", 300000),  # Go drops trailing zeros
        ("2022-12-29 18:22:32 +0000 UTC", 0),
    ],
)
def test_time_utc_with_any_number_of_fractional_digits(text, micro):
    assert parse_time_utc(text) == datetime(2022, 12, 29, 18, 22, 32, micro, tzinfo=timezone.utc)


def test_class_b_report_has_no_nav_status():
    rec = parse_message(_class_b(Sog=7.2, Cog=91.5, TrueHeading=511))
    assert rec.ais_class == "B" and rec.msg_type == "StandardClassBPositionReport"
    assert rec.nav_status is None and rec.sog_kn == 7.2 and rec.heading_deg == 511.0


def test_not_available_values_are_kept_raw():
    env = copy.deepcopy(REAL_A)
    env["Message"]["PositionReport"].update(Latitude=91, Longitude=181, Sog=102.3, Cog=360, TrueHeading=511)
    rec = parse_message(env)
    assert (rec.lat, rec.lon, rec.sog_kn, rec.cog_deg, rec.heading_deg) == (91.0, 181.0, 102.3, 360.0, 511.0)


def test_ship_static_data_text_is_stripped_of_padding():
    env = copy.deepcopy(REAL_A)
    env["MessageType"] = "ShipStaticData"
    env["Message"] = {"ShipStaticData": {
        "Name": "AUGUSTSON@@@@@@@@@@@", "CallSign": "LAOX   ", "ImoNumber": 0, "Type": 70,
        "Destination": "BODO@@@@@@@@@@@@@@@@", "Dimension": {"A": 30, "B": 10, "C": 5, "D": 4},
        "MessageID": 5, "UserID": 259000420, "Valid": True,
    }}
    rec = parse_message(env)
    assert rec == StaticRecord(
        mmsi=259000420, time_utc=parse_time_utc(REAL_A["MetaData"]["time_utc"]), ship_name="AUGUSTSON", imo=None,
        call_sign="LAOX", ship_type=70, dim_a=30, dim_b=10, dim_c=5, dim_d=4, msg_type="ShipStaticData",
    )


def test_static_data_report_halves():
    dims = {"A": 8, "B": 4, "C": 2, "D": 2}
    part_a = parse_message(_static_b({"Name": "SEA SPIRIT@@@@@@@@@@", "Valid": True}, {"Valid": False}))
    assert part_a.ship_name == "SEA SPIRIT" and part_a.dim_a is None and part_a.call_sign is None
    part_b = parse_message(_static_b(
        {"Name": "", "Valid": False},
        {"ShipType": 37, "CallSign": "PH1234@", "Dimension": dims, "Valid": True},
    ))
    assert part_b.ship_name is None and (part_b.ship_type, part_b.call_sign, part_b.dim_a, part_b.dim_d) == (37, "PH1234", 8, 2)
    both = parse_message(_static_b(
        {"Name": "SEA SPIRIT", "Valid": True}, {"ShipType": 37, "CallSign": "PH1234", "Dimension": dims, "Valid": True}
    ))
    assert (both.ship_name, both.ship_type, both.dim_b, both.imo) == ("SEA SPIRIT", 37, 4, None)


def _expect(raw, reason: str, *words: str) -> None:
    with pytest.raises(MalformedMessage) as exc:
        parse_message(raw)
    assert exc.value.reason == reason
    for word in words:
        assert word in exc.value.detail


def test_malformed_messages_name_what_is_wrong():
    _expect('{"MessageType": "PositionReport", ', "bad_json")
    _expect("[1, 2]", "bad_json", "list")
    _expect(b"\xff\xfe", "bad_json")
    _expect({**REAL_A, "MessageType": "BaseStationReport"}, "unknown_type", "BaseStationReport")
    _expect({k: v for k, v in REAL_A.items() if k != "MessageType"}, "missing_field", "MessageType")
    _expect({k: v for k, v in REAL_A.items() if k != "MetaData"}, "missing_field", "MetaData")
    _expect({**REAL_A, "Message": {"ShipStaticData": {}}}, "missing_field", "Message.PositionReport")
    no_lat = copy.deepcopy(REAL_A)
    del no_lat["Message"]["PositionReport"]["Latitude"]
    _expect(no_lat, "missing_field", "Latitude")
    bad_lat = copy.deepcopy(REAL_A)
    bad_lat["Message"]["PositionReport"]["Latitude"] = "66.0"
    _expect(bad_lat, "bad_value", "Latitude")
    absurd = copy.deepcopy(REAL_A)
    absurd["Message"]["PositionReport"]["Latitude"] = 300.0
    _expect(absurd, "bad_value", "Latitude")
    bad_time = copy.deepcopy(REAL_A)
    bad_time["MetaData"]["time_utc"] = "2022-12-29T18:22:32Z"
    _expect(bad_time, "bad_value", "time_utc")
    bad_mmsi = copy.deepcopy(REAL_A)
    bad_mmsi["MetaData"]["MMSI"] = "259000420"
    _expect(bad_mmsi, "bad_value", "MMSI")
    _expect(_static_b({"Valid": False}, {"Valid": False}), "bad_value", "not valid")


def test_every_twin_message_parses_to_its_own_values():
    world = World(WorldSpec(n_lane_vessels=6, n_anchored=1, n_class_b=2))
    start = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
    for t, env in iter_messages(world, start, start + timedelta(minutes=10)):
        rec = parse_message(json.dumps(env))
        assert rec.mmsi == env["MetaData"]["MMSI"] and rec.msg_type == env["MessageType"]
        assert rec.time_utc.timestamp() == pytest.approx(t, abs=1e-6)
        vessel = world.vessel(rec.mmsi)
        if isinstance(rec, PositionRecord):
            assert (rec.lat, rec.lon) == (env["MetaData"]["latitude"], env["MetaData"]["longitude"])
            assert rec.ais_class == vessel.ais_class
        else:
            assert rec.ship_name == vessel.name and rec.call_sign == vessel.call_sign
            assert (rec.dim_a, rec.dim_b, rec.dim_c, rec.dim_d) == (vessel.dim_a, vessel.dim_b, vessel.dim_c, vessel.dim_d)
            assert rec.imo == vessel.imo
