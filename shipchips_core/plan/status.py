"""A plan row's life cycle: `pending` until its day is chipped, then matched / no_scene / cloudy /
out_of_frame / expired, decided by what matching and chipping found for its candidates."""

from __future__ import annotations

import pandas as pd


# chip outcomes that say the ship was outside the usable image, or under cloud
OUT_OF_FRAME = {"outside_footprint", "too_much_nodata", "nodata_at_centre"}
CLOUDY = {"too_cloudy", "cloud_at_centre"}


def resolve_plan(plan: pd.DataFrame, candidates: pd.DataFrame, chips: pd.DataFrame) -> pd.DataFrame:
    """The plan with each row's status after matching and chipping, and why.

    matched: at least one chip written; no_scene: no scene in the window; cloudy: every attempt
    was clouded out; out_of_frame: the ship was outside the footprint or valid pixels; expired:
    the window passed with no usable chip for any other reason (no position, too uncertain, land,
    a failure) — the reasons are listed in `status_reason`.
    """
    out = plan.copy()
    outcomes = _candidate_outcomes(candidates, chips)
    by_plan = outcomes.groupby("plan_id")["outcome"].agg(lambda s: sorted(set(s))).to_dict()
    resolved = [_status(by_plan.get(pid)) for pid in out["plan_id"]]
    out["status"] = [s for s, _ in resolved]
    out["status_reason"] = pd.Series([r for _, r in resolved], dtype=object, index=out.index)
    return out


def _candidate_outcomes(candidates: pd.DataFrame, chips: pd.DataFrame) -> pd.DataFrame:
    """One outcome per candidate: its chip's status/reason, or the reason it was never attempted."""
    if candidates.empty:
        return pd.DataFrame({"plan_id": pd.Series(dtype=object), "outcome": pd.Series(dtype=object)})
    keys = ["mmsi", "collection", "scene_id"]
    chip_outcome = chips.assign(outcome=chips["reason"].where(chips["status"] != "ok", "ok"))[[*keys, "outcome"]]
    merged = candidates[["plan_id", *keys, "match_status"]].merge(chip_outcome, on=keys, how="left")
    merged["outcome"] = merged["outcome"].fillna(merged["match_status"])
    return merged[["plan_id", "outcome"]]


def _status(outcomes: list[str] | None) -> tuple[str, str | None]:
    if not outcomes:
        return "no_scene", "no scene within the window under the cloud limit"
    if "ok" in outcomes:
        return "matched", None
    reason = "; ".join(outcomes)
    if set(outcomes) <= CLOUDY:
        return "cloudy", reason
    if set(outcomes) <= OUT_OF_FRAME | CLOUDY:
        return "out_of_frame", reason
    return "expired", reason
