// obs::http::handler: maps one Beast HTTP request to its response — metrics
// with content negotiation and gzip, health probes, application routes, auth,
// 404/405/406 and the in-flight scrape limit.
//
// Use it directly to mount the endpoint in your own Beast server; otherwise
// obs::http::server runs it for you. Include it also to add application
// routes to a server (`srv->handler().add_route(...)`): obs/http.hpp leaves it
// out, because it brings Boost.Beast's message types. It renders through a
// callable, so it knows nothing of where metrics come from
// (obs::http::registry_source makes one for an obs::registry).
//
//   obs::http::handler h(obs::http::registry_source(obs::global_registry()));
//   h.add_route("/metrics/queries", [](const obs::http::request&) {
//     return obs::http::json_response(R"({"slow":[]})");
//   });
//   obs::http::response res = h(req);   // req: your parsed Beast request
//   res.keep_alive(req.keep_alive());
//
// Thread safety: operator() may run on any number of threads at once;
// add_route may be called while requests are served.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/http/health.hpp"
#include "obs/http/negotiation.hpp"
#include "obs/http/observer.hpp"
#include "obs/http/options.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// The request type handlers take: a Beast request with a string body.
using request = boost::beast::http::request<boost::beast::http::string_body>;
/// The response type handlers return.
using response = boost::beast::http::response<boost::beast::http::string_body>;
/// An application route: request in, response out.
using route_fn = std::function<response(const request&)>;

/// A response with a body and content type; Content-Length is set.
///
///   return obs::http::make_response(boost::beast::http::status::ok, "hi\n", "text/plain");
[[nodiscard("return it from the route")]]
response make_response(boost::beast::http::status status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");

/// A 200 response carrying JSON.
///
///   return obs::http::json_response(R"({"slow":[]})");
[[nodiscard("return it from the route")]] response json_response(std::string body);

/// The endpoint's request-to-response function and its configuration.
class handler {
  struct route {
    route_fn fn;
    std::vector<boost::beast::http::verb> methods;
  };

  // Gives a scrape slot back when the exchange holding it finishes or is
  // dropped unfinished.
  struct slot_release {
    void operator()(std::atomic<std::size_t>* inflight) const noexcept {
      // Ordering: the count only bounds concurrency; it guards no other data.
      inflight->fetch_sub(1, std::memory_order_relaxed);
    }
  };
  using scrape_slot = std::unique_ptr<std::atomic<std::size_t>, slot_release>;

 public:
  /// One request between the part of answering it that never blocks and the
  /// part that may.
  ///
  /// begin() does the first part at once: routing, credentials, negotiation,
  /// the scrape limit and the health probes, whose answer is then ready. What
  /// may block, a metrics render or an application route, is left to
  /// finish(), so a server can run it off its I/O threads and keep the probes
  /// answering during a slow scrape (obs::http::server runs it on its render
  /// threads).
  ///
  ///   auto ex = h.begin(req);                      // on the I/O thread
  ///   if (!ex.blocks()) return write(ex.finish());
  ///   post(workers, [ex = std::move(ex)]() mutable { write(ex.finish()); });
  ///
  /// The request given to begin() must outlive finish(). A scrape counts
  /// against `max_inflight_scrapes` from begin() until finish() returns or
  /// the exchange is destroyed, so scrapes waiting for a render thread count.
  class exchange {
   public:
    /// Whether finish() runs a render or an application route, which may block.
    bool blocks() const noexcept { return work_ != work::none; }

    /// The response to send, with keep-alive and version following the
    /// request; runs the render or route first if there is one. Never throws
    /// for what the render or route does: that is a 500. Call once.
    response finish();

   private:
    friend class handler;
    enum class work { none, metrics, route };

    exchange(handler& h, const request& req) : handler_(&h), request_(&req) {}

    void answer(response res) { response_ = std::move(res); }

    handler* handler_;
    const request* request_;
    std::string_view route_label_ = "other";  // a path the handler owns, or "other"
    work work_ = work::none;
    response response_;  // the answer when there is no work left
    format format_ = format::prometheus_text;
    std::shared_ptr<const route> route_;
    scrape_slot slot_;
  };

  /// A handler serving what `render` produces, configured by `opts`,
  /// reporting to `events` when given.
  explicit handler(render_fn render, options opts = {}, std::shared_ptr<observer> events = {})
      : render_(std::move(render)), options_(std::move(opts)), observer_(std::move(events)) {}

  handler(const handler&) = delete;
  handler& operator=(const handler&) = delete;

  /// Adds (or replaces) an application route answering `methods` at `path`
  /// (an exact path, without query). HEAD is answered wherever GET is.
  ///
  ///   h.add_route("/admin/flush", flush, {boost::beast::http::verb::post});
  void add_route(std::string path, route_fn fn,
                 std::initializer_list<boost::beast::http::verb> methods = {boost::beast::http::verb::get});

  /// The health checks and readiness flag behind the probes.
  class health& health() noexcept { return health_; }
  /// The options given at construction.
  const options& config() const noexcept { return options_; }
  /// The observer given at construction, or nullptr.
  observer* events() const noexcept { return observer_.get(); }

  /// Answers one request, blocking for a render or route. Never throws for a
  /// bad request: every failure is an HTTP error response. Sets keep-alive
  /// from the request.
  response operator()(const request& req) { return begin(req).finish(); }

  /// Starts answering `req` without blocking: see exchange. Health probes
  /// run their checks here.
  [[nodiscard("finish() the exchange to get the response")]] exchange begin(const request& req);

  /// The response the server sends for a transport-level failure (431, 413,
  /// 400, 503), counted like any other error. Closes the connection.
  response error_response(boost::beast::http::status status, error_cause cause, std::string_view message);

 private:
  enum class builtin { none, metrics, health, live, ready };

  response fail(boost::beast::http::status status, error_cause cause, std::string_view message);
  void dispatch(exchange& ex, std::string_view path, std::string_view query);
  std::string_view builtin_path(builtin b) const noexcept;
  response method_not_allowed(const std::string& allow);
  response probe(const health::report& r);
  // Picks the format and takes a scrape slot, or answers 400, 406 or 503.
  void admit_scrape(exchange& ex, std::string_view query);
  // The blocking half of a scrape: render, then compress.
  response render(const request& req, format fmt);
  response call(const route& r, const request& req);
  // What every response gets, whoever produced it.
  response complete(const request& req, std::string_view route_label, response res);

  render_fn render_;
  options options_;
  std::shared_ptr<observer> observer_;
  class health health_;
  std::atomic<std::size_t> inflight_{0};
  mutable std::shared_mutex routes_mutex_;
  std::map<std::string, std::shared_ptr<const route>, std::less<>> routes_;
};

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/handler-inl.hpp"
#endif
