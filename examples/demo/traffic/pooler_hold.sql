-- pgbench script of the demo's static user: each transaction holds its
-- server connection for 50 ms, so 8 clients keep a pool of 4 saturated and
-- the others queue (db_pool_acquire_duration_seconds, connections waiting).
SELECT pg_sleep(0.05);
