// obs_proxy_collector: the seed's metrics collector. Every interval it
// scrapes an obs_proxy's /metrics (as JSON) and /metrics/queries, writes a
// metrics_snapshots row and upserts query_stats, through the proxy itself
// (the seed's dogfooding), then runs the seed's retention DELETE.
//
//   obs_proxy_collector --metrics 127.0.0.1:9090 --instance-id UUID
//       --database "host=127.0.0.1 port=6432 user=postgres dbname=dashboard" [--interval-s 30] [--once]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

// The seed's schema, with the instances table its foreign keys name.
constexpr const char* schema_sql = R"(
CREATE TABLE IF NOT EXISTS instances (id UUID PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE TABLE IF NOT EXISTS metrics_snapshots (
    id BIGSERIAL, instance_id UUID NOT NULL REFERENCES instances(id),
    collected_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    queries_total BIGINT, queries_cache_hit BIGINT, queries_cache_miss BIGINT, queries_uncacheable BIGINT,
    queries_unsupported BIGINT, queries_parse_error BIGINT,
    bytes_client_in BIGINT, bytes_client_out BIGINT, bytes_origin_in BIGINT, bytes_origin_out BIGINT,
    cdc_inserts BIGINT, cdc_updates BIGINT, cdc_deletes BIGINT, invalidations BIGINT,
    connections_active INT, cached_queries INT, cache_size_bytes BIGINT, replication_lag_bytes BIGINT,
    latency_cache_p50_ms FLOAT, latency_cache_p90_ms FLOAT, latency_cache_p99_ms FLOAT,
    latency_origin_p50_ms FLOAT, latency_origin_p90_ms FLOAT, latency_origin_p99_ms FLOAT,
    PRIMARY KEY (id));
CREATE INDEX IF NOT EXISTS idx_metrics_instance_time ON metrics_snapshots(instance_id, collected_at DESC);
CREATE TABLE IF NOT EXISTS query_stats (
    instance_id UUID NOT NULL REFERENCES instances(id), fingerprint TEXT NOT NULL, sql_template TEXT NOT NULL,
    tables TEXT[] NOT NULL, first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL,
    execution_count BIGINT NOT NULL, cache_hits BIGINT NOT NULL, cache_misses BIGINT NOT NULL,
    avg_latency_cache_ms FLOAT, avg_latency_origin_ms FLOAT, avg_rows_returned FLOAT,
    cacheable BOOLEAN NOT NULL, uncacheable_reason JSONB, updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (instance_id, fingerprint));
)";

// The whole /metrics/queries array goes in as one parameter; PostgreSQL's
// own JSON functions take it apart.
constexpr const char* upsert_sql = R"(
INSERT INTO query_stats (instance_id, fingerprint, sql_template, tables, first_seen, last_seen, execution_count,
    cache_hits, cache_misses, avg_latency_cache_ms, avg_latency_origin_ms, avg_rows_returned, cacheable,
    uncacheable_reason, updated_at)
SELECT $1::uuid, q->>'fingerprint', q->>'sql_template', ARRAY(SELECT jsonb_array_elements_text(q->'tables')),
    (q->>'first_seen')::timestamptz, (q->>'last_seen')::timestamptz, (q->>'execution_count')::bigint,
    (q->>'cache_hits')::bigint, (q->>'cache_misses')::bigint, (q->>'avg_latency_cache_ms')::float8,
    (q->>'avg_latency_origin_ms')::float8, (q->>'avg_rows_returned')::float8, (q->>'cacheable')::boolean,
    NULLIF(q->'uncacheable_reason', 'null'::jsonb), NOW()
FROM jsonb_array_elements($2::jsonb) AS q
ON CONFLICT (instance_id, fingerprint) DO UPDATE SET sql_template = EXCLUDED.sql_template,
    tables = EXCLUDED.tables, last_seen = EXCLUDED.last_seen, execution_count = EXCLUDED.execution_count,
    cache_hits = EXCLUDED.cache_hits, cache_misses = EXCLUDED.cache_misses,
    avg_latency_cache_ms = EXCLUDED.avg_latency_cache_ms, avg_latency_origin_ms = EXCLUDED.avg_latency_origin_ms,
    avg_rows_returned = EXCLUDED.avg_rows_returned, cacheable = EXCLUDED.cacheable,
    uncacheable_reason = EXCLUDED.uncacheable_reason, updated_at = NOW()
)";

constexpr const char* retention_sql = "DELETE FROM metrics_snapshots WHERE collected_at < NOW() - INTERVAL '7 days'";

struct options {
  std::string host = "127.0.0.1", port = "9090";
  std::string database;
  std::string instance_id;
  std::chrono::seconds interval{30};
  bool once = false;
};

std::string get(const options& o, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(resolver.resolve(o.host, o.port));
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, o.host);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  if (res.result() != http::status::ok)
    throw std::runtime_error("GET " + target + ": HTTP " + std::to_string(res.result_int()));
  return std::move(res.body());
}

const json* family(const json& metrics, std::string_view name) {
  for (const auto& f : metrics.at("metrics"))
    if (f.at("name") == name) return &f;
  return nullptr;
}

// The series of `name` whose label `key` is `value` (any series if key is empty).
const json* series(const json& metrics, std::string_view name, std::string_view key = {}, std::string_view value = {}) {
  const json* f = family(metrics, name);
  if (!f) return nullptr;
  for (const auto& s : f->at("series"))
    if (key.empty() || s.at("labels").value(std::string(key), std::string{}) == value) return &s;
  return nullptr;
}

// A counter or gauge; a series not yet created has counted nothing.
double value(const json& metrics, std::string_view name, std::string_view key = {}, std::string_view v = {}) {
  const json* s = series(metrics, name, key, v);
  return s ? s->at("value").get<double>() : 0.0;
}

// A quantile from cumulative buckets, interpolated linearly inside the
// bucket the rank falls in, as PromQL's histogram_quantile does; in ms.
json quantile_ms(const json& metrics, std::string_view source, double q) {
  const json* s = series(metrics, "pgcache_query_duration_seconds", "source", source);
  if (!s || s->at("count").get<double>() == 0) return nullptr;
  const double rank = q * s->at("count").get<double>();
  double lower = 0, below = 0;
  for (const auto& b : s->at("buckets")) {
    const double count = b.at("count").get<double>();
    const bool inf = b.at("le").is_string();
    const double upper = inf ? std::numeric_limits<double>::infinity() : b.at("le").get<double>();
    if (count >= rank) {
      if (inf) return lower * 1000;  // beyond the last bound: its value is all we know
      const double in_bucket = count - below;
      return (lower + (upper - lower) * (in_bucket > 0 ? (rank - below) / in_bucket : 1)) * 1000;
    }
    lower = upper;
    below = count;
  }
  return nullptr;
}

using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

void exec(PGconn* conn, const char* sql, const std::vector<std::string>& params, const std::vector<bool>& nulls = {}) {
  std::vector<const char*> values;
  for (std::size_t i = 0; i < params.size(); ++i)
    values.push_back(i < nulls.size() && nulls[i] ? nullptr : params[i].c_str());
  // Without parameters, the simple protocol: the schema is several statements.
  result_ptr r(params.empty() ? PQexec(conn, sql)
                              : PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(),
                                             nullptr, nullptr, 0),
               &PQclear);
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw std::runtime_error(PQerrorMessage(conn));
}

void collect(const options& o, PGconn* conn) {
  const json metrics = json::parse(get(o, "/metrics?format=json"));
  const std::string queries = get(o, "/metrics/queries");

  std::vector<json> row{0.0};  // queries_total: the sum of the statuses
  for (const char* s : {"cache_hit", "cache_miss", "uncacheable", "unsupported", "parse_error"}) {
    row.push_back(value(metrics, "pgcache_queries_total", "status", s));
    row[0] = row[0].get<double>() + row.back().get<double>();
  }
  for (const char* d : {"client_in", "client_out", "origin_in", "origin_out"})
    row.push_back(value(metrics, "pgcache_bytes_total", "direction", d));
  for (const char* t : {"insert", "update", "delete"}) row.push_back(value(metrics, "pgcache_cdc_events_total", "type", t));
  for (const char* g : {"pgcache_invalidations_total", "pgcache_connections_active", "pgcache_cached_queries",
                        "pgcache_cache_size_bytes", "pgcache_replication_lag_bytes"})
    row.push_back(value(metrics, g));
  for (const char* source : {"cache", "origin"})
    for (double q : {0.5, 0.9, 0.99}) row.push_back(quantile_ms(metrics, source, q));

  std::vector<std::string> params{o.instance_id};
  std::vector<bool> nulls{false};
  const std::size_t quantiles_from = row.size() - 6;  // counters and gauges before: integer columns
  for (std::size_t i = 0; i < row.size(); ++i) {
    const bool integral = i < quantiles_from;
    nulls.push_back(row[i].is_null());
    params.push_back(row[i].is_null() ? std::string{}
                     : integral      ? std::to_string(std::llround(row[i].get<double>()))
                                     : std::to_string(row[i].get<double>()));
  }
  std::string insert =
      "INSERT INTO metrics_snapshots (instance_id, queries_total, queries_cache_hit, queries_cache_miss, "
      "queries_uncacheable, queries_unsupported, queries_parse_error, bytes_client_in, bytes_client_out, "
      "bytes_origin_in, bytes_origin_out, cdc_inserts, cdc_updates, cdc_deletes, invalidations, connections_active, "
      "cached_queries, cache_size_bytes, replication_lag_bytes, latency_cache_p50_ms, latency_cache_p90_ms, "
      "latency_cache_p99_ms, latency_origin_p50_ms, latency_origin_p90_ms, latency_origin_p99_ms) VALUES ($1";
  for (std::size_t i = 2; i <= params.size(); ++i) insert += ", $" + std::to_string(i);
  insert += ")";
  exec(conn, insert.c_str(), params, nulls);
  exec(conn, upsert_sql, {o.instance_id, queries});
  exec(conn, retention_sql, {});
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--once") {
      o.once = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + ": missing value");
    std::string v = argv[++i];
    if (flag == "--metrics") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos) throw std::invalid_argument("--metrics: expected HOST:PORT");
      o.host = v.substr(0, colon);
      o.port = v.substr(colon + 1);
    } else if (flag == "--database") o.database = v;
    else if (flag == "--instance-id") o.instance_id = v;
    else if (flag == "--interval-s") o.interval = std::chrono::seconds(std::stoul(v));
    else throw std::invalid_argument("unknown flag " + std::string(flag));
  }
  if (o.database.empty() || o.instance_id.empty()) throw std::invalid_argument("--database and --instance-id are required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "obs_proxy_collector: %s\nusage: obs_proxy_collector --metrics HOST:PORT --instance-id UUID "
                 "--database CONNINFO [--interval-s 30] [--once]\n",
                 e.what());
    return 2;
  }
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(o.database.c_str()), &PQfinish);
  int failures = 0;
  for (bool first = true;; first = false) {
    try {
      if (PQstatus(conn.get()) != CONNECTION_OK) PQreset(conn.get());
      if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
      if (first) {
        exec(conn.get(), schema_sql, {});
        exec(conn.get(), "INSERT INTO instances (id) VALUES ($1) ON CONFLICT DO NOTHING", {o.instance_id});
      }
      collect(o, conn.get());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "obs_proxy_collector: %s\n", e.what());
      ++failures;
      if (first) return 1;  // bad flags or schema: say so at once
    }
    if (o.once) return failures ? 1 : 0;
    std::this_thread::sleep_for(o.interval);
  }
}
