-- One month of shipments summed per customer x primary category (the series the
-- temporal features are computed from). Tables: shipments, skus. Parameter $month.
SELECT
    s.customer_id,
    k.primary_category,
    s.month,
    sum(s.units)::DOUBLE AS units,
    sum(s.revenue)::DOUBLE AS revenue,
    count(DISTINCT s.sku_id)::BIGINT AS n_skus
FROM shipments AS s
JOIN skus AS k USING (sku_id)
WHERE s.month = $month
GROUP BY s.customer_id, k.primary_category, s.month
ORDER BY s.customer_id, k.primary_category
