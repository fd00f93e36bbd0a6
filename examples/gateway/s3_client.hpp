// gateway::s3_client: the attachment store — PUT, GET and bucket calls to an
// S3-compatible server (AWS S3, MinIO, s3rver) over Beast's HTTP client, each
// signed with AWS Signature V4 (sigv4.hpp). Path-style URLs, plain HTTP.
//
// put_object and get_object time themselves into s3_upload_duration_seconds
// and s3_download_duration_seconds. Every call opens its own connection (so
// there is no pooled connection that could have died while idle) and gives
// up after its timeout, so a store that went away or hung costs a failed
// call, not a stuck one.
//
// Thread safety: none. Calls may overlap, all on the executor given (the
// gateway's I/O thread); stop() from there too.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "sigv4.hpp"

namespace gateway {

/// Where and as whom to store attachments.
struct s3_config {
  std::string endpoint;  ///< http://host:port
  std::string bucket;
  std::string region = "us-east-1";
  sigv4::credentials credentials;
  std::size_t max_object_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds timeout{10000};
};

/// A failed call: unreachable store, timeout, or a status other than the
/// expected one. what() names the store's address, so it goes to the log,
/// never to a client.
class s3_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A downloaded object.
struct s3_object {
  std::string body;
  std::string content_type;
};

/// See the header comment.
class s3_client {
 public:
  /// Throws s3_error if `config.endpoint` is not http://host[:port].
  s3_client(boost::asio::any_io_executor ex, s3_config config);

  /// Stores `body` under `key`.
  boost::asio::awaitable<void> put_object(std::string key, std::string body, std::string content_type);
  /// The object under `key`, or nullopt if there is none.
  boost::asio::awaitable<std::optional<s3_object>> get_object(std::string key);
  /// Whether the bucket exists (HEAD bucket), asked with its own `timeout`;
  /// throws when the store is unreachable or does not answer in time.
  boost::asio::awaitable<bool> bucket_exists(std::chrono::milliseconds timeout);
  /// Creates the bucket unless it exists.
  boost::asio::awaitable<void> ensure_bucket();

  /// Fails every call in progress with s3_error, at once, and every later
  /// one: for the end of a shutdown.
  void stop();

 private:
  struct reply {
    unsigned status = 0;
    std::string body;
    std::string content_type;
  };
  boost::asio::awaitable<reply> send(std::string method, std::string path, std::string body,
                                     std::string content_type, std::chrono::milliseconds timeout);

  boost::asio::any_io_executor executor_;
  s3_config config_;
  std::string host_;
  std::string port_;
  std::unordered_set<boost::asio::ip::tcp::socket*> in_flight_;
  bool stopped_ = false;
};

}  // namespace gateway
