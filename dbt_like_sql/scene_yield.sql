-- model: scene_yield
-- description: One row per scene (collection, scene_id): MGRS tile, scene cloud cover, chips cut from it, vessels in them and their mean valid fraction, i.e. how much a scene gave.
-- partitioned: none
SELECT
    collection,
    scene_id,
    min(mgrs_tile) AS mgrs_tile,
    max(scene_cloud_cover) AS scene_cloud_cover,
    count(*) AS chips,
    count(DISTINCT mmsi) AS vessels,
    avg(valid_fraction) AS mean_valid_fraction
FROM tiles
GROUP BY collection, scene_id
ORDER BY collection, scene_id
