-- g_k = sum_j w_jk q_j per customer (the paper's aggregated demographics), the weighted
-- means of the intensive attributes (g_k / sum_j w_jk), and coverage counts.
-- Tables: customers, stores, store_affiliation (rows with customer_id NULL are
-- uncovered stores and join nobody). Parameter $alpha: radius factor, r_k = alpha * s_k.
WITH agg AS (
    SELECT
        a.customer_id,
        count(*) AS n_stores_in_radius,
        count(*) FILTER (WHERE a.exclusive) AS n_exclusive_stores,
        sum(a.weight) AS store_weight,
        sum(a.weight * s.population) AS g_population,
        sum(a.weight * s.median_income) AS g_median_income,
        sum(a.weight * s.share_age_under_30) AS g_share_age_under_30,
        sum(a.weight * s.share_age_30_55) AS g_share_age_30_55,
        sum(a.weight * s.share_age_over_55) AS g_share_age_over_55,
        sum(a.weight * s.floor_area_sqm) AS g_floor_area_sqm
    FROM store_affiliation AS a
    JOIN stores AS s USING (store_id)
    WHERE a.customer_id IS NOT NULL
    GROUP BY a.customer_id
)
SELECT
    c.customer_id,
    CAST($alpha * greatest(c.business_scale, 0) AS DOUBLE) AS radius_km,
    coalesce(agg.n_stores_in_radius, 0)::BIGINT AS n_stores_in_radius,
    coalesce(agg.n_exclusive_stores, 0)::BIGINT AS n_exclusive_stores,
    coalesce(agg.store_weight, 0)::DOUBLE AS store_weight,
    coalesce(agg.g_population, 0)::DOUBLE AS g_population,
    coalesce(agg.g_median_income, 0)::DOUBLE AS g_median_income,
    coalesce(agg.g_share_age_under_30, 0)::DOUBLE AS g_share_age_under_30,
    coalesce(agg.g_share_age_30_55, 0)::DOUBLE AS g_share_age_30_55,
    coalesce(agg.g_share_age_over_55, 0)::DOUBLE AS g_share_age_over_55,
    coalesce(agg.g_floor_area_sqm, 0)::DOUBLE AS g_floor_area_sqm,
    (agg.g_median_income / nullif(agg.store_weight, 0))::DOUBLE AS mean_median_income,
    (agg.g_share_age_under_30 / nullif(agg.store_weight, 0))::DOUBLE AS mean_share_age_under_30,
    (agg.g_share_age_30_55 / nullif(agg.store_weight, 0))::DOUBLE AS mean_share_age_30_55,
    (agg.g_share_age_over_55 / nullif(agg.store_weight, 0))::DOUBLE AS mean_share_age_over_55,
    (agg.g_floor_area_sqm / nullif(agg.store_weight, 0))::DOUBLE AS mean_floor_area_sqm,
    coalesce(agg.store_weight, 0) = 0 AS storeless
FROM customers AS c
LEFT JOIN agg USING (customer_id)
ORDER BY c.customer_id
