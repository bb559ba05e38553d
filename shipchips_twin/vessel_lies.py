"""Vessel facts the twin's AIS reports get wrong on request (`WorldSpec.vessel_fact_lies`), as real crews do.

Each lie changes only what the AIS messages say; the ship the scenes draw keeps its true hull, so a
test knows what the pipeline must null: `REPORTED_DIMS` A/B/C/D that break `ais/fact_limits.py`'s
limits, or a true heading of 511 ("not available") in every position report.
"""

from __future__ import annotations

from shipchips_twin.world import Vessel, World

# kind → the Dimension (A, B, C, D) the static messages send instead of the truth (within the fields' 9/6 bits)
REPORTED_DIMS = {
    "length_too_long": (400, 100, None, None),  # 500 m: longer than any ship
    "length_too_short": (2, 1, 1, 1),  # 3 m long, 2 m wide
    "beam_too_wide": (None, None, 50, 45),  # 95 m wide
    "beam_exceeds_length": (3, 3, 5, 5),  # 6 m long, 10 m wide
}
HEADING_511 = "heading_511"
HEADING_511_VALUE = 511
KINDS = (*REPORTED_DIMS, HEADING_511)


def lies(world: World, vessel: Vessel) -> set[str]:
    kinds = {kind for mmsi, kind in world.spec.vessel_fact_lies if mmsi == vessel.mmsi}
    if kinds - set(KINDS):
        raise ValueError(f"vessel_fact_lies for {vessel.mmsi}: kinds are {KINDS}, got {sorted(kinds)}")
    return kinds


def reported_dims(world: World, vessel: Vessel) -> dict[str, int]:
    """The Dimension block of the vessel's static messages: the truth, unless a lie replaces some of it."""
    dims = [vessel.dim_a, vessel.dim_b, vessel.dim_c, vessel.dim_d]
    for kind in sorted(lies(world, vessel) & set(REPORTED_DIMS)):
        dims = [true if lie is None else lie for true, lie in zip(dims, REPORTED_DIMS[kind])]
    return dict(zip("ABCD", dims))


def reports_heading(world: World, vessel: Vessel) -> bool:
    return HEADING_511 not in lies(world, vessel)
