-- model: daily_chip_summary
-- description: One row per day: chips, vessels, scenes, label position uncertainty (mean/median, metres), mean cloud and water fractions, and the share of edge-padded chips. A day without chips gives a row of zeros/NULLs.
-- partitioned: daily
SELECT
    CAST($partition_date AS VARCHAR) AS date,
    count(*) AS chips,
    count(DISTINCT mmsi) AS vessels,
    count(DISTINCT collection || '/' || scene_id) AS scenes,
    avg(uncertainty_m) AS mean_uncertainty_m,
    median(uncertainty_m) AS median_uncertainty_m,
    avg(cloud_fraction) AS mean_cloud_fraction,
    avg(water_fraction) AS mean_water_fraction,
    avg(CASE WHEN edge_padded THEN 1.0 ELSE 0.0 END) AS edge_padded_share
FROM tiles
WHERE date = $partition_date
