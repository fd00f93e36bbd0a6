-- Through the proxy: a read the cache must not keep (now() is
-- NonDeterministicFunction), so it always goes to PostgreSQL.
\set id random(1, 20)
SELECT id, name, now() AS read_at FROM products WHERE id = :id;
