"""The chip-throughput benchmark end to end on a tiny scene: every figure is there (no timing checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import chip_throughput

PHASES = ("naive", "project", "project_half", "project_parts", "project_read", "decode_floor", "decode_floor_tifffile")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    cache = tmp_path_factory.mktemp("bench-cache")
    return chip_throughput.main(["--size", "2048", "--chips", "30", "--naive-chips", "10", "--cache-dir", str(cache)])


def test_every_phase_measured(report):
    assert set(report["phases"]) == set(PHASES)
    for key in PHASES:
        phase = report["phases"][key]
        assert phase["n_chips"] > 0 and phase["seconds"] > 0, key
        assert phase["chips_per_s_per_core"] > 0, key
        assert phase["rss_mb"]["peak"] > 0, key
    assert report["phases"]["naive"]["n_chips"] == 10
    assert report["phases"]["project"]["n_chips"] == 30
    assert report["phases"]["project_half"]["n_chips"] == 15
    assert report["phases"]["project"]["statuses"].get("ok", 0) > 0  # real chips were cut and written


def test_every_figure_present(report):
    fig = report["figures"]
    for key in ("project_chips_per_s", "ratio_project_vs_naive", "ratio_read_vs_floor", "floor_vs_read_slowdown",
                "project_bytes_vs_touched", "rss_growth_half_to_full", "touched_blocks",
                "own_decoder_floor_vs_read_slowdown"):
        assert fig[key] is not None and fig[key] > 0, key
    for key in PHASES:
        assert fig["chips_per_s_per_core"][key] > 0, key
        assert fig["peak_rss_mb"][key] > 0, key
    for key in ("naive", "project"):
        assert fig["http_per_chip"][key]["requests"] > 0 and fig["http_per_chip"][key]["bytes"] > 0, key
    assert fig["touched_compressed_bytes"] > 0
    for key in ("project", "project_read"):  # fetched bytes located in the files' blocks
        parts = report["phases"][key]["http"]["breakdown"]
        assert parts["touched_first"] > 0 and parts["total"] == report["phases"][key]["http"]["bytes"], key
    parts = report["phases"]["project_parts"]["cpu_ms_per_ok_chip"]
    assert {"read", "read_threads", "masks", "cog", "masks_file", "quicklook", "json", "other"} <= set(parts)
    assert all(parts[k] > 0 for k in ("read", "read_threads", "cog", "masks_file", "json")), parts
    for key in ("naive", "project_read", "decode_floor", "decode_floor_tifffile"):  # CPU of the timed loops
        assert report["phases"][key]["timed_cpu_s"] > 0, key
    cpu = fig["cpu_ms_per_chip"]  # CPU per chip, client + server, for (a) and (b-parts)
    assert cpu["naive"] > 0 and cpu["project_parts"] > 0 and cpu["ratio"] == cpu["naive"] / cpu["project_parts"]
    assert all(report["phases"][k]["iowait_s"] >= 0 for k in PHASES)
    assert report["scene"]["new_page_us"] > 0 and report["scene"]["reused_page_us"] > 0  # the page cache's price
    assert report["scene"]["dropped_behind_page_us"] >= 0 and report["scene"]["kept_page_us"] >= 0
    project = report["phases"]["project"]  # how much of the chipper's files stayed cached (dropped behind it)
    assert 0 <= project["bytes_still_cached"] <= project["bytes_written"]
    reported = report["scene"]["reported_during_run_mb"]
    assert reported is None or reported >= 0
    assert len(report["targets"]) == 5 and all(isinstance(t["pass"], bool) for t in report["targets"])


def test_report_written_and_scene_cached(report):
    saved = json.loads(Path(report["json_path"]).read_text())
    assert saved["figures"]["touched_compressed_bytes"] == report["figures"]["touched_compressed_bytes"]
    root = Path(report["scene"]["root"])
    assert (root / "READY.json").exists() and len(json.loads((root / "ships.json").read_text())) == 30
    assert report["scene"]["generation_s"] > 0
