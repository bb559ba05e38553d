"""Sanity limits for the vessel facts a label carries: what AIS says that no ship can be is nulled, with a reason.

AIS static data is typed in by crews and often wrong (a length of 0 or 511 m, a beam wider than the
ship is long), and motion data carries its own "not available" codes and noise. Cleaning
(`clean.py`) already nulls values outside what the message fields can hold; the limits here are
about ships: they apply where a vessel's facts are taken for a label (`vessels.latest_vessel_facts`
for the static ones, `chips.documents.label_document` for the motion ones at the sensing instant).
Both functions are pure: facts in, cleaned facts and `{fact: reason}` out.

A source that reports the overall size beside the GNSS offsets (DMA: `Length`/`Width` and A/B/C/D)
can contradict itself. The offsets are preferred (they are what the transponder itself sends, and
the label's oriented box is drawn from them); the reported size is used when the offsets break the
limits and it does not. Both values and the decision are kept (`SizeCheck.as_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_LENGTH_M = 5.0  # below this, a buoy or a typo: no AIS-carrying ship is shorter
MAX_LENGTH_M = 460.0  # the longest ship ever built (Seawise Giant) was 458.5 m
MIN_BEAM_M = 2.0
MAX_BEAM_M = 80.0  # the widest hulls afloat (ULCS, VLCC) are ~60-70 m
HEADING_NOT_AVAILABLE = 511  # ITU-R M.1371 true heading "not available" (cleaning nulls it to NA)
MIN_SOG_FOR_COG_KN = 1.0  # below ~1 kn, GNSS jitter dominates: the course over ground points anywhere
SIZE_AGREEMENT_M = 1.0  # both sizes are whole metres: a 1 m difference is rounding, more is a contradiction

LENGTH_OUT_OF_RANGE = "length_out_of_range"
BEAM_OUT_OF_RANGE = "beam_out_of_range"
BEAM_EXCEEDS_LENGTH = "beam_exceeds_length"
DIMS_CONTRADICTED = "dims_contradict_reported_size"  # the reported size was used: the box from A/B/C/D is not drawn
HEADING_UNAVAILABLE = "heading_not_available"
COG_BELOW_MIN_SOG = "cog_below_min_sog"
REASONS = (LENGTH_OUT_OF_RANGE, BEAM_OUT_OF_RANGE, BEAM_EXCEEDS_LENGTH, DIMS_CONTRADICTED, HEADING_UNAVAILABLE,
           COG_BELOW_MIN_SOG)

# why a size was taken from where it was (`SizeCheck.decision`)
SIZE_DECISIONS = ("unknown", "dims_only", "reported_only", "agree", "disagree_dims_used", "disagree_reported_used",
                  "disagree_neither_in_limits")


@dataclass(frozen=True)
class SizeCheck:
    """One overall size (length or beam): both candidates, the one used and why."""

    from_dims_m: float | None  # A+B (length) or C+D (beam)
    reported_m: float | None  # the source's own Length / Width column
    source: str | None  # "dims", "reported", or None when neither is known
    decision: str  # one of SIZE_DECISIONS

    @property
    def value(self) -> float | None:
        return {"dims": self.from_dims_m, "reported": self.reported_m}.get(self.source or "")

    def as_dict(self) -> dict:
        return {"from_dims_m": self.from_dims_m, "reported_m": self.reported_m, "used": self.source,
                "decision": self.decision}


@dataclass(frozen=True)
class StaticFacts:
    """A vessel's size after the limits: `dims` are None unless the oriented box may be drawn from them."""

    length_m: float | None
    beam_m: float | None
    dims: dict[str, int | None]  # dim_a..dim_d
    dropped: dict[str, str]  # fact → reason
    length: SizeCheck
    beam: SizeCheck


def _known(value) -> float | None:
    """A positive finite number, else None (NaN, NA, None and 0, AIS's "not available", are unknown)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _within(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


def choose_size(from_dims, reported, low: float, high: float) -> SizeCheck:
    """Which of the two sizes to use: the offsets' sum unless it breaks [low, high] and the reported one does not."""
    dims, rep = _known(from_dims), _known(reported)
    if dims is None or rep is None:
        decision = "dims_only" if dims is not None else "reported_only" if rep is not None else "unknown"
        return SizeCheck(dims, rep, "dims" if dims is not None else "reported" if rep is not None else None, decision)
    if abs(dims - rep) <= SIZE_AGREEMENT_M:
        return SizeCheck(dims, rep, "dims", "agree")
    if _within(dims, low, high):
        return SizeCheck(dims, rep, "dims", "disagree_dims_used")
    if _within(rep, low, high):
        return SizeCheck(dims, rep, "reported", "disagree_reported_used")
    return SizeCheck(dims, rep, "dims", "disagree_neither_in_limits")


def _sum(x, y) -> float | None:
    """A+B or C+D; one offset 0 is legal (the antenna at the bow or the side), both 0 is "not available"."""
    a, b = _number(x), _number(y)
    if a is None or b is None or a < 0 or b < 0 or a + b <= 0:
        return None
    return a + b


def check_static(dim_a=None, dim_b=None, dim_c=None, dim_d=None, reported_length=None,
                 reported_beam=None) -> StaticFacts:
    """A vessel's length and beam (from A+B / C+D or the reported size) within the limits, else None with a reason."""
    length = choose_size(_sum(dim_a, dim_b), reported_length, MIN_LENGTH_M, MAX_LENGTH_M)
    beam = choose_size(_sum(dim_c, dim_d), reported_beam, MIN_BEAM_M, MAX_BEAM_M)
    dropped: dict[str, str] = {}
    length_m, beam_m = length.value, beam.value
    if length_m is not None and not _within(length_m, MIN_LENGTH_M, MAX_LENGTH_M):
        length_m, dropped["length_m"] = None, LENGTH_OUT_OF_RANGE
    if beam_m is not None and not _within(beam_m, MIN_BEAM_M, MAX_BEAM_M):
        beam_m, dropped["beam_m"] = None, BEAM_OUT_OF_RANGE
    if length_m is not None and beam_m is not None and beam_m > length_m:
        # which of the two is wrong cannot be told: neither is trusted
        length_m, beam_m = None, None
        dropped["length_m"] = dropped["beam_m"] = BEAM_EXCEEDS_LENGTH
    raw = {"dim_a": dim_a, "dim_b": dim_b, "dim_c": dim_c, "dim_d": dim_d}
    dims = {k: None if _number(v) is None else int(_number(v)) for k, v in raw.items()}
    box_ok = length.source == "dims" and beam.source == "dims" and "length_m" not in dropped and "beam_m" not in dropped
    if not box_ok and any(v is not None for v in dims.values()):
        reason = dropped.get("length_m") or dropped.get("beam_m") or DIMS_CONTRADICTED
        dropped["oriented_box_px"] = reason
        dims = dict.fromkeys(dims)
    return StaticFacts(length_m, beam_m, dims, dropped, length, beam)


def check_motion(sog_kn=None, cog_deg=None, heading_deg=None) -> tuple[dict, dict[str, str]]:
    """SOG, COG and heading at one instant: ({fact: value or None}, {fact: reason}) for the ones nulled."""
    sog, cog, heading = (_number(v) for v in (sog_kn, cog_deg, heading_deg))
    dropped: dict[str, str] = {}
    if heading is None or not 0 <= heading < 360:  # 511 included; cleaning has already made it NA
        heading, dropped["heading_deg"] = None, HEADING_UNAVAILABLE
    if cog is not None and sog is not None and sog < MIN_SOG_FOR_COG_KN:
        cog, dropped["cog_deg"] = None, COG_BELOW_MIN_SOG
    return {"sog_kn": sog, "cog_deg": cog, "heading_deg": heading}, dropped


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_dropped(dropped: dict[str, str]) -> str | None:
    """`{fact: reason}` as one table cell, `fact=reason;...` sorted by fact; None when nothing was dropped."""
    return ";".join(f"{k}={v}" for k, v in sorted(dropped.items())) or None


def parse_dropped(text) -> dict[str, str]:
    """The inverse of `format_dropped` (None / NA → {})."""
    if not isinstance(text, str) or not text:
        return {}
    return dict(item.split("=", 1) for item in text.split(";"))
