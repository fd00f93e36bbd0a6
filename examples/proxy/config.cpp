#include "config.hpp"

#include <charconv>
#include <stdexcept>

namespace proxy {

const char* const usage =
    "usage: obs_proxy --origin CONNINFO [flags]\n"
    "  --origin CONNINFO        libpq conninfo of the origin PostgreSQL (required)\n"
    "  --listen HOST:PORT       client port (127.0.0.1:6432)\n"
    "  --metrics-listen HOST:PORT  /metrics and /metrics/queries (127.0.0.1:9090)\n"
    "  --remote-write-url URL   also push the metrics to this remote_write receiver (off)\n"
    "  --remote-write-interval-ms N  between pushes (15000)\n"
    "  --slot NAME              temporary replication slot to create (a unique pgcache_* name)\n"
    "  --cache-bytes N          result cache budget (67108864)\n"
    "  --max-entry-bytes N      largest cached result (1048576)\n"
    "  --max-message-bytes N    largest protocol message accepted (67108864)\n"
    "  --cdc-interval-ms N      change-feed poll interval (200)\n"
    "  --login-timeout-ms N     time a client has to log in (60000)\n"
    "  --shutdown-timeout-ms N  on SIGTERM, time statements in progress may take (10000)\n"
    "  --catalog-ttl-ms N       catalog facts lifetime (30000)\n"
    "  --top-queries N          fingerprints on /metrics/queries (100)\n"
    "  --exclude-table NAME     never cache queries reading NAME (repeatable)\n"
    "  --exclude-pattern REGEX  never cache statements matching REGEX (repeatable)\n";

namespace {

std::uint64_t parse_number(std::string_view flag, std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw std::invalid_argument(std::string(flag) + ": not a number: " + std::string(text));
  return v;
}

}  // namespace

config parse_flags(std::span<const std::string_view> args) {
  config c;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    if (i + 1 >= args.size()) throw std::invalid_argument(std::string(flag) + ": missing value");
    std::string_view value = args[++i];
    if (flag == "--origin") c.origin_conninfo = value;
    else if (flag == "--listen") c.listen = service::parse_endpoint(flag, value);
    else if (flag == "--metrics-listen") c.metrics_listen = service::parse_endpoint(flag, value);
    else if (flag == "--remote-write-url") c.push.url = value;
    else if (flag == "--remote-write-interval-ms")
      c.push.interval = std::chrono::milliseconds(parse_number(flag, value));
    else if (flag == "--slot") c.slot = value;
    else if (flag == "--cache-bytes") c.cache_bytes = parse_number(flag, value);
    else if (flag == "--max-entry-bytes") c.max_entry_bytes = parse_number(flag, value);
    else if (flag == "--max-message-bytes") c.max_message_bytes = parse_number(flag, value);
    else if (flag == "--cdc-interval-ms") c.cdc_interval = std::chrono::milliseconds(parse_number(flag, value));
    else if (flag == "--login-timeout-ms") c.login_timeout = std::chrono::milliseconds(parse_number(flag, value));
    else if (flag == "--shutdown-timeout-ms")
      c.shutdown_timeout = std::chrono::milliseconds(parse_number(flag, value));
    else if (flag == "--catalog-ttl-ms") c.catalog_ttl = std::chrono::milliseconds(parse_number(flag, value));
    else if (flag == "--top-queries") c.top_queries = parse_number(flag, value);
    else if (flag == "--exclude-table") c.exclude_tables.emplace_back(value);
    else if (flag == "--exclude-pattern") c.exclude_patterns.emplace_back(value);
    else throw std::invalid_argument("unknown flag " + std::string(flag));
  }
  if (c.origin_conninfo.empty()) throw std::invalid_argument("--origin is required");
  for (char ch : c.slot)
    if (!(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') && ch != '_')
      throw std::invalid_argument("--slot: only lowercase letters, digits and underscores: " + c.slot);
  if (c.slot.size() > 63) throw std::invalid_argument("--slot: at most 63 characters");
  if (c.push.interval.count() <= 0) throw std::invalid_argument("--remote-write-interval-ms: must be positive");
  return c;
}

}  // namespace proxy
