// gateway::config: everything the gateway is told on its command line, and the
// parser that reads it. Pure: no I/O, so tests check every flag directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "service/endpoint.hpp"
#include "service/push_config.hpp"

namespace gateway {

using service::endpoint;

/// What main() starts the gateway with.
struct config {
  /// Public HTTP + WebSocket API.
  endpoint listen{"0.0.0.0", 3000};
  /// /metrics and health probes; loopback unless told otherwise.
  endpoint management_listen{"127.0.0.1", 9090};
  service::push_config push;  ///< --remote-write-*: pushed as well as scraped

  /// libpq connection string of the message store.
  std::string database_url;
  /// Connections in the pool.
  std::size_t db_pool_size = 4;
  /// Longest wait for a pooled connection, opening one included, before a
  /// request fails with 503.
  std::chrono::milliseconds db_acquire_timeout{2000};

  /// S3-compatible object store: `http://host:port`, path-style buckets.
  std::string s3_endpoint;
  std::string s3_bucket = "gateway-attachments";
  std::string s3_region = "us-east-1";
  std::string s3_access_key;
  std::string s3_secret_key;
  /// Largest attachment accepted on upload or read back on download.
  std::size_t max_attachment_bytes = 8 * 1024 * 1024;

  /// Messages one WebSocket connection may have waiting to be written; a
  /// message for a full queue is dropped and counted.
  std::size_t outbound_queue_capacity = 256;
  /// ACKs waiting to be written to the database, server-wide.
  std::size_t ack_queue_capacity = 8192;
  /// ACKs written per INSERT, and the longest an ACK waits for a batch.
  std::size_t ack_batch_size = 256;
  std::chrono::milliseconds ack_flush_interval{100};
  /// Largest WebSocket message a client may send; larger closes with 1009.
  std::size_t max_ws_message_bytes = 64 * 1024;
  /// Kernel send buffer of a WebSocket connection (SO_SNDBUF); 0 leaves the
  /// kernel's autotuning. Bounds what a reader that stalls holds in the kernel.
  std::size_t ws_send_buffer_bytes = 64 * 1024;
  /// Largest HTTP request body other than an attachment upload.
  std::size_t max_body_bytes = 64 * 1024;
  /// Open public connections (HTTP and WebSocket) beyond this are refused.
  std::size_t max_connections = 10000;
  /// On SIGTERM, how long requests in progress may take to finish; what is
  /// still waiting then is answered 503.
  std::chrono::milliseconds shutdown_timeout{10000};
};

/// A command line the gateway cannot run with; what() says which flag and why.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses the arguments after the program name. Throws config_error naming
/// the flag on anything unknown, missing or out of range.
config parse_args(std::span<const char* const> args);

/// The --help text.
std::string usage();

}  // namespace gateway
