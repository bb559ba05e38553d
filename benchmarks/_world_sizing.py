"""`world_day`'s figures: per item measured, the world's day and a year of backfill projected from
them, the consistency checks (PASS/FAIL), and the printed report.

Projection: the fleet simulated is a random `scale` sample of the world's, so a stage's items scale
by world vessels / simulated vessels (and AIS messages by 24 h / hours simulated), and its CPU by its
measured CPU seconds per item. Matching is projected per pair as paired here: `candidate_pairs` pairs
a vessel only with the scenes in its window whose footprint its track can reach (`matching.reach`), so
the pairs grow with the scenes around each vessel, not with the day's scenes (see the README).
"""

from __future__ import annotations

import io
import json
import os
import platform
from pathlib import Path

from benchmarks._verdict import target_lines

STAGES = ("collection", "cleaning", "planning", "scenes", "matching", "chipping")
DAY_S, YEAR_DAYS, GB, TB = 86_400, 365, 1e9, 1e12
CHIP_REPORT = "report-s2l2a-10980px-1000ships-seed20260615-v1.json"  # chip_throughput's full-size run


def machine_facts(load_start: tuple, load_end: tuple) -> dict:
    model = ""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "load_start": [round(x, 2) for x in load_start], "load_end": [round(x, 2) for x in load_end]}


def chip_network(cache: Path) -> dict | None:
    """HTTP bytes and requests per chip of the full-size scene (10980² Earth-Search-shaped COGs), from
    chip_throughput's last report when there is one: the twin's 2048² granules are not that shape."""
    path = cache / CHIP_REPORT
    if not path.exists():
        return None
    project = json.loads(path.read_text())["figures"]["http_per_chip"]["project"]
    return {"bytes_per_chip": project["bytes"], "requests_per_chip": project["requests"], "source": str(path)}


def per_item(stages: dict) -> dict:
    for s in stages.values():
        n = max(s["items"], 1)
        s["items_per_s"] = s["items"] / s["wall_s"] if s["wall_s"] > 0 else None
        s["cpu_ms_per_item"] = 1000 * s["cpu_s"] / n
        s["bytes_per_item"] = s["bytes"] / n
    return stages


def project(stages: dict, facts: dict, spec, network: dict | None) -> dict:
    k = spec.world_vessels / facts["vessels"]
    per_day = {name: k * (24 / spec.hours if name in ("collection", "cleaning") else 1.0) for name in STAGES}
    world = {}
    for name in STAGES:
        s = stages[name]
        if name == "scenes":  # the twin's granules are not a sample of the world's scenes: not projected
            world[name] = {"items": None, "cpu_s": None, "bytes": 0.0}
            continue
        items = s["items"] * per_day[name]
        world[name] = {"items": items, "cpu_s": items * s["cpu_ms_per_item"] / 1000,
                       "bytes": s["bytes"] * per_day[name]}
    chips = stages["chipping"]["ok"] * per_day["chipping"]
    cpu_day = sum(w["cpu_s"] for n, w in world.items() if n != "scenes")  # scenes: a network-bound search
    backfill_cpu = cpu_day - world["collection"]["cpu_s"]  # a backfill reads archives, not the live feed
    stored_day = world["cleaning"]["bytes"] + world["chipping"]["bytes"] + world["planning"]["bytes"]
    out = {
        "vessels": spec.world_vessels, "factor": k, "stages": world, "chips_per_day": chips,
        "messages_per_day": world["collection"]["items"], "messages_per_s": world["collection"]["items"] / DAY_S,
        "cpu_s_per_day": cpu_day, "cores_realtime": cpu_day / DAY_S,
        "landing_bytes_per_day": world["collection"]["bytes"], "stored_bytes_per_day": stored_day,
        "backfill_core_hours_per_year": YEAR_DAYS * backfill_cpu / 3600,
        "stored_bytes_per_year": YEAR_DAYS * stored_day,
        "landing_bytes_per_year": YEAR_DAYS * world["collection"]["bytes"],
        "chip_files_per_day": stages["chipping"]["files"] * per_day["chipping"],
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
    }
    if network:
        out["cog_read_bytes_per_day"] = chips * network["bytes_per_chip"]
        out["cog_get_requests_per_day"] = chips * network["requests_per_chip"]
    return out


def checks(stages: dict, facts: dict) -> list[dict]:
    c, m, ch, p = stages["cleaning"], stages["matching"], stages["chipping"], stages["planning"]

    def check(name, ok, value, target):
        return {"name": name, "pass": bool(ok), "value": value, "target": target, "fmt": "{}"}

    return [
        check("collection landed every message of the day", stages["collection"]["items"] == facts["messages"],
              stages["collection"]["items"], facts["messages"]),
        check("cleaning read every landed message", c["items"] == facts["messages"], c["items"], facts["messages"]),
        check("cleaning kept every position (areas: the world)", c["rows_out"] == facts["positions"],
              c["rows_out"], facts["positions"]),
        check("planning: one plan row per vessel", p["items"] == facts["vessels"], p["items"], facts["vessels"]),
        check("chips ok <= ok candidates <= candidate pairs", ch["ok"] <= m["ok"] <= m["items"],
              f"{ch['ok']}/{m['ok']}/{m['items']}", "non-decreasing"),
        check("chip attempts <= candidate pairs (those placed in their scene)", ch["items"] <= m["items"],
              ch["items"], f"<= {m['items']}"),
        check("vessels with an ok candidate <= plan rows", m["vessels_ok"] <= p["items"], m["vessels_ok"],
              f"<= {p['items']}"),
        check("chips cut (a vessel under the overpass gets one)", ch["ok"] > 0 or facts["under_overpass"] == 0,
              ch["ok"], "> 0"),
        check("chipping ran on the cluster (driver + 2 worker processes at least)", ch["processes"] >= 3,
              ch["processes"], ">= 3"),
        check("bytes written by collection, cleaning and chipping",
              min(stages[s]["bytes"] for s in ("collection", "cleaning", "chipping")) > 0,
              min(stages[s]["bytes"] for s in ("collection", "cleaning", "chipping")), "> 0"),
    ]


def build_report(stages: dict, facts: dict, spec, machine: dict, cluster_start: dict, network: dict | None) -> dict:
    stages = per_item(stages)
    return {"spec": facts["spec"], "fleet": facts, "machine": machine, "cluster_start": cluster_start,
            "stages": stages, "network": network, "world": project(stages, facts, spec, network),
            "targets": checks(stages, facts)}


# ---- text -----------------------------------------------------------------------------------------
def _n(value, fmt="{:,.0f}"):
    return "—" if value is None else fmt.format(value)


def format_report(r: dict) -> str:
    out, f, w, mach = io.StringIO(), r["fleet"], r["world"], r["machine"]
    p = lambda line="": print(line, file=out)  # noqa: E731
    p(f"world day: {f['vessels']:,} vessels simulated of {r['spec']['world_vessels']:,} "
      f"(scale {r['spec']['scale']:g}), "
      f"{r['spec']['hours']:g} h, {f['messages']:,} messages ({f['positions']:,} positions, {f['class_a']:,} class A); "
      f"{f['under_overpass']:,} under a Sentinel-2 overpass (fleet share {f['fleet_share']:.3f})")
    p(f"machine: {mach['cpus']} CPUs ({mach['cpu_model']}), load average {mach['load_start']} at start, "
      f"{mach['load_end']} at end; cluster start {r['cluster_start']['wall_s']:.1f} s")
    p()
    p(f"{'stage':<12}{'items':>10}{'unit':>10}{'wall s':>9}{'items/s':>11}{'CPU s':>8}{'CPU ms/item':>13}"
      f"{'peak RSS MB':>13}{'procs':>6}{'bytes written':>15}")
    for name in STAGES:
        s = r["stages"][name]
        p(f"{name:<12}{s['items']:>10,}{s['unit']:>10}{s['wall_s']:>9.2f}{_n(s['items_per_s'], '{:,.1f}'):>11}"
          f"{s['cpu_s']:>8.2f}{s['cpu_ms_per_item']:>13.4f}{s['peak_rss_mb']:>13,.0f}{s['processes']:>6}"
          f"{s['bytes']:>15,}")
    m, ch = r["stages"]["matching"], r["stages"]["chipping"]
    p(f"matching: {m['statuses']}; chipping: {ch['statuses']} ({ch['files']} files)")
    p("CPU = the process tree's (driver, STAC twin thread, Dask workers); RSS = the tree's summed peak")
    p()
    p(f"projected to {w['vessels']:,} vessels (x{w['factor']:,.1f}), one day "
      "(measured CPU per item x the world's items):")
    for name in STAGES:
        s = w["stages"][name]
        if s["items"] is None:
            p(f"  {name:<12}{'not projected':>22}  (the twin's granules are not a sample of the world's scenes)")
            continue
        p(f"  {name:<12}{s['items']:>16,.0f} items{s['cpu_s'] / 3600:>10,.2f} core-h{s['bytes'] / GB:>10,.2f} GB")
    p(f"  {w['messages_per_day']:,.0f} messages ({w['messages_per_s']:,.0f} msg/s), {w['chips_per_day']:,.0f} chips; "
      f"CPU {w['cpu_s_per_day'] / 3600:,.1f} core-h/day = {w['cores_realtime']:.2f} cores in real time")
    p(f"  stored {w['stored_bytes_per_day'] / GB:,.1f} GB/day (parquet + plan + chips), landing files "
      f"{w['landing_bytes_per_day'] / GB:,.1f} GB/day; COG reads "
      + (f"{w['cog_read_bytes_per_day'] / GB:,.1f} GB/day in {w['cog_get_requests_per_day']:,.0f} GETs"
         if "cog_read_bytes_per_day" in w else "— (run benchmarks.chip_throughput for bytes per chip)"))
    p(f"  a year of backfill: {w['backfill_core_hours_per_year']:,.0f} core-h, "
      f"{w['stored_bytes_per_year'] / TB:,.2f} TB on S3 "
      f"(+ {w['landing_bytes_per_year'] / TB:,.2f} TB if landing files are kept)")
    p()
    for line in target_lines(r["targets"]):
        p(line)
    p(f"report JSON: {r.get('json_path', '')}")
    return out.getvalue()
