-- Through the proxy: reads of 20 hot products, answered from the cache once
-- seen (cache_hit), from PostgreSQL after a write to the table (cache_miss).
\set id random(1, 20)
SELECT id, name, price FROM products WHERE id = :id;
SELECT count(*) AS orders, coalesce(sum(quantity), 0) AS quantity FROM orders WHERE product_id = :id;
