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
inline response make_response(boost::beast::http::status status, std::string body,
                              std::string_view content_type = "text/plain; charset=utf-8") {
  response res{status, 11};
  res.set(boost::beast::http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

/// A 200 response carrying JSON.
inline response json_response(std::string body) {
  return make_response(boost::beast::http::status::ok, std::move(body), "application/json");
}

/// The endpoint's request-to-response function and its configuration.
class handler {
 public:
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

  /// Answers one request. Never throws for a bad request: every failure is an
  /// HTTP error response. Sets keep-alive from the request.
  response operator()(const request& req) {
    namespace bh = boost::beast::http;
    const std::string_view target(req.target().data(), req.target().size());
    const std::size_t qpos = target.find('?');
    const std::string_view path = target.substr(0, qpos);
    const std::string_view query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);

    std::string_view route_label = "other";
    response res = dispatch(req, path, query, route_label);
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
  struct route {
    route_fn fn;
    std::vector<boost::beast::http::verb> methods;
  };

  enum class builtin { none, metrics, health, live, ready };

  response fail(boost::beast::http::status status, error_cause cause, std::string_view message) {
    if (observer_) observer_->on_error(cause);
    std::string body(message);
    body += '\n';
    return make_response(status, std::move(body));
  }

  response dispatch(const request& req, std::string_view path, std::string_view query,
                    std::string_view& route_label) {
    namespace bh = boost::beast::http;
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
        route_label = it->first;  // keys never move, and the label is used before return
      }
    }
    if (which != builtin::none) route_label = builtin_path(which);

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
        return res;
      }
    }

    if (which == builtin::none && !custom) {
      route_label = "other";
      return fail(bh::status::not_found, error_cause::not_found, "Not Found");
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
      if (!allowed) return method_not_allowed(allow);
      try {
        return custom->fn(req);
      } catch (...) {
        return fail(bh::status::internal_server_error, error_cause::handler_failed, "Internal Server Error");
      }
    }
    if (!get_like) return method_not_allowed("GET, HEAD");

    switch (which) {
      case builtin::metrics: return metrics(req, query);
      case builtin::health: return probe(health_.check());
      case builtin::live: return probe(health_.live());
      case builtin::ready: return probe(health_.readiness());
      case builtin::none: break;
    }
    return fail(bh::status::not_found, error_cause::not_found, "Not Found");
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

  response metrics(const request& req, std::string_view query) {
    namespace bh = boost::beast::http;
    std::optional<format> fmt;
    if (const auto named = query_format(query)) {
      fmt = format_from_name(*named);
      if (!fmt) return fail(bh::status::bad_request, error_cause::bad_request,
                            "Bad Request: format must be prometheus, openmetrics or json");
    } else {
      const auto it = req.find(bh::field::accept);
      fmt = negotiate(it == req.end() ? std::string_view{}
                                      : std::string_view(it->value().data(), it->value().size()));
      if (!fmt) return fail(bh::status::not_acceptable, error_cause::not_acceptable,
                            "Not Acceptable: serves text/plain;version=0.0.4, "
                            "application/openmetrics-text;version=1.0.0, application/json");
    }

    // Ordering: the count only bounds concurrency; it guards no other data.
    if (inflight_.fetch_add(1, std::memory_order_relaxed) >= options_.max_inflight_scrapes) {
      inflight_.fetch_sub(1, std::memory_order_relaxed);
      response res = fail(bh::status::service_unavailable, error_cause::scrape_limit,
                          "Service Unavailable: too many scrapes in flight");
      res.set(bh::field::retry_after, "1");
      return res;
    }
    struct release {
      std::atomic<std::size_t>& n;
      ~release() { n.fetch_sub(1, std::memory_order_relaxed); }
    } guard{inflight_};

    const auto start = std::chrono::steady_clock::now();
    response res{bh::status::ok, 11};
    try {
      res.body() = render_(*fmt);
    } catch (...) {
      return fail(bh::status::internal_server_error, error_cause::handler_failed, "Internal Server Error");
    }
    res.set(bh::field::content_type, content_type(*fmt));
    res.set(bh::field::vary, "Accept, Accept-Encoding");
    res.set(bh::field::cache_control, "no-store");
    if (options_.gzip) {
      const auto it = req.find(bh::field::accept_encoding);
      if (it != req.end() && accepts_gzip(std::string_view(it->value().data(), it->value().size()))) {
        res.body() = gzip_compress(res.body(), options_.gzip_level);
        res.set(bh::field::content_encoding, "gzip");
      }
    }
    if (observer_)
      observer_->on_scrape(*fmt, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    res.prepare_payload();
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
