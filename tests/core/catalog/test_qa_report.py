"""The daily QA report: summary row, self-contained escaped HTML, figures, empty days, determinism."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from shipchips_core.catalog.qa_report import build_qa_report
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage

DAY = date(2024, 5, 1)
EVIL = "<script>alert('x')</script>"
FOOTPRINT = "POLYGON ((3.5 51.5, 5.0 51.5, 5.0 52.5, 3.5 52.5, 3.5 51.5))"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A schema-valid table from partial rows: missing columns are NULL, dtypes follow the schema."""
    empty = schemas.empty_frame(table)
    df = pd.DataFrame(rows, columns=list(empty.columns)).astype(empty.dtypes.to_dict())
    return schemas.validate(table, df)


def ais_frame() -> pd.DataFrame:
    rows = []
    for mmsi, name, lon0 in [(211000001, EVIL, 4.0), (211000002, "BRAVO", 4.2)]:
        for i in range(3):
            rows.append({"mmsi": mmsi, "time_utc": ts(f"2024-05-01T10:{20 + 5 * i}:00"), "lat": 52.0 + 0.01 * i,
                         "lon": lon0 + 0.01 * i, "msg_type": "PositionReport", "ais_class": "A", "source": "test",
                         "ship_name": name, "ship_type": 70})
    return frame("ais_snapshots", rows[:5])  # 5 positions of 2 vessels


def plan_frame() -> pd.DataFrame:
    def row(i: int, mmsi: int, status: str) -> dict:
        return {"plan_id": f"plan{i:012d}", "mmsi": mmsi, "expected_overpass": ts("2024-05-01T10:30"),
                "overpass_source": "catalogue_history", "mgrs_tile": "31UFT", "window_start": ts("2024-04-30T10:30"), "window_end": ts("2024-05-02T10:30"),
                "first_fix_time": ts("2024-05-01T10:20"), "last_fix_time": ts("2024-05-01T10:30"),
                "lon": 4.0, "lat": 52.0, "n_fixes": 3, "status": status}
    return frame("acquisition_plan", [row(1, 211000001, "matched"), row(2, 211000002, "matched"),
                                      row(3, 211000002, "cloudy")])


def scenes_frame() -> pd.DataFrame:
    def row(scene_id: str, status: str, cloud: float, reason=None, **radiometry) -> dict:
        return {"scene_id": scene_id, "collection": "sentinel-2-l2a", "datetime": ts("2024-05-01T10:31"),
                "radiometry_rule": "dn_div_10000", "cloud_cover": cloud, "footprint_wkt": FOOTPRINT,
                "status": status, "reason": reason, **radiometry}
    # its flag lies (false, pixels shifted): the pixels' rule is applied
    lie = {"boa_offset_applied": False, "metadata_rule": "dn_minus_1000_div_10000", "pixel_offset_in_dn": False,
           "radiometry_verdict": "contradicts", "radiometry_evidence": "water SCL 6: nir n=900 p25=81 DN: shifted"}
    return frame("s2_scene_metadata", [row("S2A_OK", "ok", 3.5, **lie), row("S2B_BAD", "invalid", 80.0, "<bad> & cloudy")])


def chip(tile_id: str, status: str, reason=None, **overrides) -> dict:
    row = {
        "tile_id": tile_id, "mmsi": 211000001, "scene_id": "S2A_OK", "collection": "sentinel-2-l2a",
        "acq_time": ts("2024-05-01T10:31"), "split": "train", "lon": 4.01, "lat": 52.01, "epsg": 32631,
        "x_utm": 600000.0, "y_utm": 5760000.0, "interp_method": "linear", "uncertainty_m": 15.0,
        "valid_fraction": 1.0, "cloud_fraction": 0.1, "land_fraction": 0.0, "water_fraction": 0.9,
        "edge_padded": False, "radiometry_rule": "dn_div_10000", "bands": "B02,B03,B04,B08",
        "status": status, "reason": reason,
    }
    if status == "ok":
        row |= {"tif_path": f"chips/{tile_id}.tif", "meta_path": f"chips/{tile_id}.json",
                "label_path": f"labels/{tile_id}.json", "quicklook_path": f"chips/{tile_id}_quicklook.jpg",
                "mask_path": f"chips/{tile_id}_masks.tif"}
    row.update(overrides)
    return row


def chips_frame() -> pd.DataFrame:
    return frame("chips", [
        chip("0000000000000001", "ok", uncertainty_m=12.0),
        chip("0000000000000002", "ok", mmsi=211000002, uncertainty_m=40.0, water_fraction=0.5),
        chip("0000000000000003", "ok", mmsi=211000002),  # its quicklook is never written
        chip("0000000000000004", "dropped", "low_valid_fraction", valid_fraction=0.2),
        chip("0000000000000005", "dropped", "low_valid_fraction", valid_fraction=0.1),
        chip("0000000000000006", "failed", "read_error", valid_fraction=None, cloud_fraction=None),
        chip("0000000000000007", "dropped", None),
    ])


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    st = LocalStorage(tmp_path / "root")
    rng = np.random.default_rng(0)
    for tile_id in ("0000000000000001", "0000000000000002"):
        path = st.path(f"chips/{tile_id}_quicklook.jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path, format="JPEG")
    return st


def build(storage, chips=None, scenes=None, **kwargs) -> tuple[pd.DataFrame, str]:
    summary = build_qa_report(
        DAY, ais=ais_frame(), plan=plan_frame(), scenes=scenes_frame() if scenes is None else scenes,
        chips=chips_frame() if chips is None else chips, storage=storage, **kwargs,
    )
    return summary, storage.path(summary["report_path"].iloc[0]).read_text(encoding="utf-8")


def test_summary_row(storage):
    summary, _ = build(storage, drop_counts={"ais_invalid_position": 4, "zero": 0})
    schemas.validate("qa_summary", summary)
    row = summary.iloc[0].to_dict()
    assert {k: v for k, v in row.items() if k.startswith("n_")} == {
        "n_ais_positions": 5, "n_vessels": 2, "n_plan_rows": 3, "n_scenes": 2, "n_scenes_invalid": 1,
        "n_chip_attempts": 7, "n_chips": 3, "n_dropped": 3, "n_failed": 1,
    }
    assert json.loads(row["drop_reasons_json"]) == {
        "ais_invalid_position": 4, "low_valid_fraction": 2, "read_error": 1, "unspecified": 1,
    }
    assert list(json.loads(row["drop_reasons_json"])) == sorted(json.loads(row["drop_reasons_json"]))
    assert row["report_path"] == "QA/reports/2024-05-01.html"


def test_html_content(storage):
    _, html = build(storage)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for label, n in [("AIS positions", 5), ("Vessels (AIS)", 2), ("Plan rows: matched", 2), ("Plan rows: cloudy", 1),
                     ("Scenes ok", 1), ("Scenes invalid", 1), ("Chips ok", 3), ("Chips dropped", 3),
                     ("Chips failed", 1)]:
        assert f'<th>{label}</th><td class="num">{n}</td>' in html
    assert html.count('<img alt="') == html.count('src="data:image/png;base64,') == 4  # map, histograms, sheet, funnel
    assert "low_valid_fraction" in html and "read_error" in html
    assert "S2A_OK" in html and "dn_div_10000" in html and "3.5" in html
    quality = html.split("<h2>Data quality</h2>")[1]
    assert "1 scene(s) checked on their dark pixels: 0 agree with their metadata, 1 contradict it" in quality
    assert "<td>S2A_OK</td><td>sentinel-2-l2a</td><td>no</td><td>dn_minus_1000_div_10000</td><td>contradicts</td>" \
           "<td>dn_div_10000</td><td>water SCL 6: nir n=900 p25=81 DN: shifted</td>" in quality
    assert "chips/0000000000000003_quicklook.jpg" in html  # the missing quicklook is noted
    assert "http://" not in html and "https://" not in html  # self-contained


def test_data_strings_are_escaped(storage):
    _, html = build(storage)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;bad&gt; &amp; cloudy" in html


def test_zero_chips_and_zero_scenes(storage):
    summary, html = build(storage, chips=schemas.empty_frame("chips"), scenes=schemas.empty_frame("s2_scene_metadata"))
    row = summary.iloc[0]
    assert (row["n_chips"], row["n_chip_attempts"], row["n_scenes"]) == (0, 0, 0)
    assert row["drop_reasons_json"] == "{}"
    assert "No chip attempts for this day" in html and "No scenes were found for this day" in html
    assert html.count('src="data:image/png;base64,') == 2  # the map of the AIS tracks and the funnel


def test_completely_empty_day(tmp_path):
    storage = LocalStorage(tmp_path)
    summary = build_qa_report("2024-05-02", ais=schemas.empty_frame("ais_snapshots"),
                              plan=schemas.empty_frame("acquisition_plan"),
                              scenes=schemas.empty_frame("s2_scene_metadata"), chips=schemas.empty_frame("chips"),
                              storage=storage)
    html = storage.path("QA/reports/2024-05-02.html").read_text()
    assert summary.iloc[0]["n_ais_positions"] == 0
    assert "Nothing to map" in html and "data:image/png" not in html and html.rstrip().endswith("</html>")


def test_report_is_byte_identical_across_runs(storage):
    _, first = build(storage)
    _, second = build(storage)
    assert first == second
