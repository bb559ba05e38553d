"""A partition's re-run leaves exactly the files its tables point at; stale temporaries go too."""

import dataclasses
import os
import subprocess
import sys
import time
from datetime import date

import pandas as pd

from shipchips_core.catalog import tile_index as index
from shipchips_core.chips.cleanup import STALE_TEMPORARY_S, remove_orphans
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config
from shipchips_core.dataset.storage import LocalStorage

DAY = date(2026, 6, 15)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _touch(storage, rel, data=b"x", age_s=0.0):
    path = storage.path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return rel


def _chips_table(*tile_rels):
    return pd.DataFrame({"tile_id": [f"t{i}" for i in range(len(tile_rels))], "status": "ok",
                         "tif_path": [r + ".tif" for r in tile_rels], "mask_path": [r + "_masks.tif" for r in tile_rels],
                         "quicklook_path": [None] * len(tile_rels), "meta_path": [r + ".json" for r in tile_rels],
                         "label_path": [r.replace("chips/", "labels/") + "_label.json" for r in tile_rels]})


def test_unreferenced_files_and_dead_writers_temporaries_go_the_rest_stays(tmp_path):
    storage = LocalStorage(tmp_path)
    kept = "chips/train/244000001/2026-06-15/aaaa"
    gone = "chips/val/244000002/2026-06-15/bbbb"
    for rel in (kept, gone):
        for suffix in (".tif", "_masks.tif", ".json"):
            _touch(storage, rel + suffix)
        _touch(storage, rel.replace("chips/", "labels/") + "_label.json")
    other_day = _touch(storage, "chips/train/244000001/2026-06-14/cccc.tif")  # another partition's
    dead, me = _dead_pid(), os.getpid()
    stale = _touch(storage, f"chips/train/244000001/2026-06-15/.aaaa.tif.{dead}.1.3.tmp")
    table_tmp = _touch(storage, f"tables/chips/date=2026-06-15/.part-0.parquet.{dead}.1.0.tmp")
    index_tmp = _touch(storage, f"indexes/tiles.parquet/date=2026-06-15/.part-0.parquet.{dead}.1.0.tmp")
    report_tmp = _touch(storage, f"QA/reports/.2026-06-15.html.{dead}.1.0.tmp")
    other_report_tmp = _touch(storage, f"QA/reports/.2026-06-14.html.{dead}.1.0.tmp")
    live = _touch(storage, f"chips/train/244000001/2026-06-15/.aaaa.json.{me}.1.9.tmp")
    old_live = _touch(storage, f"chips/train/244000001/2026-06-15/.aaaa_masks.tif.{me}.1.8.tmp", age_s=STALE_TEMPORARY_S + 5)
    chips = _chips_table(kept)
    tiles = chips[["tile_id", "tif_path", "meta_path", "label_path"]]

    done = remove_orphans(storage, DAY, chips, tiles)

    assert sorted(done.orphans) == sorted([gone + ".tif", gone + "_masks.tif", gone + ".json",
                                           gone.replace("chips/", "labels/") + "_label.json"])
    assert sorted(done.temporaries) == sorted([stale, table_tmp, index_tmp, report_tmp, old_live])
    assert done.kept_live_temporaries == [live]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted([other_day, other_report_tmp, live, *(kept + s for s in (".tif", "_masks.tif", ".json")),
                           kept.replace("chips/", "labels/") + "_label.json"])
    assert not storage.path("chips/val/244000002/2026-06-15").exists()  # the emptied day folder


def test_a_file_either_table_still_references_is_kept(tmp_path):
    """Run before the tile index is rewritten, the old index's files stay (no row ever loses its file)."""
    storage = LocalStorage(tmp_path)
    new, old = "chips/train/1/2026-06-15/new", "chips/train/1/2026-06-15/old"
    for rel in (new, old):
        _touch(storage, rel + ".tif")
    done = remove_orphans(storage, DAY, _chips_table(new), _chips_table(old)[["tif_path"]])
    assert done.orphans == [] and storage.exists(old + ".tif") and storage.exists(new + ".tif")


def test_a_stricter_rerun_leaves_only_files_with_an_index_row(tmp_path, twin_world, catalog_items, stac_api):
    from shipchips_core.sentinel2.search import scene_rows
    from tests.core.chips.test_job import _candidates, _lane_points, _publish

    item = next(i for i in catalog_items if i["properties"]["datetime"].startswith("2026-06-15")
                and "31UES" in i["id"] and i["collection"] == "sentinel-2-c1-l2a")
    scenes = scene_rows([_publish(item, stac_api.url)])
    points = _lane_points(twin_world, scenes, 9)
    storage = LocalStorage(tmp_path)
    loose = Config()
    strict = dataclasses.replace(loose, chips=dataclasses.replace(loose.chips, quicklook=False, gating=dataclasses.replace(
        loose.chips.gating, max_nodata_fraction=0.0, max_centre_land_fraction=0.0, max_land_fraction=0.0)))
    candidates = _candidates(twin_world, scenes, points)
    candidates.loc[candidates.index[::2], "match_status"] = "uncertainty_too_high"  # half never chipped the 2nd time

    first, _ = cut_partition(ChipJob(storage, DAY, loose), _candidates(twin_world, scenes, points), scenes, pd.DataFrame())
    assert (first.status == "ok").sum() == 9
    for i in range(2):  # a killed run's leftovers: hidden temporaries of a writer that is gone
        _touch(storage, f"{first.tif_path.iloc[i].rsplit('/', 1)[0]}/.x{i}.tif.{_dead_pid()}.1.{i}.tmp")
    second, _ = cut_partition(ChipJob(storage, DAY, strict), candidates, scenes, pd.DataFrame())
    ais = pd.DataFrame({"mmsi": pd.Series(dtype="int64"), "time_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                        "ship_name": [], "ship_type": [], "length_m": [], "beam_m": []})
    tiles = index.build_tile_index(second, scenes, ais)
    assert 0 < len(tiles) < 9

    done = remove_orphans(storage, DAY, second, tiles)

    indexed = {p for col in ("tif_path", "meta_path", "label_path") for p in tiles[col]}
    indexed |= {p for col in ("mask_path",) for p in second.loc[second.status == "ok", col]}
    on_disk = {p.relative_to(tmp_path).as_posix() for tree in ("chips", "labels") for p in (tmp_path / tree).rglob("*")
               if p.is_file()}
    assert on_disk == indexed  # every file has its row, every row its file
    assert len(done.temporaries) == 2 and not [p for p in on_disk if "/." in p]
    # the first run's chips the second did not make lost all their files; the kept ones their quicklook
    orphan_tiles = {p.rsplit("/", 1)[1].split(".")[0].split("_")[0] for p in done.orphans}
    assert orphan_tiles == set(first.tile_id)
    assert {p for p in done.orphans if p.endswith("_quicklook.jpg")} == set(first.quicklook_path)
