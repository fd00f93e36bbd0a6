#include "server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bounded_queue.hpp"
#include "message_store.hpp"
#include "metrics.hpp"
#include "pg_pool.hpp"
#include "routes.hpp"
#include "s3_client.hpp"

namespace gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_room_or_user = 64;
constexpr int default_page = 50, max_page = 200;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// Users and rooms are names a client chooses: keep them short and printable
// so they are safe in logs, JSON and SQL parameters alike.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > max_room_or_user) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

// The caller's user id: `Authorization: Bearer <id>` or `?user=<id>`.
std::optional<std::string> user_of(const request& req) {
  const std::string_view auth = req[http::field::authorization];
  if (auth.starts_with("Bearer ")) {
    std::string user(auth.substr(7));
    return valid_name(user) ? std::optional(user) : std::nullopt;
  }
  std::optional<std::string> user = query_param(req.target(), "user");
  return user && valid_name(*user) ? user : std::nullopt;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json to_json(const message& m) {
  json j{{"type", "message"}, {"id", m.id},     {"room", m.room},
         {"from", m.user},    {"body", m.body}, {"created_at", m.created_at}};
  if (m.attachment) j["attachment"] = *m.attachment;
  return j;
}

response make(const request& req, http::status status, std::string body,
              std::string_view content_type = "application/json") {
  response res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response error(const request& req, http::status status, std::string_view message) {
  return make(req, status, dump(json{{"error", message}}));
}

// The `method` label: Beast knows a fixed set of verbs; anything else is
// one value, so a client cannot grow the label set.
std::string_view method_label(http::verb v) { return v == http::verb::unknown ? "OTHER" : http::to_string(v); }

// A random object key: 128 bits, hex.
std::string new_key() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

// A WebSocket client: its stream, its rooms and its outbound queue.
struct connection {
  connection(tcp::socket socket, std::string user_id, std::size_t capacity, std::atomic<std::size_t>& depth)
      : ws(std::move(socket)), user(std::move(user_id)), outbox(capacity, depth), wake(ws.get_executor()) {}

  websocket::stream<beast::tcp_stream> ws;
  std::string user;
  std::unordered_set<std::string> rooms;
  bounded_queue<std::shared_ptr<const std::string>> outbox;
  asio::steady_timer wake;  // the writer sleeps on it while the outbox is empty
  bool closed = false;
};

struct server::impl {
  explicit impl(config c)
      : cfg(std::move(c)),
        pool(cfg.database_url, cfg.db_pool_size),
        store(pool, cfg.db_acquire_timeout),
        acks(cfg.ack_queue_capacity, ack_depth),
        workers(cfg.db_pool_size),
        s3(ioc.get_executor(), s3_config{cfg.s3_endpoint,
                                          cfg.s3_bucket,
                                          cfg.s3_region,
                                          {cfg.s3_access_key, cfg.s3_secret_key},
                                          cfg.max_attachment_bytes,
                                          std::chrono::milliseconds(10000)}),
        acceptor(ioc),
        ack_timer(ioc),
        health_timer(ioc) {}

  // Runs `f` (which blocks) on a worker thread; the caller resumes on the
  // I/O thread with its result or its exception.
  //
  // Callers pass a named lambda, never a lambda written inside the co_await
  // expression: g++ 12 miscompiles a closure temporary in a co_await
  // (its captures are freed twice).
  template <class F>
  awaitable<std::invoke_result_t<F>> blocking(F f) {
    co_return co_await asio::co_spawn(workers, call(std::move(f)), asio::use_awaitable);
  }
  // A coroutine taking `f` as a parameter, which lives in its frame (a
  // capturing coroutine lambda's captures would not).
  template <class F>
  static awaitable<std::invoke_result_t<F>> call(F f) {
    co_return f();
  }

  // --- Fan-out and queues ----------------------------------------------------

  void deliver(connection& c, const std::shared_ptr<const std::string>& payload) {
    if (c.closed) return;
    auto copy = payload;
    if (!c.outbox.try_push(std::move(copy))) {
      metrics::message_dropped();
      return;
    }
    c.wake.cancel();
  }

  void reply(connection& c, const json& j) { deliver(c, std::make_shared<const std::string>(dump(j))); }

  void fan_out(const message& m, const connection* sender) {
    auto it = rooms.find(m.room);
    if (it == rooms.end()) return;
    auto payload = std::make_shared<const std::string>(dump(to_json(m)));
    for (connection* member : it->second)
      if (member != sender) deliver(*member, payload);
  }

  void enqueue_ack(ack a) {
    if (!acks.try_push(std::move(a))) {
      metrics::message_dropped();
      return;
    }
    if (acks.size() >= cfg.ack_batch_size) ack_timer.cancel();
  }

  // Takes batches off the ACK queue and writes them; a batch the database
  // refuses is retried, so while it is away the queue fills and further
  // ACKs are dropped and counted instead of held without bound.
  awaitable<void> ack_writer() {
    std::vector<ack> batch;
    while (!stopping) {
      if (batch.empty() && acks.size() < cfg.ack_batch_size) {
        ack_timer.expires_after(cfg.ack_flush_interval);
        co_await ack_timer.async_wait(token);
      }
      while (batch.size() < cfg.ack_batch_size) {
        std::optional<ack> a = acks.pop();
        if (!a) break;
        batch.push_back(std::move(*a));
      }
      if (batch.empty() || stopping) continue;
      bool written = false;
      try {
        auto write = [this, &batch] { return store.record_acks(batch); };
        co_await blocking(std::move(write));
        written = true;
      } catch (const db_error& e) {
        std::fprintf(stderr, "gateway: writing %zu ACKs failed, retrying: %s\n", batch.size(), e.what());
      }
      if (written) {
        batch.clear();
      } else {
        ack_timer.expires_after(std::chrono::milliseconds(500));
        co_await ack_timer.async_wait(token);
      }
    }
    // What is left goes back for stop() to write.
    for (ack& a : batch) acks_left.push_back(std::move(a));
  }

  // Readiness: one database round trip and one HEAD bucket a second, so the
  // probes only read two flags.
  awaitable<void> health_checker() {
    while (!stopping) {
      try {
        auto ping = [this] {
          store.ping();
          return true;
        };
        co_await blocking(std::move(ping));
        database_ok.store(true, std::memory_order_relaxed);  // Ordering: a lone flag
      } catch (const std::exception&) {
        database_ok.store(false, std::memory_order_relaxed);  // Ordering: a lone flag
      }
      try {
        object_store_ok.store(co_await s3.bucket_exists(), std::memory_order_relaxed);  // Ordering: a lone flag
      } catch (const std::exception&) {
        object_store_ok.store(false, std::memory_order_relaxed);  // Ordering: a lone flag
      }
      health_timer.expires_after(std::chrono::seconds(1));
      co_await health_timer.async_wait(token);
    }
  }

  // --- WebSocket --------------------------------------------------------------

  awaitable<void> handle_ws_text(connection& c, const std::string& text) {
    const json in = json::parse(text, nullptr, false);
    if (in.is_discarded() || !in.is_object() || !in.contains("type") || !in["type"].is_string()) {
      reply(c, {{"type", "error"}, {"error", "expected a JSON object with a string \"type\""}});
      co_return;
    }
    const std::string type = in["type"];
    const auto room_of = [&]() -> std::optional<std::string> {
      if (!in.contains("room") || !in["room"].is_string()) return std::nullopt;
      std::string room = in["room"];
      return valid_name(room) ? std::optional(room) : std::nullopt;
    };
    if (type == "ack") {
      if (!in.contains("id") || !in["id"].is_number_integer()) {
        reply(c, {{"type", "error"}, {"error", "ack needs an integer \"id\""}});
        co_return;
      }
      enqueue_ack({in["id"].get<std::int64_t>(), c.user});
      co_return;
    }
    std::optional<std::string> room = room_of();
    if (!room) {
      reply(c, {{"type", "error"}, {"error", "\"room\" must be 1-64 characters of [A-Za-z0-9_.-]"}});
      co_return;
    }
    if (type == "join") {
      c.rooms.insert(*room);
      rooms[*room].insert(&c);
      reply(c, {{"type", "joined"}, {"room", *room}});
    } else if (type == "leave") {
      leave(c, *room);
      reply(c, {{"type", "left"}, {"room", *room}});
    } else if (type == "send") {
      if (!c.rooms.contains(*room)) {
        reply(c, {{"type", "error"}, {"error", "join the room first"}, {"room", *room}});
        co_return;
      }
      if (!in.contains("body") || !in["body"].is_string()) {
        reply(c, {{"type", "error"}, {"error", "send needs a string \"body\""}});
        co_return;
      }
      std::optional<std::string> attachment;
      if (in.contains("attachment") && in["attachment"].is_string()) attachment = in["attachment"].get<std::string>();
      const json ref = in.contains("ref") ? in["ref"] : json();
      try {
        auto insert = [this, r = *room, u = c.user, b = in["body"].get<std::string>(), attachment] {
          return store.insert(r, u, b, attachment);
        };
        message m = co_await blocking(std::move(insert));
        fan_out(m, &c);
        reply(c, {{"type", "sent"}, {"id", m.id}, {"room", m.room}, {"ref", ref}});
      } catch (const db_error&) {
        reply(c, {{"type", "error"}, {"error", "message not stored: database unavailable"}, {"ref", ref}});
      }
    } else {
      reply(c, {{"type", "error"}, {"error", "unknown type"}});
    }
  }

  void leave(connection& c, const std::string& room) {
    auto it = rooms.find(room);
    if (it != rooms.end()) {
      it->second.erase(&c);
      if (it->second.empty()) rooms.erase(it);
    }
    c.rooms.erase(room);  // last: `room` may be this very element
  }

  awaitable<void> ws_writer(std::shared_ptr<connection> c) {
    while (!c->closed) {
      std::optional<std::shared_ptr<const std::string>> next = c->outbox.pop();
      if (!next) {
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(token);
        continue;
      }
      c->ws.text(true);
      auto [ec, n] = co_await c->ws.async_write(asio::buffer(**next), token);
      if (ec) break;
      metrics::ws_message_sent();
    }
    close(*c);
  }

  void close(connection& c) {
    if (c.closed) return;
    c.closed = true;
    while (!c.rooms.empty()) {
      const std::string room = *c.rooms.begin();
      leave(c, room);
    }
    c.outbox.clear();
    c.wake.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(c.ws).socket().close(ignored);
  }

  awaitable<void> ws_session(tcp::socket socket, request req, std::string user,
                             std::chrono::steady_clock::time_point started) {
    auto c = std::make_shared<connection>(std::move(socket), std::move(user), cfg.outbound_queue_capacity,
                                          outbound_depth);
    if (cfg.ws_send_buffer_bytes > 0) {
      beast::error_code ignored;
      beast::get_lowest_layer(c->ws).socket().set_option(
          asio::socket_base::send_buffer_size(static_cast<int>(cfg.ws_send_buffer_bytes)), ignored);
    }
    beast::get_lowest_layer(c->ws).expires_never();  // the websocket's own timeouts apply
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = std::chrono::seconds(60);
    t.keep_alive_pings = true;
    c->ws.set_option(t);
    c->ws.read_message_max(cfg.max_ws_message_bytes);
    auto [ec] = co_await c->ws.async_accept(req, token);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics::http_request(method_label(req.method()), "/ws", ec ? "400" : "101", took);
    if (ec) co_return;

    metrics::client_connected();
    connections.insert(c.get());
    asio::co_spawn(ioc, ws_writer(c), asio::detached);
    beast::flat_buffer buffer;
    while (!c->closed) {
      // A message over read_message_max fails here after Beast has sent
      // close code 1009; a protocol violation, after close code 1002.
      auto [read_error, n] = co_await c->ws.async_read(buffer, token);
      if (read_error) break;
      metrics::ws_message_received();
      const bool text = c->ws.got_text();
      std::string payload = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (!text) {
        reply(*c, {{"type", "error"}, {"error", "binary messages are not supported"}});
        continue;
      }
      co_await handle_ws_text(*c, payload);
    }
    connections.erase(c.get());
    close(*c);
    metrics::client_disconnected();
  }

  // --- HTTP -------------------------------------------------------------------

  awaitable<response> handle_http(const request& req, const route_match& m) {
    const http::verb v = req.method();
    switch (m.id) {
      case route_id::websocket:
        co_return error(req, http::status::upgrade_required, "use a WebSocket upgrade on /ws");
      case route_id::room_messages: {
        const std::string& room = m.params[0];
        if (!valid_name(room)) co_return error(req, http::status::bad_request, "bad room name");
        if (v == http::verb::post) co_return co_await post_message(req, room);
        if (v == http::verb::get) co_return co_await get_history(req, room);
        break;
      }
      case route_id::attachments:
        if (v == http::verb::post) co_return co_await upload(req);
        break;
      case route_id::attachment:
        if (v == http::verb::get) co_return co_await download(req, m.params[0]);
        break;
    }
    response res = error(req, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, m.id == route_id::room_messages ? "GET, POST" : m.id == route_id::attachments ? "POST" : "GET");
    co_return res;
  }

  awaitable<response> post_message(const request& req, const std::string& room) {
    std::optional<std::string> user = user_of(req);
    if (!user) co_return error(req, http::status::unauthorized, "a user id is required (Authorization: Bearer <id>)");
    const json in = json::parse(req.body(), nullptr, false);
    if (in.is_discarded() || !in.is_object() || !in.contains("body") || !in["body"].is_string())
      co_return error(req, http::status::bad_request, "expected {\"body\": \"...\"}");
    std::optional<std::string> attachment;
    if (in.contains("attachment") && in["attachment"].is_string()) attachment = in["attachment"].get<std::string>();
    try {
      auto insert = [this, room, u = *user, b = in["body"].get<std::string>(), attachment] {
        return store.insert(room, u, b, attachment);
      };
      message m = co_await blocking(std::move(insert));
      fan_out(m, nullptr);
      co_return make(req, http::status::created, dump(to_json(m)));
    } catch (const db_error& e) {
      co_return error(req, http::status::service_unavailable, std::string("database unavailable: ") + e.what());
    }
  }

  awaitable<response> get_history(const request& req, const std::string& room) {
    std::optional<std::int64_t> before;
    int limit = default_page;
    try {
      if (auto b = query_param(req.target(), "before"); b && !b->empty()) before = std::stoll(*b);
      if (auto l = query_param(req.target(), "limit"); l && !l->empty()) limit = std::stoi(*l);
    } catch (const std::exception&) {
      co_return error(req, http::status::bad_request, "before and limit are integers");
    }
    if (limit < 1 || limit > max_page) co_return error(req, http::status::bad_request, "limit is 1-200");
    try {
      auto query = [this, room, before, limit] { return store.history(room, before, limit); };
      std::vector<message> page = co_await blocking(std::move(query));
      json out{{"room", room}, {"messages", json::array()}, {"next_before", nullptr}};
      for (const message& m : page) out["messages"].push_back(to_json(m));
      if (static_cast<int>(page.size()) == limit) out["next_before"] = page.back().id;
      co_return make(req, http::status::ok, dump(out));
    } catch (const db_error& e) {
      co_return error(req, http::status::service_unavailable, std::string("database unavailable: ") + e.what());
    }
  }

  awaitable<response> upload(const request& req) {
    if (!user_of(req)) co_return error(req, http::status::unauthorized, "a user id is required");
    std::string content_type(req[http::field::content_type]);
    if (content_type.empty()) content_type = "application/octet-stream";
    const std::string key = new_key();
    const std::size_t size = req.body().size();
    try {
      co_await s3.put_object(key, req.body(), content_type);
      co_return make(req, http::status::created, dump(json{{"key", key}, {"size", size}}));
    } catch (const s3_error& e) {
      co_return error(req, http::status::bad_gateway, std::string("object store: ") + e.what());
    }
  }

  awaitable<response> download(const request& req, const std::string& key) {
    if (key.size() != 32 || key.find_first_not_of("0123456789abcdef") != std::string::npos)
      co_return error(req, http::status::not_found, "no such attachment");
    try {
      std::optional<s3_object> obj = co_await s3.get_object(key);
      if (!obj) co_return error(req, http::status::not_found, "no such attachment");
      co_return make(req, http::status::ok, std::move(obj->body),
                     obj->content_type.empty() ? "application/octet-stream" : obj->content_type);
    } catch (const s3_error& e) {
      co_return error(req, http::status::bad_gateway, std::string("object store: ") + e.what());
    }
  }

  awaitable<void> http_session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http_streams.insert(&stream);
    struct forget {
      impl* self;
      beast::tcp_stream* s;
      ~forget() {
        self->http_streams.erase(s);
        // Ordering: relaxed; stop() only polls it.
        self->open_connections.fetch_sub(1, std::memory_order_relaxed);
      }
    } guard{this, &stream};
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(std::max(cfg.max_attachment_bytes, cfg.max_body_bytes));
      stream.expires_after(std::chrono::seconds(30));
      auto [header_error, header_bytes] = co_await http::async_read_header(stream, buffer, parser, token);
      if (header_error == http::error::header_limit) {
        co_await write_error(stream, http::status::request_header_fields_too_large, "headers too large");
        co_return;
      }
      if (header_error == http::error::end_of_stream || header_error == beast::error::timeout) co_return;
      if (header_error) {
        co_await write_error(stream, http::status::bad_request, "malformed request");
        co_return;
      }
      const auto started = std::chrono::steady_clock::now();
      std::optional<route_match> m = routes.match(parser.get().target());
      // Beast checks a Content-Length against the limit while parsing the
      // header, so that check is ours; the limit set here still bounds a
      // chunked body as it arrives.
      const std::size_t body_limit = m && m->id == route_id::attachments ? cfg.max_attachment_bytes : cfg.max_body_bytes;
      parser.body_limit(body_limit);
      const bool too_large = parser.content_length() && *parser.content_length() > body_limit;
      const std::string_view route_label = m ? m->route_template : unmatched_route;
      const http::verb verb = parser.get().method();
      if (m && m->id == route_id::websocket && websocket::is_upgrade(parser.get())) {
        request req = parser.release();
        std::optional<std::string> user = user_of(req);
        if (!user) {
          response res = error(req, http::status::unauthorized, "a user id is required (?user=<id>)");
          res.keep_alive(false);
          co_await http::async_write(stream, res, token);
          metrics::http_request(method_label(verb), route_label, "401", seconds_since(started));
          co_return;
        }
        stream.expires_never();
        co_await ws_session(stream.release_socket(), std::move(req), std::move(*user), started);
        co_return;
      }
      beast::error_code body_error = http::error::body_limit;
      if (!too_large) std::tie(body_error, std::ignore) = co_await http::async_read(stream, buffer, parser, token);
      if (body_error == http::error::body_limit) {
        co_await write_error(stream, http::status::payload_too_large, "body too large");
        metrics::http_request(method_label(verb), route_label, "413", seconds_since(started));
        co_return;
      }
      if (body_error) co_return;
      request req = parser.release();
      response res;
      if (m)
        res = co_await handle_http(req, *m);
      else
        res = error(req, http::status::not_found, "not found");
      metrics::http_request(method_label(verb), route_label, std::to_string(res.result_int()), seconds_since(started));
      stream.expires_after(std::chrono::seconds(30));
      auto [write_error_code, written] = co_await http::async_write(stream, res, token);
      if (write_error_code || !res.keep_alive()) co_return;
    }
  }

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  static awaitable<void> write_error(beast::tcp_stream& stream, http::status status, std::string_view message) {
    response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = dump(json{{"error", message}});
    res.prepare_payload();
    co_await http::async_write(stream, res, token);
  }

  awaitable<void> accept_loop() {
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(token);
      if (ec == asio::error::operation_aborted || stopping) break;
      if (ec) {
        // Out of descriptors, most likely: back off instead of spinning.
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(token);
        continue;
      }
      // Ordering: relaxed; a count only this thread changes.
      if (open_connections.load(std::memory_order_relaxed) >= cfg.max_connections)
        continue;  // the socket closes as it goes out of scope
      open_connections.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(ioc, http_session(std::move(socket)), asio::detached);
    }
  }

  // Declared in destruction order's reverse: the io_context goes after the
  // objects that use it, and before everything its pending handlers touch.
  config cfg;
  route_table routes;
  pg_pool pool;
  message_store store;
  std::atomic<std::size_t> outbound_depth{0}, ack_depth{0};
  std::array<obs::callback_registration, 2> depth_metrics = metrics::watch_queue_depths(outbound_depth, ack_depth);
  bounded_queue<ack> acks;
  std::vector<ack> acks_left;
  std::unordered_map<std::string, std::unordered_set<connection*>> rooms;
  std::unordered_set<connection*> connections;
  std::unordered_set<beast::tcp_stream*> http_streams;
  std::atomic<std::size_t> open_connections{0};  // public connections, HTTP and WebSocket
  std::uint16_t port = 0;
  std::atomic<bool> database_ok{false}, object_store_ok{false};
  bool stopping = false;
  bool started = false;
  asio::thread_pool workers;
  asio::io_context ioc{1};
  s3_client s3;
  tcp::acceptor acceptor;
  asio::steady_timer ack_timer;
  asio::steady_timer health_timer;
  std::thread io_thread;
};

server::server(config c) : impl_(std::make_unique<impl>(std::move(c))) {}

server::~server() { stop(); }

void server::start() {
  impl& s = *impl_;
  s.store.migrate();
  // Once, before serving: afterwards the bucket is only checked (readiness).
  std::future<void> bucket = asio::co_spawn(s.ioc, s.s3.ensure_bucket(), asio::use_future);
  s.ioc.run();
  s.ioc.restart();
  bucket.get();
  s.database_ok = true;
  s.object_store_ok = true;

  const tcp::endpoint ep(asio::ip::make_address(s.cfg.listen.host), s.cfg.listen.port);
  s.acceptor.open(ep.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(ep);
  s.acceptor.listen(asio::socket_base::max_listen_connections);
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  asio::co_spawn(s.ioc, s.ack_writer(), asio::detached);
  asio::co_spawn(s.ioc, s.health_checker(), asio::detached);
  s.started = true;
  s.io_thread = std::thread([&s] { s.ioc.run(); });
}

void server::stop() {
  impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  std::promise<void> closed;
  asio::post(s.ioc, [&s, &closed] {
    s.stopping = true;
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.ack_timer.cancel();
    s.health_timer.cancel();
    for (connection* c : std::vector<connection*>(s.connections.begin(), s.connections.end())) s.close(*c);
    for (beast::tcp_stream* stream : s.http_streams) stream->socket().close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
  // Let the cancelled operations finish, then stop whatever still waits
  // (a request blocked on the database completes into a stopped context).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  // Ordering: relaxed; a count, polled.
  while (std::chrono::steady_clock::now() < deadline && s.open_connections.load(std::memory_order_relaxed) > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.ioc.stop();
  s.io_thread.join();
  s.workers.join();
  // The I/O thread is gone: the ACK queue is ours to drain.
  while (std::optional<ack> a = s.acks.pop()) s.acks_left.push_back(std::move(*a));
  if (!s.acks_left.empty()) {
    try {
      s.store.record_acks(s.acks_left);
    } catch (const db_error& e) {
      std::fprintf(stderr, "gateway: %zu ACKs not written at shutdown: %s\n", s.acks_left.size(), e.what());
    }
    s.acks_left.clear();
  }
}

std::uint16_t server::port() const noexcept { return impl_->port; }

bool server::database_ready() const noexcept { return impl_->database_ok.load(std::memory_order_relaxed); }

bool server::object_store_ready() const noexcept { return impl_->object_store_ok.load(std::memory_order_relaxed); }

}  // namespace gateway
