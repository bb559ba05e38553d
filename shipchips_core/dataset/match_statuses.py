"""What matching decides for each candidate: the `chip_candidates.match_status` values, the
table's vocabulary (`schemas` checks them).

A module of its own so that a chipping worker, which only needs `MATCH_OK`, does not import the
matcher (pandas, shapely) or the table schemas (pandera) to learn it."""

MATCH_OK = "ok"
OUTSIDE_FOOTPRINT = "outside_footprint"
UNCERTAINTY_TOO_HIGH = "uncertainty_too_high"
NO_POSITION = "no_position"
MATCH_STATUSES = (MATCH_OK, OUTSIDE_FOOTPRINT, UNCERTAINTY_TOO_HIGH, NO_POSITION)
