"""The latest facts of each vessel of a day: the one place chips, the tile index and the QA report get them.

Cleaning joins the latest static data of each MMSI to every one of its positions, so the day's last
report of a vessel carries its latest static facts (and its last navigational status). The size
facts pass `fact_limits.check_static` here: what no ship can be is nulled (`dropped_facts` says
which and why), and where A/B/C/D and a reported Length/Width disagree, `size_check` keeps both
and says which was used.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from shipchips_core.ais import fact_limits

VESSEL_FIELDS = (
    "ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d", "length_m", "beam_m",
    "nav_status",
)
# added by the limits: {fact: reason} nulled, and {"length"/"beam": fact_limits.SizeCheck.as_dict()}
CHECK_FIELDS = ("dropped_facts", "size_check")
REPORTED = ("reported_length_m", "reported_beam_m")


def latest_vessel_facts(ais: pd.DataFrame) -> pd.DataFrame:
    """One row per MMSI (sorted): `mmsi`, `VESSEL_FIELDS` from the vessel's last report of the day
    (sizes within `fact_limits`, dims None where the oriented box must not be drawn from them) and
    `CHECK_FIELDS`."""
    if ais.empty:
        return pd.DataFrame(columns=["mmsi", *VESSEL_FIELDS, *CHECK_FIELDS])
    last = ais.sort_values(["mmsi", "time_utc"]).groupby("mmsi").tail(1).reset_index(drop=True)
    out = last[["mmsi", *VESSEL_FIELDS]].copy()
    # tables stored before the reported sizes were kept have no such columns: nothing was reported
    reported = {c: last[c] if c in last else pd.Series(float("nan"), index=last.index) for c in REPORTED}
    checks = [
        fact_limits.check_static(r.dim_a, r.dim_b, r.dim_c, r.dim_d, rl, rb)
        for r, rl, rb in zip(last.itertuples(index=False), reported["reported_length_m"], reported["reported_beam_m"])
    ]
    out["length_m"] = pd.array([c.length_m for c in checks], dtype="float64")
    out["beam_m"] = pd.array([c.beam_m for c in checks], dtype="float64")
    for dim in ("dim_a", "dim_b", "dim_c", "dim_d"):
        out[dim] = pd.array([c.dims[dim] for c in checks], dtype="Int64")
    out["dropped_facts"] = [c.dropped for c in checks]
    out["size_check"] = [{"length": c.length.as_dict(), "beam": c.beam.as_dict()} for c in checks]
    return out


def fact_counts(vessels: pd.DataFrame) -> Counter:
    """Per reason, the vessels with a fact nulled (`vessel_fact_nulled/<fact>/<reason>`), and the
    vessels whose two sizes disagree (`size_disagrees/<length|beam>/<decision>`)."""
    counts: Counter = Counter()
    for dropped, sizes in zip(vessels["dropped_facts"], vessels["size_check"]):
        counts.update(f"vessel_fact_nulled/{fact}/{reason}" for fact, reason in dropped.items())
        counts.update(f"size_disagrees/{k}/{s['decision']}" for k, s in sizes.items()
                      if s["decision"].startswith("disagree"))
    return counts
