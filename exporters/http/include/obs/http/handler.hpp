// obs::http::handler: maps one Beast HTTP request to its response — metrics
// with content negotiation and gzip, health probes, application routes, auth,
// 404/405/406 and the in-flight scrape limit.
//
// Use it directly to mount the endpoint in your own Beast server; otherwise
// obs::http::server runs it for you. It renders through a callable, so it
// knows nothing of where metrics come from (obs::http::registry_source makes
// one for an obs::registry).
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
#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/http/gzip.hpp"
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
/// Renders the metrics body in a format. Called once per scrape, possibly on
/// several threads at once.
using render_fn = std::function<std::string(format)>;
/// An application route: request in, response out.
using route_fn = std::function<response(const request&)>;

/// A response with a body and content type; Content-Length is set.
///
///   return obs::http::make_response(boost::beast::http::status::ok, "hi\n", "text/plain");
[[nodiscard("return it from the route")]]
inline response make_response(boost::beast::http::status status, std::string body,
                              std::string_view content_type = "text/plain; charset=utf-8") {
  response res{status, 11};
  res.set(boost::beast::http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

/// A 200 response carrying JSON.
[[nodiscard("return it from the route")]] inline response json_response(std::string body) {
  return make_response(boost::beast::http::status::ok, std::move(body), "application/json");
}

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
    response finish() {
      response res = work_ == work::metrics ? handler_->render(*request_, format_)
                     : work_ == work::route ? handler_->call(*route_, *request_)
                                            : std::move(response_);
      slot_.reset();
      return handler_->complete(*request_, route_label_, std::move(res));
    }

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
  void add_route(std::string path, route_fn fn,
                 std::initializer_list<boost::beast::http::verb> methods = {boost::beast::http::verb::get}) {
    auto r = std::make_shared<const route>(route{std::move(fn), std::vector(methods)});
    std::unique_lock lock(routes_mutex_);
    routes_[std::move(path)] = std::move(r);
  }

  /// The health checks and readiness flag behind the probes.
  class health& health() noexcept { return health_; }
  const options& config() const noexcept { return options_; }
  /// The observer given at construction, or nullptr.
  observer* events() const noexcept { return observer_.get(); }

  /// Answers one request, blocking for a render or route. Never throws for a
  /// bad request: every failure is an HTTP error response. Sets keep-alive
  /// from the request.
  response operator()(const request& req) { return begin(req).finish(); }

  /// Starts answering `req` without blocking: see exchange. Health probes
  /// run their checks here.
  [[nodiscard("finish() the exchange to get the response")]] exchange begin(const request& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::size_t qpos = target.find('?');
    const std::string_view path = target.substr(0, qpos);
    const std::string_view query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
    exchange ex(*this, req);
    dispatch(ex, path, query);
    return ex;
  }

  /// The response the server sends for a transport-level failure (431, 413,
  /// 400, 503), counted like any other error. Closes the connection.
  response error_response(boost::beast::http::status status, error_cause cause,
                          std::string_view message) {
    response res = fail(status, cause, message);
    res.set(boost::beast::http::field::server, "obs/" OBS_VERSION_STRING);
    res.keep_alive(false);
    if (observer_) observer_->on_response("other", res.result_int(), res.body().size());
    return res;
  }

 private:
  enum class builtin { none, metrics, health, live, ready };

  response fail(boost::beast::http::status status, error_cause cause, std::string_view message) {
    if (observer_) observer_->on_error(cause);
    std::string body(message);
    body += '\n';
    return make_response(status, std::move(body));
  }

  void dispatch(exchange& ex, std::string_view path, std::string_view query) {
    namespace bh = boost::beast::http;
    const request& req = *ex.request_;
    builtin which = builtin::none;
    std::shared_ptr<const route> custom;
    if (path == options_.metrics_path) which = builtin::metrics;
    else if (path == options_.health_path) which = builtin::health;
    else if (path == options_.live_path) which = builtin::live;
    else if (path == options_.ready_path) which = builtin::ready;
    else {
      std::shared_lock lock(routes_mutex_);
      if (auto it = routes_.find(path); it != routes_.end()) {
        custom = it->second;
        ex.route_label_ = it->first;  // keys are never erased and never move
      }
    }
    if (which != builtin::none) ex.route_label_ = builtin_path(which);

    const bool is_probe = which == builtin::health || which == builtin::live || which == builtin::ready;
    // Credentials are checked before routing, so a stranger cannot map which
    // paths exist.
    if (options_.auth.enabled() && (!is_probe || options_.auth_health)) {
      const auto it = req.find(bh::field::authorization);
      const std::string_view given = it == req.end() ? std::string_view{}
                                                     : std::string_view(it->value().data(), it->value().size());
      if (!options_.auth.allows(given)) {
        response res = fail(bh::status::unauthorized, error_cause::unauthorized, "Unauthorized");
        res.set(bh::field::www_authenticate, options_.auth.challenge());
        return ex.answer(std::move(res));
      }
    }

    if (which == builtin::none && !custom) {
      ex.route_label_ = "other";
      return ex.answer(fail(bh::status::not_found, error_cause::not_found, "Not Found"));
    }

    const bool get_like = req.method() == bh::verb::get || req.method() == bh::verb::head;
    if (custom) {
      bool allowed = false;
      std::string allow;
      for (bh::verb v : custom->methods) {
        allowed = allowed || v == req.method() || (v == bh::verb::get && req.method() == bh::verb::head);
        if (!allow.empty()) allow += ", ";
        allow += bh::to_string(v);
        if (v == bh::verb::get) allow += ", HEAD";
      }
      if (!allowed) return ex.answer(method_not_allowed(allow));
      ex.work_ = exchange::work::route;
      ex.route_ = std::move(custom);
      return;
    }
    if (!get_like) return ex.answer(method_not_allowed("GET, HEAD"));

    switch (which) {
      case builtin::metrics: return admit_scrape(ex, query);
      case builtin::health: return ex.answer(probe(health_.check()));
      case builtin::live: return ex.answer(probe(health_.live()));
      case builtin::ready: return ex.answer(probe(health_.readiness()));
      case builtin::none: break;
    }
    ex.answer(fail(bh::status::not_found, error_cause::not_found, "Not Found"));
  }

  std::string_view builtin_path(builtin b) const noexcept {
    switch (b) {
      case builtin::metrics: return options_.metrics_path;
      case builtin::health: return options_.health_path;
      case builtin::live: return options_.live_path;
      case builtin::ready: return options_.ready_path;
      case builtin::none: break;
    }
    return "other";
  }

  response method_not_allowed(const std::string& allow) {
    namespace bh = boost::beast::http;
    response res = fail(bh::status::method_not_allowed, error_cause::method_not_allowed, "Method Not Allowed");
    res.set(bh::field::allow, allow);
    return res;
  }

  response probe(const health::report& r) {
    namespace bh = boost::beast::http;
    response res = make_response(r.ok ? bh::status::ok : bh::status::service_unavailable, r.body,
                                 "application/json");
    res.set(bh::field::cache_control, "no-store");
    return res;
  }

  /// `format` from a query string like `format=json&x=1`, or empty.
  static std::optional<std::string_view> query_format(std::string_view query) {
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
      if (pair.starts_with("format=")) return pair.substr(7);
    }
    return std::nullopt;
  }

  // Picks the format and takes a scrape slot, or answers 400, 406 or 503.
  void admit_scrape(exchange& ex, std::string_view query) {
    namespace bh = boost::beast::http;
    const request& req = *ex.request_;
    std::optional<format> fmt;
    if (const auto named = query_format(query)) {
      fmt = format_from_name(*named);
      if (!fmt) return ex.answer(fail(bh::status::bad_request, error_cause::bad_request,
                                      "Bad Request: format must be prometheus, openmetrics or json"));
    } else {
      const auto it = req.find(bh::field::accept);
      fmt = negotiate(it == req.end() ? std::string_view{}
                                      : std::string_view(it->value().data(), it->value().size()));
      if (!fmt) return ex.answer(fail(bh::status::not_acceptable, error_cause::not_acceptable,
                                      "Not Acceptable: serves text/plain;version=0.0.4, "
                                      "application/openmetrics-text;version=1.0.0, application/json"));
    }

    // Ordering: the count only bounds concurrency; it guards no other data.
    const std::size_t before = inflight_.fetch_add(1, std::memory_order_relaxed);
    scrape_slot slot(&inflight_);
    if (before >= options_.max_inflight_scrapes) {
      response res = fail(bh::status::service_unavailable, error_cause::scrape_limit,
                          "Service Unavailable: too many scrapes in flight");
      res.set(bh::field::retry_after, "1");
      return ex.answer(std::move(res));
    }
    ex.work_ = exchange::work::metrics;
    ex.format_ = *fmt;
    ex.slot_ = std::move(slot);
  }

  // The blocking half of a scrape: render, then compress.
  response render(const request& req, format fmt) {
    namespace bh = boost::beast::http;
    const auto start = std::chrono::steady_clock::now();
    response res{bh::status::ok, 11};
    res.set(bh::field::content_type, content_type(fmt));
    res.set(bh::field::vary, "Accept, Accept-Encoding");
    res.set(bh::field::cache_control, "no-store");
    try {
      res.body() = render_(fmt);
      if (options_.gzip) {
        const auto it = req.find(bh::field::accept_encoding);
        if (it != req.end() && accepts_gzip(std::string_view(it->value().data(), it->value().size()))) {
          res.body() = gzip_compress(res.body(), options_.gzip_level);
          res.set(bh::field::content_encoding, "gzip");
        }
      }
    } catch (...) {
      // Escaping a render thread, it would end the process; a failed render
      // (or a zlib out of memory) is the server's 500, not the client's fault.
      return fail(bh::status::internal_server_error, error_cause::handler_failed, "Internal Server Error");
    }
    if (observer_)
      observer_->on_scrape(fmt, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    res.prepare_payload();
    return res;
  }

  response call(const route& r, const request& req) {
    try {
      return r.fn(req);
    } catch (...) {
      return fail(boost::beast::http::status::internal_server_error, error_cause::handler_failed,
                  "Internal Server Error");
    }
  }

  // What every response gets, whoever produced it.
  response complete(const request& req, std::string_view route_label, response res) {
    namespace bh = boost::beast::http;
    if (res.find(bh::field::server) == res.end()) res.set(bh::field::server, "obs/" OBS_VERSION_STRING);
    if (!res.has_content_length() && !res.chunked()) res.prepare_payload();
    const std::size_t bytes = res.body().size();
    if (req.method() == bh::verb::head) {
      // HEAD gets the headers GET would, Content-Length included, and no body
      // (RFC 9110 section 9.3.2).
      res.body().clear();
      res.content_length(bytes);
    }
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    if (observer_) observer_->on_response(route_label, res.result_int(), bytes);
    return res;
  }

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
