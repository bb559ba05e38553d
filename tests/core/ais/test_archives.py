"""Historical archives: small NOAA (both generations) and DMA files shaped exactly like the real ones,
read through every container (.csv, .zip, .csv.zst, http), cleaned, and picked per partition by config."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import zipfile
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipchips_core.ais import archives
from shipchips_core.ais.clean import DROP_REASONS
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.config import ConfigError, load_config
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage

DAY = date(2022, 6, 20)
GALVESTON = (-95.5, 29.0, -94.0, 30.0)
NOAA_HEADER = ("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,"
               "Draft,Cargo,TransceiverClass")
# (mmsi, time, lat, lon, sog, cog, heading, name, imo, call sign, type, status, length, width, draft, cargo, class)
NOAA_ROWS = [
    "367596940,2022-06-20T00:00:04,29.31278,-94.79286,12.4,222.3,223.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "367596940,2022-06-20T00:00:14,29.31200,-94.79380,102.3,360.0,511.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "367596940,2022-06-20T00:00:14,29.31999,-94.79999,12.0,222.0,222.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "367596940,2022-06-20T00:00:24,29.81200,-94.79480,12.4,222.3,223.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "367596940,2022-06-20T00:00:34,29.31050,-94.79570,12.4,222.3,223.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "367596940,2022-06-20T00:00:04,29.31278,-94.79286,12.4,222.3,223.0,SEA STAR,IMO9869693,WDH3843,70,0,183,32,9.1,70,A",
    "338123456,2022-06-20T13:45:10,29.40000,-94.70000,0.0,0.0,511.0,,,,37,,,,,,B",
    "338123456,2022-06-20T13:45:40,91.00000,181.00000,0.0,0.0,511.0,,,,37,,,,,,B",
    "3669701,2022-06-20T13:45:10,29.35000,-94.75000,0.0,0.0,511.0,,,,,,,,,,A",
    "993692001,2022-06-20T13:45:10,29.35000,-94.75000,0.0,0.0,511.0,BUOY 12,,,,,,,,,B",
    "338123456,2022-06-21T00:00:00,29.40000,-94.70000,0.0,0.0,511.0,,,,37,,,,,,B",
    "338123456,2022-06-20T13:46:10,29.40000,-90.70000,0.0,0.0,511.0,,,,37,,,,,,B",
]
NOAA_2025_HEADER = ("mmsi,base_date_time,longitude,latitude,sog,cog,heading,vessel_name,imo,call_sign,vessel_type,"
                    "status,length,width,draft,cargo,transceiver")
DMA_HEADER = ("# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,"
              "Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,"
              "Data source type,A,B,C,D")
DMA_ROWS = [
    ("18/03/2023 00:00:00,Class A,219000873,56.990910,10.304543,Under way using engine,0.0,10.2,30.2,31,9196157,OXKC2,"
     "VESTKYST,Fishing,,12,45,GPS,3.2,HIRTSHALS,18/03/2023 06:00:00,AIS,21,24,6,6"),
    ("18/03/2023 00:03:00,Class A,219000873,56.995000,10.310000,Restricted maneuverability,,0.1,,511,9196157,OXKC2,"
     "VESTKYST,Fishing,,12,45,GPS,3.2,HIRTSHALS,18/03/2023 06:00:00,AIS,21,24,6,6"),
    ("18/03/2023 06:10:00,Class A,219000874,57.100000,10.500000,At anchor,,0.0,0.0,90,Unknown,Unknown,,Undefined,,,,"
     "Undefined,,Unknown,,AIS,,,,"),
    ("18/03/2023 07:00:00,Class B,211234560,57.200000,10.600000,Unknown value,,5.5,90.0,,Unknown,DB1234,SEA SPIRIT,"
     "Pleasure,,3,11,GPS,,,,AIS,6,5,1,2"),
    ("18/03/2023 00:00:00,Base Station,2190064,56.716600,11.519100,Unknown value,,,,,Unknown,,,Undefined,,,,GPS,,,,"
     "AIS,,,,"),
    ("18/03/2023 08:00:00,Undefined,219000875,57.000000,10.400000,Unknown value,,,,,Unknown,,,Undefined,,,,"
     "Undefined,,,,AIS,,,,"),
    ("18/03/2023 09:00:00,Class A,219000876,91.000000,181.000000,Moored,,0.0,0.0,,Unknown,,,Cargo,,,,GPS,,,,AIS,,,,"),
    ("18/03/2023 09:00:00,Class A,219000877,55.500000,5.000000,Moored,,0.0,0.0,,Unknown,,,Cargo,,,,GPS,,,,AIS,,,,"),
]
DMA_DAY, SKAGERRAK = date(2023, 3, 18), (9.0, 56.5, 12.0, 58.0)


def noaa_text(rows=NOAA_ROWS) -> str:
    return NOAA_HEADER + "\n" + "\n".join(rows) + "\n"


def noaa_2025_text() -> str:
    """The same rows in the 2025 generation: renamed lowercase columns, longitude before latitude."""
    out = [NOAA_2025_HEADER]
    for row in NOAA_ROWS:
        f = row.split(",")
        f[1] = f[1].replace("T", " ")
        out.append(",".join([f[0], f[1], f[3], f[2], *f[4:]]))
    return "\n".join(out) + "\n"


def write_zip(path, member: str, text: str):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, text)
    return path


def write_zst(path, text: str):
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(text.encode())
    return path


def zero_counts(**nonzero) -> dict:
    return {**dict.fromkeys(DROP_REASONS, 0), **nonzero}


def drops(counts: dict) -> dict:
    return {r: counts[r] for r in DROP_REASONS}


NOAA_DROPS = zero_counts(position_not_available=1, non_ship_mmsi=2, out_of_day=1, out_of_area=1, duplicate=2,
                         impossible_jump=1)


@pytest.fixture(params=["csv", "zip", "zst_2025"])
def noaa_file(request, tmp_path):
    if request.param == "csv":
        path = tmp_path / "AIS_2022_06_20.csv"
        path.write_text(noaa_text())
        return path
    if request.param == "zip":
        return write_zip(tmp_path / "AIS_2022_06_20.zip", "AIS_2022_06_20.csv", noaa_text())
    return write_zst(tmp_path / "ais-2022-06-20.csv.zst", noaa_2025_text())


def test_noaa_values_and_cleaning_counts(noaa_file):
    df, counts = archives.read_archive(str(noaa_file), "noaa", DAY, [GALVESTON])
    assert drops(counts) == NOAA_DROPS
    assert counts["rows_read"] == len(NOAA_ROWS) == counts["positions_kept"] + sum(NOAA_DROPS.values())
    assert counts["not_available_sog_kn"] == counts["not_available_cog_deg"] == 1
    assert counts["not_available_heading_deg"] == 2  # 511 on the star's fix and on the class B one
    schemas.validate("ais_snapshots", df)
    star = df[df["mmsi"] == 367596940].reset_index(drop=True)
    assert list(star["time_utc"].dt.strftime("%H:%M:%S")) == ["00:00:04", "00:00:14", "00:00:34"]
    row = star.iloc[0]
    assert (row["lat"], row["lon"], row["sog_kn"], row["cog_deg"], row["heading_deg"]) == (29.31278, -94.79286, 12.4, 222.3, 223.0)
    assert row["time_utc"] == pd.Timestamp("2022-06-20T00:00:04Z")
    assert (row["ship_name"], row["imo"], row["call_sign"], row["ship_type"], row["nav_status"]) == ("SEA STAR", 9869693, "WDH3843", 70, 0)
    assert (row["length_m"], row["beam_m"], row["source"], row["ais_class"], row["msg_type"]) == (183.0, 32.0, "noaa", "A", "PositionReport")
    assert pd.isna(row["dim_a"]) and pd.isna(row["dim_d"])
    # the first of two fixes at 00:00:14 is kept, with its not-available codes nulled
    second = star.iloc[1]
    assert second["lat"] == 29.312 and np.isnan(second["sog_kn"]) and np.isnan(second["cog_deg"]) and np.isnan(second["heading_deg"])
    b = df[df["mmsi"] == 338123456].iloc[0]
    assert b["ship_name"] is None and b["call_sign"] is None and pd.isna(b["imo"]) and pd.isna(b["nav_status"])
    assert np.isnan(b["length_m"]) and b["ais_class"] == "B" and b["msg_type"] == "StandardClassBPositionReport"


def test_noaa_2025_longitude_comes_before_latitude(tmp_path):
    """Rows as the csv2 files write them: space in the time, integer heading, sentinels left empty."""
    path = tmp_path / "ais-2022-06-20.csv"
    path.write_text(NOAA_2025_HEADER + "\n"
                    "367596940,2022-06-20 00:00:04,-94.79286,29.31278,12.4,222.3,223,SEA STAR,IMO9869693,WDH3843,"
                    "70,0,183,32,9.1,70,A\n"
                    "366996430,2022-06-20 00:00:00,-94.55641,29.40362,,,,CAPT JEFF IRBY,,WDK7088,31,12,20,8,3.3,,A\n")
    df, counts = archives.read_archive(str(path), "noaa", DAY, [GALVESTON])
    star, jeff = df[df["mmsi"] == 367596940].iloc[0], df[df["mmsi"] == 366996430].iloc[0]
    assert (star["lat"], star["lon"], star["imo"], star["heading_deg"]) == (29.31278, -94.79286, 9869693, 223.0)
    assert (jeff["lat"], jeff["lon"], jeff["nav_status"], jeff["length_m"]) == (29.40362, -94.55641, 12, 20.0)
    assert np.isnan(jeff["sog_kn"]) and np.isnan(jeff["heading_deg"]) and pd.isna(jeff["imo"])
    assert counts["not_available_heading_deg"] == 0  # empty is missing, not a code to null


def test_dma_values_statuses_and_counts(tmp_path):
    path = tmp_path / "aisdk-2023-03-18.csv"
    path.write_text(DMA_HEADER + "\n" + "\n".join(DMA_ROWS) + "\n")
    df, counts = archives.read_archive(str(path), "dma", DMA_DAY, [SKAGERRAK])
    assert drops(counts) == zero_counts(position_not_available=1, non_ship_mmsi=1, unknown_ais_class=1, out_of_area=1)
    assert counts["positions_kept"] == 4 and counts["not_available_heading_deg"] == 1
    schemas.validate("ais_snapshots", df)
    class_b, first, second, anchored = (df.iloc[i] for i in range(4))  # sorted by mmsi, then time
    assert first["time_utc"] == pd.Timestamp("2023-03-18T00:00:00Z") and (first["lat"], first["lon"]) == (56.99091, 10.304543)
    assert (first["nav_status"], second["nav_status"], anchored["nav_status"], class_b["nav_status"]) == (0, 3, 1, 15)
    assert (first["sog_kn"], first["cog_deg"], first["heading_deg"]) == (10.2, 30.2, 31.0)
    assert np.isnan(second["cog_deg"]) and np.isnan(second["heading_deg"])
    assert (first["ship_name"], first["imo"], first["call_sign"], first["ship_type"]) == ("VESTKYST", 9196157, "OXKC2", 30)
    assert (first["dim_a"], first["dim_b"], first["dim_c"], first["dim_d"], first["length_m"], first["beam_m"]) == (21, 24, 6, 6, 45.0, 12.0)
    assert pd.isna(anchored["imo"]) and anchored["call_sign"] is None and pd.isna(anchored["ship_type"])
    assert (class_b["ais_class"], class_b["ship_type"], class_b["ship_name"], class_b["source"]) == ("B", 37, "SEA SPIRIT", "dma")
    assert (class_b["length_m"], class_b["beam_m"]) == (11.0, 3.0)


def test_dma_zip_like_the_download(tmp_path):
    path = write_zip(tmp_path / "aisdk-2023-03-18.zip", "aisdk-2023-03-18.csv", DMA_HEADER + "\n" + DMA_ROWS[0] + "\n")
    df, counts = archives.read_archive(str(path), "dma", DMA_DAY, [SKAGERRAK])
    assert counts["positions_kept"] == 1 and df.loc[0, "mmsi"] == 219000873


@pytest.fixture
def http_root(tmp_path):
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.mark.parametrize("name", ["AIS_2022_06_20.zip", "ais-2022-06-20.csv.zst"])
def test_archives_are_read_from_urls(http_root, name):
    root, url = http_root
    if name.endswith(".zip"):
        write_zip(root / name, "AIS_2022_06_20.csv", noaa_text())
    else:
        write_zst(root / name, noaa_2025_text())
    df, counts = archives.read_archive(f"{url}/{name}", "noaa", DAY, [GALVESTON])
    assert drops(counts) == NOAA_DROPS and len(df) == counts["positions_kept"] == 4


def test_config_picks_the_archive_inside_its_range_and_landing_files_outside(tmp_path, shipped_config):
    (tmp_path / "AIS_2022_06_20.csv").write_text(noaa_text())
    entry = {"format": "noaa", "start_date": "2022-06-01", "end_date": "2022-06-30",
             "location": str(tmp_path / "AIS_{date:%Y_%m_%d}.csv")}
    cfg = load_config(shipped_config, {"SHIPCHIPS__AIS__ARCHIVES": json.dumps([entry])})
    storage = LocalStorage(tmp_path / "root")
    counts, origin = archives.build_day(storage, cfg.ais, DAY, [GALVESTON], tmp_path / "day.parquet")
    df = AisDataset(tmp_path / "day.parquet").frame()
    assert origin == str(tmp_path / "AIS_2022_06_20.csv") and set(df["source"]) == {"noaa"} and len(df) == 4
    outside = date(2022, 7, 1)
    meta = {"MMSI": 367596940, "MMSI_String": "367596940", "ShipName": "", "latitude": 29.3, "longitude": -94.8,
            "time_utc": "2022-07-01 10:00:00.000000000 +0000 UTC"}
    body = {"UserID": 367596940, "Latitude": 29.3, "Longitude": -94.8, "Sog": 1.0, "Cog": 10.0, "TrueHeading": 10,
            "NavigationalStatus": 0, "Timestamp": 0, "Valid": True}
    storage.write_bytes("ais/20220701/aisstream-1-000000.jsonl", json.dumps(
        {"MessageType": "PositionReport", "MetaData": meta, "Message": {"PositionReport": body}}).encode() + b"\n")
    counts, origin = archives.build_day(storage, cfg.ais, outside, [GALVESTON], tmp_path / "day.parquet")
    df = AisDataset(tmp_path / "day.parquet").frame()
    assert origin == "ais/20220701" and set(df["source"]) == {"aisstream"} and counts["messages_read"] == 1


@pytest.mark.parametrize("archives_yaml, key", [
    ('[{format: csv, location: "x{date:%Y}"}]', "ais.archives[0].format"),
    ('[{start_date: "2022-02-30", location: "x{date:%Y}"}]', "ais.archives[0].start_date"),
    ('[{start_date: "2022-01-02", end_date: "2022-01-01", location: "x{date:%Y}"}]', "ais.archives[0].end_date"),
    ('[{start_date: "2022-01-01", end_date: "2022-01-09", location: "/data/day.csv"}]', "ais.archives[0].location"),
    (('[{start_date: "2022-01-01", end_date: "2022-01-09", location: "x{date:%j}"}, '
      '{start_date: "2022-01-09", end_date: "2022-01-10", location: "y{date:%j}"}]'), "ais.archives[1]"),
])
def test_bad_archive_config_names_the_key(shipped_config, archives_yaml, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(shipped_config, {"SHIPCHIPS__AIS__ARCHIVES": archives_yaml})


@pytest.mark.parametrize("content, fmt, needle", [
    ("MMSI,Time,Lat\n1,2,3\n", "noaa", "header is not a noaa header"),
    (NOAA_HEADER + "\n" + NOAA_ROWS[0].replace("367596940", "36759X940") + "\n", "noaa", "36759X940"),
    (noaa_text(), "dma", "header is not a dma header"),
    (noaa_text(), "marinetraffic", "unknown format"),
])
def test_a_bad_file_gives_an_error_naming_it(tmp_path, content, fmt, needle):
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_text(content)
    with pytest.raises(archives.ArchiveError, match=needle) as info:
        archives.read_archive(str(path), fmt, DAY, [GALVESTON])
    assert str(path) in str(info.value)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    missing = tmp_path / "AIS_2022_06_21.zip"
    with pytest.raises(archives.ArchiveError, match=str(missing)):
        archives.read_archive(str(missing), "noaa", DAY, [GALVESTON])
    corrupt = tmp_path / "AIS_2022_06_20.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(archives.ArchiveError, match=str(corrupt)):
        archives.read_archive(str(corrupt), "noaa", DAY, [GALVESTON])
    two = write_zip(tmp_path / "two.zip", "a.csv", noaa_text())
    with zipfile.ZipFile(two, "a") as zf:
        zf.writestr("b.csv", noaa_text())
    with pytest.raises(archives.ArchiveError, match="one CSV inside"):
        archives.read_archive(str(two), "noaa", DAY, [GALVESTON])


def test_a_stray_byte_in_a_name_does_not_fail_the_day(tmp_path):
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_bytes(noaa_text(NOAA_ROWS[:1]).replace("SEA STAR", "SEA ST\xc3R").encode("latin-1"))
    df, _ = archives.read_archive(str(path), "noaa", DAY, [GALVESTON])
    assert df.loc[0, "ship_name"] == "SEA ST\ufffdR" and df.loc[0, "imo"] == 9869693


def test_an_empty_day_is_an_empty_typed_frame(tmp_path):
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_text(NOAA_HEADER + "\n")
    df, counts = archives.read_archive(str(path), "noaa", DAY, [GALVESTON])
    assert df.empty and counts["rows_read"] == 0
    schemas.validate("ais_snapshots", df)


def test_bom_and_crlf_like_windows_exports(tmp_path):
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_bytes(b"\xef\xbb\xbf" + noaa_text(NOAA_ROWS[:1]).replace("\n", "\r\n").encode())
    df, _ = archives.read_archive(str(path), "noaa", DAY, [GALVESTON])
    assert len(df) == 1 and df.loc[0, "mmsi"] == 367596940 and df.loc[0, "ais_class"] == "A"


def test_the_input_is_streamed_in_blocks(tmp_path, monkeypatch):
    """A day larger than one block is read batch by batch: memory holds one block and the kept rows."""
    rows = [NOAA_ROWS[0].replace("00:00:04", f"{h:02d}:{m:02d}:{s:02d}") for h in range(3) for m in range(60) for s in (0, 30)]
    path = tmp_path / "AIS_2022_06_20.csv"
    path.write_text(noaa_text(rows))
    batches = []
    monkeypatch.setattr(archives, "BLOCK_BYTES", 16 << 10)
    real = archives.canonical
    def counted(b, layout, fields):  # the positions' conversion: every kept row, batch by batch
        if "lat" in fields:
            batches.append(b.num_rows)
        return real(b, layout, fields)

    monkeypatch.setattr(archives, "canonical", counted)
    df, counts = archives.read_archive(str(path), "noaa", DAY, [GALVESTON])
    assert len(batches) >= 3 and sum(batches) == len(rows) == counts["rows_read"]
    assert counts["positions_kept"] == len(df) == len(rows)
