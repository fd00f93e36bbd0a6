-- Through the proxy: an order (unsupported: a write), which invalidates the
-- cached reads of orders as soon as it commits.
\set id random(1, 20)
INSERT INTO orders (product_id, quantity) VALUES (:id, 1 + :id % 3);
