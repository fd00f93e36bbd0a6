// Definitions of obs/http/handler.hpp: routing, credentials, negotiation, the
// scrape limit, rendering and compression of one request's response.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/http/gzip.hpp"
#include "obs/http/handler.hpp"
#include "obs/http/negotiation.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

OBS_INLINE response make_response(boost::beast::http::status status, std::string body,
                                  std::string_view content_type) {
  response res{status, 11};
  res.set(boost::beast::http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

OBS_INLINE response json_response(std::string body) {
  return make_response(boost::beast::http::status::ok, std::move(body), "application/json");
}

namespace detail {

/// `format` from a query string like `format=json&x=1`, or empty.
OBS_INLINE std::optional<std::string_view> query_format(std::string_view query) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.starts_with("format=")) return pair.substr(7);
  }
  return std::nullopt;
}

/// A header's value as a string_view, or empty when the request lacks it.
OBS_INLINE std::string_view field_value(const request& req, boost::beast::http::field name) {
  const auto it = req.find(name);
  return it == req.end() ? std::string_view{} : std::string_view(it->value().data(), it->value().size());
}

}  // namespace detail

OBS_INLINE response handler::exchange::finish() {
  response res = work_ == work::metrics ? handler_->render(*request_, format_)
                 : work_ == work::route ? handler_->call(*route_, *request_)
                                        : std::move(response_);
  slot_.reset();
  return handler_->complete(*request_, route_label_, std::move(res));
}

OBS_INLINE void handler::add_route(std::string path, route_fn fn,
                                   std::initializer_list<boost::beast::http::verb> methods) {
  auto r = std::make_shared<const route>(route{std::move(fn), std::vector(methods)});
  std::unique_lock lock(routes_mutex_);
  routes_[std::move(path)] = std::move(r);
}

OBS_INLINE handler::exchange handler::begin(const request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  const std::size_t qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  const std::string_view query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  exchange ex(*this, req);
  dispatch(ex, path, query);
  return ex;
}

OBS_INLINE response handler::error_response(boost::beast::http::status status, error_cause cause,
                                            std::string_view message) {
  response res = fail(status, cause, message);
  res.set(boost::beast::http::field::server, "obs/" OBS_VERSION_STRING);
  res.keep_alive(false);
  if (observer_) observer_->on_response("other", res.result_int(), res.body().size());
  return res;
}

OBS_INLINE response handler::fail(boost::beast::http::status status, error_cause cause,
                                  std::string_view message) {
  if (observer_) observer_->on_error(cause);
  std::string body(message);
  body += '\n';
  return make_response(status, std::move(body));
}

OBS_INLINE void handler::dispatch(exchange& ex, std::string_view path, std::string_view query) {
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
    if (!options_.auth.allows(detail::field_value(req, bh::field::authorization))) {
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

OBS_INLINE std::string_view handler::builtin_path(builtin b) const noexcept {
  switch (b) {
    case builtin::metrics: return options_.metrics_path;
    case builtin::health: return options_.health_path;
    case builtin::live: return options_.live_path;
    case builtin::ready: return options_.ready_path;
    case builtin::none: break;
  }
  return "other";
}

OBS_INLINE response handler::method_not_allowed(const std::string& allow) {
  namespace bh = boost::beast::http;
  response res = fail(bh::status::method_not_allowed, error_cause::method_not_allowed, "Method Not Allowed");
  res.set(bh::field::allow, allow);
  return res;
}

OBS_INLINE response handler::probe(const health::report& r) {
  namespace bh = boost::beast::http;
  response res = make_response(r.ok ? bh::status::ok : bh::status::service_unavailable, r.body,
                               "application/json");
  res.set(bh::field::cache_control, "no-store");
  return res;
}

OBS_INLINE void handler::admit_scrape(exchange& ex, std::string_view query) {
  namespace bh = boost::beast::http;
  constexpr format all_formats[] = {format::prometheus_text, format::openmetrics, format::json, format::protobuf};
  const format_set offered = options_.formats;
  std::optional<format> fmt;
  if (const auto named = detail::query_format(query)) {
    fmt = format_from_name(*named);
    if (!fmt || !offered.contains(*fmt)) {
      std::string message = "Bad Request: format must be one of";
      for (format f : all_formats) {
        if (!offered.contains(f)) continue;
        message += ' ';
        message += to_string(f);
      }
      return ex.answer(fail(bh::status::bad_request, error_cause::bad_request, message));
    }
  } else {
    fmt = negotiate(detail::field_value(*ex.request_, bh::field::accept), offered);
    if (!fmt) {
      std::string message = "Not Acceptable: serves";
      const char* separator = " ";
      for (format f : all_formats) {
        if (!offered.contains(f)) continue;
        message += separator;
        message += content_type(f);
        separator = ", ";
      }
      return ex.answer(fail(bh::status::not_acceptable, error_cause::not_acceptable, message));
    }
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

OBS_INLINE response handler::render(const request& req, format fmt) {
  namespace bh = boost::beast::http;
  const auto start = std::chrono::steady_clock::now();
  response res{bh::status::ok, 11};
  res.set(bh::field::content_type, content_type(fmt));
  res.set(bh::field::vary, "Accept, Accept-Encoding");
  res.set(bh::field::cache_control, "no-store");
  try {
    res.body() = render_(fmt);
    if (options_.gzip && accepts_gzip(detail::field_value(req, bh::field::accept_encoding))) {
      res.body() = gzip_compress(res.body(), options_.gzip_level);
      res.set(bh::field::content_encoding, "gzip");
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

OBS_INLINE response handler::call(const route& r, const request& req) {
  try {
    return r.fn(req);
  } catch (...) {
    return fail(boost::beast::http::status::internal_server_error, error_cause::handler_failed,
                "Internal Server Error");
  }
}

OBS_INLINE response handler::complete(const request& req, std::string_view route_label, response res) {
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

}  // namespace http
OBS_NAMESPACE_END
