-- Straight to PostgreSQL, past the proxy: a price change the proxy learns of
-- only through its replication slot (pgcache_cdc_events_total), which then
-- drops the cached reads of products (pgcache_invalidations_total).
\set id random(1, 20)
UPDATE products SET price = price + 0.01 WHERE id = :id;
