-- model: vessel_coverage
-- description: One row per vessel (MMSI): latest known name and ship type, days seen, chips, first/last acquisition time and its split(s). n_splits > 1 means the vessel crosses splits, which must never happen.
-- partitioned: none
SELECT
    mmsi,
    arg_max(vessel_name, acq_time) FILTER (WHERE vessel_name IS NOT NULL) AS vessel_name,
    arg_max(ship_type, acq_time) FILTER (WHERE ship_type IS NOT NULL) AS ship_type,
    count(DISTINCT date) AS days_seen,
    count(*) AS chips,
    min(acq_time) AS first_acq_time,
    max(acq_time) AS last_acq_time,
    string_agg(DISTINCT split, ',' ORDER BY split) AS split,
    count(DISTINCT split) AS n_splits
FROM tiles
GROUP BY mmsi
ORDER BY mmsi
