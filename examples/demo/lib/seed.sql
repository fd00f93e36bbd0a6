-- The demo's roles and databases, loaded by demo_start_postgres (servers.sh)
-- as the superuser over the cluster's local socket, once per fresh cluster.
--
-- The passwords are fixed and public on purpose: the cluster is a throwaway
-- one on 127.0.0.1 that lives in the demo's temporary directory. TCP logins
-- use SCRAM-SHA-256 (PostgreSQL 15 stores SCRAM verifiers by default), like a
-- production cluster.
--
-- Each service creates its own tables (CREATE TABLE IF NOT EXISTS) in the
-- database it is given, so the seed only has to make the owners.

\set ON_ERROR_STOP on

-- Pooler (seed 000 / 001): database mydb, one user listed in the pooler's
-- config (static) and two users it learns through auth_query. pgbench runs
-- as all three, so they own the pgbench tables the demo creates there.
CREATE ROLE demo_static LOGIN PASSWORD 'demo-static-secret';
CREATE ROLE alice LOGIN PASSWORD 'alice-secret';
CREATE ROLE bob LOGIN PASSWORD 'bob-secret';
CREATE DATABASE mydb OWNER demo_static;
GRANT ALL ON DATABASE mydb TO alice, bob;

-- auth_query runs as this unprivileged role. It reads passwords through a
-- SECURITY DEFINER function rather than pg_authid itself, the way pgbouncer's
-- documentation sets up `user_lookup`, so the pooler never holds superuser.
CREATE ROLE demo_auth LOGIN PASSWORD 'demo-auth-secret';

\connect mydb
ALTER SCHEMA public OWNER TO demo_static;
GRANT ALL ON SCHEMA public TO alice, bob;

CREATE SCHEMA pooler AUTHORIZATION postgres;
-- pgbouncer's default auth_query, wrapped: expired passwords and roles that
-- cannot log in are "not found".
CREATE FUNCTION pooler.user_lookup(in i_username text, out uname text, out phash text)
RETURNS record AS $$
  SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END
  FROM pg_catalog.pg_authid WHERE rolname = i_username AND rolcanlogin;
$$ LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog;
REVOKE ALL ON FUNCTION pooler.user_lookup(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pooler TO demo_auth;
GRANT EXECUTE ON FUNCTION pooler.user_lookup(text) TO demo_auth;

-- Proxy (seed 002): database shop with the tables the demo's queries read
-- and write. The change feed reads a logical replication slot, which needs
-- the REPLICATION attribute.
\connect postgres
CREATE ROLE demo_proxy LOGIN REPLICATION PASSWORD 'demo-proxy-secret';
CREATE DATABASE shop OWNER demo_proxy;

\connect shop
ALTER SCHEMA public OWNER TO demo_proxy;
SET ROLE demo_proxy;
CREATE TABLE products (
  id    integer PRIMARY KEY,
  name  text NOT NULL,
  price numeric(10, 2) NOT NULL
);
CREATE TABLE orders (
  id         bigserial PRIMARY KEY,
  product_id integer NOT NULL REFERENCES products(id),
  quantity   integer NOT NULL CHECK (quantity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO products (id, name, price)
SELECT i, 'product ' || i, (i % 97) + 0.99 FROM generate_series(1, 1000) AS i;
RESET ROLE;

-- Redis gateway (seed 003) and gateway (seed 004): one database, a schema
-- and an owner each, so neither can touch the other's tables.
\connect postgres
CREATE ROLE demo_redis_gateway LOGIN PASSWORD 'demo-redis-gateway-secret';
CREATE ROLE demo_gateway LOGIN PASSWORD 'demo-gateway-secret';
CREATE DATABASE gateways OWNER postgres;
-- The Redis gateway runs CREATE SCHEMA IF NOT EXISTS at every start, and
-- PostgreSQL checks the CREATE privilege before it looks whether the schema
-- exists.
GRANT CREATE ON DATABASE gateways TO demo_redis_gateway;

\connect gateways
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA redis_gateway AUTHORIZATION demo_redis_gateway;
CREATE SCHEMA gateway AUTHORIZATION demo_gateway;
ALTER ROLE demo_redis_gateway IN DATABASE gateways SET search_path = redis_gateway;
ALTER ROLE demo_gateway IN DATABASE gateways SET search_path = gateway;
