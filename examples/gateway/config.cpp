#include "config.hpp"

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <string_view>

namespace gateway {
namespace {

std::size_t parse_size(std::string_view flag, std::string_view text, std::size_t min, std::size_t max) {
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
    throw config_error(std::string(flag) + ": expected an integer in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "], got '" + std::string(text) + "'");
  return v;
}

}  // namespace

config parse_args(std::span<const char* const> args) {
  config c;
  // A setter is given the flag, to name it in its error, and the value.
  using setter = std::function<void(std::string_view, std::string_view)>;
  auto size_flag = [](std::size_t& field, std::size_t min, std::size_t max) {
    return [&field, min, max](std::string_view flag, std::string_view v) { field = parse_size(flag, v, min, max); };
  };
  auto ms_flag = [](std::chrono::milliseconds& field) {
    return [&field](std::string_view flag, std::string_view v) {
      field = std::chrono::milliseconds(parse_size(flag, v, 1, 3'600'000));
    };
  };
  auto string_flag = [](std::string& field) {
    return [&field](std::string_view, std::string_view v) { field = std::string(v); };
  };
  auto endpoint_flag = [](endpoint& field) {
    return [&field](std::string_view flag, std::string_view v) {
      try {
        field = service::parse_endpoint(flag, v);
      } catch (const std::invalid_argument& e) {
        throw config_error(e.what());
      }
    };
  };
  auto url_flag = [](std::optional<std::string>& field) {
    return [&field](std::string_view, std::string_view v) { field = std::string(v); };
  };
  auto bool_flag = [](bool& field) {
    return [&field](std::string_view flag, std::string_view v) {
      if (v != "true" && v != "false")
        throw config_error(std::string(flag) + ": expected true or false, got '" + std::string(v) + "'");
      field = v == "true";
    };
  };
  const std::size_t big = std::size_t{1} << 40;
  const std::map<std::string_view, setter> flags{
      {"--listen", endpoint_flag(c.listen)},
      {"--management-listen", endpoint_flag(c.management_listen)},
      {"--remote-write-url", url_flag(c.push.url)},
      {"--remote-write-interval-ms", ms_flag(c.push.interval)},
      {"--remote-write-native-histograms", bool_flag(c.push.native_histograms)},
      {"--database-url", string_flag(c.database_url)},
      {"--db-pool-size", size_flag(c.db_pool_size, 1, 64)},
      {"--db-acquire-timeout-ms", ms_flag(c.db_acquire_timeout)},
      {"--s3-endpoint", string_flag(c.s3_endpoint)},
      {"--s3-bucket", string_flag(c.s3_bucket)},
      {"--s3-region", string_flag(c.s3_region)},
      {"--s3-access-key", string_flag(c.s3_access_key)},
      {"--s3-secret-key", string_flag(c.s3_secret_key)},
      {"--max-attachment-bytes", size_flag(c.max_attachment_bytes, 1, big)},
      {"--outbound-queue", size_flag(c.outbound_queue_capacity, 1, 1'000'000)},
      {"--ack-queue", size_flag(c.ack_queue_capacity, 1, 10'000'000)},
      {"--ack-batch", size_flag(c.ack_batch_size, 1, 10'000)},
      {"--ack-flush-ms", ms_flag(c.ack_flush_interval)},
      {"--max-ws-message-bytes", size_flag(c.max_ws_message_bytes, 16, big)},
      {"--ws-send-buffer-bytes", size_flag(c.ws_send_buffer_bytes, 0, big)},
      {"--max-body-bytes", size_flag(c.max_body_bytes, 16, big)},
      {"--max-connections", size_flag(c.max_connections, 1, 1'000'000)},
      {"--shutdown-timeout-ms", ms_flag(c.shutdown_timeout)},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    auto it = flags.find(arg);
    if (it == flags.end()) throw config_error("unknown flag '" + std::string(arg) + "' (see --help)");
    if (!inline_value) {
      if (i + 1 >= args.size()) throw config_error(std::string(arg) + " needs a value");
      value = args[++i];
    }
    it->second(arg, value);
  }
  if (c.database_url.empty()) throw config_error("--database-url is required (a libpq connection string)");
  if (c.s3_endpoint.empty()) throw config_error("--s3-endpoint is required (http://host:port)");
  if (c.s3_access_key.empty() || c.s3_secret_key.empty())
    throw config_error("--s3-access-key and --s3-secret-key are required");
  if (c.ack_batch_size > c.ack_queue_capacity) throw config_error("--ack-batch must not exceed --ack-queue");
  return c;
}

std::string usage() {
  return R"(usage: obs_gateway --database-url CONNINFO --s3-endpoint http://HOST:PORT
                   --s3-access-key KEY --s3-secret-key SECRET [flags]

  --listen HOST:PORT              public HTTP + WebSocket API (0.0.0.0:3000)
  --management-listen HOST:PORT   /metrics and health probes (127.0.0.1:9090)
  --remote-write-url URL          also push the metrics to this remote_write receiver (off)
  --remote-write-interval-ms MS   between pushes (15000)
  --remote-write-native-histograms BOOL  push the native histogram too (false)
  --database-url CONNINFO         libpq connection string of the message store
  --db-pool-size N                pooled PostgreSQL connections (4)
  --db-acquire-timeout-ms MS      longest wait for a pooled connection (2000)
  --s3-endpoint URL               S3-compatible store, http://host:port
  --s3-bucket NAME                attachment bucket, created if missing (gateway-attachments)
  --s3-region REGION              signing region (us-east-1)
  --s3-access-key KEY, --s3-secret-key SECRET   signing credentials
  --max-attachment-bytes N        largest attachment (8388608)
  --outbound-queue N              messages queued per WebSocket connection (256)
  --ack-queue N                   ACKs queued for the database, server-wide (8192)
  --ack-batch N                   ACKs written per INSERT (256)
  --ack-flush-ms MS               longest an ACK waits for its batch (100)
  --max-ws-message-bytes N        largest client message; larger closes with 1009 (65536)
  --ws-send-buffer-bytes N        SO_SNDBUF of a WebSocket connection, 0 = kernel default (65536)
  --max-body-bytes N              largest HTTP request body but uploads (65536)
  --max-connections N             open public connections (10000)
  --shutdown-timeout-ms MS        on SIGTERM, time requests in progress may take (10000)
)";
}

}  // namespace gateway
