#include "s3_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <obs/scoped_timer.hpp>

namespace gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

s3_client::s3_client(asio::any_io_executor ex, s3_config config) : executor_(std::move(ex)), config_(std::move(config)) {
  constexpr std::string_view scheme = "http://";
  std::string_view rest = config_.endpoint;
  if (!rest.starts_with(scheme)) throw s3_error("S3 endpoint '" + config_.endpoint + "' must start with http://");
  rest.remove_prefix(scheme.size());
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  host_ = std::string(rest.substr(0, colon));
  port_ = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));
  if (host_.empty() || port_.empty()) throw s3_error("S3 endpoint '" + config_.endpoint + "' has no host or port");
}

asio::awaitable<s3_client::reply> s3_client::send(std::string method, std::string path, std::string body,
                                                  std::string content_type, std::chrono::milliseconds timeout) {
  if (stopped_) throw s3_error("the gateway is stopping");
  const std::string host_header = port_ == "80" ? host_ : host_ + ":" + port_;
  const std::string amz_date = sigv4::amz_date_now();
  sigv4::request signed_request{method, path, "", {}, sigv4::sha256_hex(body)};
  signed_request.headers["host"] = host_header;
  signed_request.headers["x-amz-content-sha256"] = signed_request.payload_sha256;
  signed_request.headers["x-amz-date"] = amz_date;

  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, host_header);
  req.set("x-amz-content-sha256", signed_request.payload_sha256);
  req.set("x-amz-date", amz_date);
  req.set(http::field::authorization,
          sigv4::authorization(config_.credentials, config_.region, "s3", amz_date, signed_request));
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.body() = std::move(body);
  req.prepare_payload();

  auto token = asio::as_tuple(asio::use_awaitable);
  asio::ip::tcp::resolver resolver(executor_);
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(host_, port_, token);
  if (resolve_error) throw s3_error("S3 endpoint " + host_ + ": " + resolve_error.message());
  beast::tcp_stream stream(executor_);
  // Listed while it lasts, so that stop() can close it under the call.
  in_flight_.insert(&stream.socket());
  struct unlist {
    s3_client* client;
    asio::ip::tcp::socket* socket;
    ~unlist() { client->in_flight_.erase(socket); }
  } listed{this, &stream.socket()};
  auto failed = [this](std::string what) {
    return s3_error(stopped_ ? std::string("the gateway is stopping") : std::move(what));
  };
  // One deadline for the whole call: connecting, sending and reading.
  stream.expires_after(timeout);
  auto [connect_error, connected] = co_await stream.async_connect(endpoints, token);
  if (connect_error) throw failed("cannot connect to S3 at " + host_header + ": " + connect_error.message());
  const bool head = req.method() == http::verb::head;
  auto [write_error, written] = co_await http::async_write(stream, req, token);
  if (write_error) throw failed("S3 request to " + host_header + " failed: " + write_error.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(head);  // a HEAD answer has a Content-Length but no body
  parser.body_limit(config_.max_object_bytes + 64 * 1024);  // room for an error document
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, token);
  if (read_error) throw failed("S3 response from " + host_header + " failed: " + read_error.message());
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  http::response<http::string_body> res = parser.release();
  co_return reply{res.result_int(), std::move(res.body()), std::string(res[http::field::content_type])};
}

asio::awaitable<void> s3_client::put_object(std::string key, std::string body, std::string content_type) {
  OBS_SCOPED_TIMER("s3_upload_duration_seconds");
  reply r = co_await send("PUT", "/" + config_.bucket + "/" + sigv4::uri_encode(key, false), std::move(body),
                          std::move(content_type), config_.timeout);
  if (r.status != 200) throw s3_error("S3 PUT " + key + " answered " + std::to_string(r.status) + ": " + r.body);
}

asio::awaitable<std::optional<s3_object>> s3_client::get_object(std::string key) {
  OBS_SCOPED_TIMER("s3_download_duration_seconds");
  reply r =
      co_await send("GET", "/" + config_.bucket + "/" + sigv4::uri_encode(key, false), "", "", config_.timeout);
  if (r.status == 404) co_return std::nullopt;
  if (r.status != 200) throw s3_error("S3 GET " + key + " answered " + std::to_string(r.status) + ": " + r.body);
  co_return s3_object{std::move(r.body), std::move(r.content_type)};
}

asio::awaitable<bool> s3_client::bucket_exists(std::chrono::milliseconds timeout) {
  reply r = co_await send("HEAD", "/" + config_.bucket, "", "", timeout);
  if (r.status == 404) co_return false;
  if (r.status != 200) throw s3_error("S3 HEAD bucket answered " + std::to_string(r.status));
  co_return true;
}

asio::awaitable<void> s3_client::ensure_bucket() {
  if (co_await bucket_exists(config_.timeout)) co_return;
  reply r = co_await send("PUT", "/" + config_.bucket, "", "", config_.timeout);
  if (r.status != 200) throw s3_error("S3 create bucket answered " + std::to_string(r.status) + ": " + r.body);
}

void s3_client::stop() {
  stopped_ = true;
  for (asio::ip::tcp::socket* s : in_flight_) {
    boost::system::error_code ignored;
    s->close(ignored);
  }
}

}  // namespace gateway
