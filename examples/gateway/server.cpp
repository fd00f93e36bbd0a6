#include "server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <service/accept_loop.hpp>

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
#include "readiness.hpp"
#include "routes.hpp"
#include "s3_client.hpp"
#include "throttled_log.hpp"
#include "upstream_errors.hpp"

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
// After the shutdown deadline, the time the last answers (503, WebSocket
// 1001) have to go out before their connections are closed.
constexpr auto last_write_timeout = std::chrono::milliseconds(250);
// The plain messages clients get when an upstream fails them; the detail,
// with the upstream's address, is the log's.
constexpr std::string_view database_unavailable = "database unavailable";
constexpr std::string_view object_store_unavailable = "object store unavailable";
constexpr std::string_view shutting_down = "the gateway is shutting down";

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

// An attachment key as POST /attachments makes them: 32 lower-case hex digits.
bool valid_key(std::string_view key) {
  return key.size() == 32 && key.find_first_not_of("0123456789abcdef") == std::string_view::npos;
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

// A message's optional "attachment": absent, or a key the gateway made.
// False when it is there and is not one.
bool attachment_of(const json& in, std::optional<std::string>& key) {
  if (!in.contains("attachment") || in["attachment"].is_null()) return true;
  if (!in["attachment"].is_string() || !valid_key(in["attachment"].get<std::string>())) return false;
  key = in["attachment"].get<std::string>();
  return true;
}

constexpr std::string_view bad_attachment = "\"attachment\" must be a key that POST /attachments returned";

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

// Whether a failed read means the request was malformed (the client gets a
// 400, 413 or 431) rather than that the client went away or was too slow
// (nobody to answer).
bool malformed(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

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
  asio::steady_timer wake;      // the writer sleeps on it while the outbox is empty
  unsigned handshake_status = 0;  // what the upgrade was answered with
  bool handling = false;          // a client message is being acted on
  bool going_away = false;        // the gateway is stopping: close with 1001 once idle
  bool closed = false;
};

// A public HTTP connection, as the shutdown sees it: between requests it is
// closed at once, a request in the works may finish until the deadline.
struct http_connection {
  explicit http_connection(tcp::socket socket) : stream(std::move(socket)) {}
  enum class phase { between_requests, reading, handling, writing, websocket };
  beast::tcp_stream stream;
  phase now = phase::between_requests;
};

struct server::impl {
  explicit impl(config c)
      : cfg(std::move(c)),
        pool(ioc.get_executor(), cfg.database_url, cfg.db_pool_size, cfg.db_acquire_timeout),
        store(pool),
        acks(cfg.ack_queue_capacity, ack_depth),
        s3(ioc.get_executor(), s3_config{cfg.s3_endpoint,
                                          cfg.s3_bucket,
                                          cfg.s3_region,
                                          {cfg.s3_access_key, cfg.s3_secret_key},
                                          cfg.max_attachment_bytes,
                                          std::chrono::milliseconds(10000)}),
        ready(ioc.get_executor(), cfg.database_url, s3, errors) {}

  // --- Fan-out and queues ----------------------------------------------------

  void deliver(connection& c, const std::shared_ptr<const std::string>& payload) {
    if (c.closed) return;
    auto copy = payload;
    if (!c.outbox.try_push(std::move(copy))) {
      metrics.channel_dropped_messages.increment();
      outbound_drops("a client is not reading and its queue is full: message dropped (--outbound-queue)");
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
      metrics.channel_dropped_messages.increment();
      ack_drops("the database is behind and the queue is full: ACK dropped (--ack-queue)");
      return;
    }
    if (acks.size() >= cfg.ack_batch_size) ack_timer.cancel();
  }

  // Takes batches off the ACK queue and writes them; a batch the database
  // refuses is retried, so while it is away the queue fills and further
  // ACKs are dropped and counted instead of held without bound. On a
  // shutdown it writes what is queued at once, until the deadline.
  awaitable<void> ack_writer() {
    std::vector<ack> batch;
    for (;;) {
      if (!stopping && batch.empty() && acks.size() < cfg.ack_batch_size) {
        ack_timer.expires_after(cfg.ack_flush_interval);
        co_await ack_timer.async_wait(token);
      }
      while (batch.size() < cfg.ack_batch_size) {
        std::optional<ack> a = acks.pop();
        if (!a) break;
        batch.push_back(std::move(*a));
      }
      if (batch.empty()) {
        if (stopping) break;
        continue;
      }
      try {
        co_await store.record_acks(batch);
        batch.clear();
      } catch (const db_error& e) {
        if (aborting) break;
        errors.report(e);
      }
      if (!batch.empty()) {
        ack_timer.expires_after(std::chrono::milliseconds(500));
        co_await ack_timer.async_wait(token);
      }
    }
    if (const std::size_t lost = batch.size() + acks.size(); lost > 0)
      std::fprintf(stderr, "gateway: %zu ACKs not written: the database did not take them before the deadline\n",
                   lost);
    ack_writer_running = false;
    drained_maybe();
  }

  // What a client hears when an upstream failed its request: which service
  // is unavailable, or that the gateway is shutting down, and no more.
  response unavailable(const request& req, const db_error& e) {
    if (aborting) return error(req, http::status::service_unavailable, shutting_down);
    errors.report(e);
    return error(req, http::status::service_unavailable, database_unavailable);
  }
  response unavailable(const request& req, const s3_error& e) {
    if (aborting) return error(req, http::status::service_unavailable, shutting_down);
    errors.report(e);
    return error(req, http::status::bad_gateway, object_store_unavailable);
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
      if (!attachment_of(in, attachment)) {
        reply(c, {{"type", "error"}, {"error", bad_attachment}});
        co_return;
      }
      const json ref = in.contains("ref") ? in["ref"] : json();
      try {
        message m = co_await store.insert(*room, c.user, in["body"].get<std::string>(), attachment);
        fan_out(m, &c);
        reply(c, {{"type", "sent"}, {"id", m.id}, {"room", m.room}, {"ref", ref}});
      } catch (const db_error& e) {
        if (!aborting) errors.report(e);
        reply(c, {{"type", "error"},
                  {"error", std::string("message not stored: ") +
                                std::string(aborting ? shutting_down : database_unavailable)},
                  {"ref", ref}});
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
        if (c->going_away && !c->handling) {
          // What the client was owed is out: tell it the gateway is going
          // away (RFC 6455's 1001) and wait for its close, as Beast does.
          co_await c->ws.async_close(websocket::close_code::going_away, token);
          break;
        }
        c->wake.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake.async_wait(token);
        continue;
      }
      c->ws.text(true);
      auto [ec, n] = co_await c->ws.async_write(asio::buffer(**next), token);
      if (ec) break;
      metrics.ws_messages_sent.increment();
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

  // The gateway is stopping: the connection closes with 1001 once what it
  // is doing is done and its outbox is empty.
  static void send_away(connection& c) {
    c.going_away = true;
    c.wake.cancel();
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
    // Beast answers a handshake it refuses itself (400, or 426 for another
    // protocol version); the decorator sees every answer, so the metric
    // says what was sent.
    c->ws.set_option(websocket::stream_base::decorator(
        [conn = c.get()](websocket::response_type& res) { conn->handshake_status = res.result_int(); }));
    // Listed from the handshake on, so that a shutdown reaches it.
    connections.insert(c.get());
    if (stopping) send_away(*c);
    auto [ec] = co_await c->ws.async_accept(req, token);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string_view method = method_label(req.method());
    metrics.http_requests.with(method, "/ws", std::to_string(c->handshake_status)).increment();
    record_request_duration(method, "/ws", took, trace_context::request_trace(req["traceparent"]));
    if (ec) {
      connections.erase(c.get());
      co_return;
    }
    metrics.active_connections.increment();
    asio::co_spawn(ioc, ws_writer(c), asio::detached);
    beast::flat_buffer buffer;
    while (!c->closed) {
      // A message over read_message_max fails here after Beast has sent
      // close code 1009; a protocol violation, after close code 1002.
      auto [read_error, n] = co_await c->ws.async_read(buffer, token);
      if (read_error) break;
      metrics.ws_messages_received.increment();
      const bool text = c->ws.got_text();
      std::string payload = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (!text) {
        reply(*c, {{"type", "error"}, {"error", "binary messages are not supported"}});
        continue;
      }
      c->handling = true;
      co_await handle_ws_text(*c, payload);
      c->handling = false;
      if (c->going_away) c->wake.cancel();
    }
    connections.erase(c.get());
    close(*c);
    metrics.active_connections.decrement();
    drained_maybe();
  }

  // --- HTTP -------------------------------------------------------------------

  awaitable<response> handle_http(const request& req, const route_match& m) {
    // HEAD is GET without the body, which the session leaves out.
    const http::verb v = req.method() == http::verb::head ? http::verb::get : req.method();
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
    res.set(http::field::allow, m.id == route_id::room_messages ? "GET, HEAD, POST"
                                : m.id == route_id::attachments ? "POST"
                                                                : "GET, HEAD");
    co_return res;
  }

  awaitable<response> post_message(const request& req, const std::string& room) {
    std::optional<std::string> user = user_of(req);
    if (!user) co_return error(req, http::status::unauthorized, "a user id is required (Authorization: Bearer <id>)");
    const json in = json::parse(req.body(), nullptr, false);
    if (in.is_discarded() || !in.is_object() || !in.contains("body") || !in["body"].is_string())
      co_return error(req, http::status::bad_request, "expected {\"body\": \"...\"}");
    std::optional<std::string> attachment;
    if (!attachment_of(in, attachment)) co_return error(req, http::status::bad_request, bad_attachment);
    try {
      message m = co_await store.insert(room, *user, in["body"].get<std::string>(), attachment);
      fan_out(m, nullptr);
      co_return make(req, http::status::created, dump(to_json(m)));
    } catch (const db_error& e) {
      co_return unavailable(req, e);
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
      std::vector<message> page = co_await store.history(room, before, limit);
      json out{{"room", room}, {"messages", json::array()}, {"next_before", nullptr}};
      for (const message& m : page) out["messages"].push_back(to_json(m));
      if (static_cast<int>(page.size()) == limit) out["next_before"] = page.back().id;
      co_return make(req, http::status::ok, dump(out));
    } catch (const db_error& e) {
      co_return unavailable(req, e);
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
      co_return unavailable(req, e);
    }
  }

  awaitable<response> download(const request& req, const std::string& key) {
    if (!valid_key(key)) co_return error(req, http::status::not_found, "no such attachment");
    try {
      std::optional<s3_object> obj = co_await s3.get_object(key);
      if (!obj) co_return error(req, http::status::not_found, "no such attachment");
      co_return make(req, http::status::ok, std::move(obj->body),
                     obj->content_type.empty() ? "application/octet-stream" : obj->content_type);
    } catch (const s3_error& e) {
      co_return unavailable(req, e);
    }
  }

  awaitable<void> http_session(tcp::socket socket) {
    http_connection conn(std::move(socket));
    beast::tcp_stream& stream = conn.stream;
    beast::flat_buffer buffer;
    http_connections.insert(&conn);
    struct forget {
      impl* self;
      http_connection* c;
      ~forget() {
        self->http_connections.erase(c);
        --self->open_connections;
        self->drained_maybe();
      }
    } guard{this, &conn};
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      // The body's limit depends on the route, which the header names: it
      // is set, and a Content-Length checked against it, once that is read.
      parser.body_limit(boost::none);
      conn.now = http_connection::phase::between_requests;
      stream.expires_after(std::chrono::seconds(30));
      auto [header_error, header_bytes] = co_await http::async_read_header(stream, buffer, parser, token);
      if (header_error) {
        if (malformed(header_error)) {
          const bool too_large = header_error == http::error::header_limit;
          // Its method and target are unknown, and it has no start to time from.
          metrics.http_requests.with("OTHER", "unmatched", too_large ? "431" : "400").increment();
          co_await write_error(stream, too_large ? http::status::request_header_fields_too_large : http::status::bad_request,
                               too_large ? "headers too large" : "malformed request");
        }
        co_return;
      }
      conn.now = http_connection::phase::reading;
      const auto started = std::chrono::steady_clock::now();
      std::optional<route_match> m = routes.match(parser.get().target());
      const std::string_view route_label = m ? m->route_template : unmatched_route;
      const http::verb verb = parser.get().method();
      const trace_context::request_trace trace(parser.get()["traceparent"]);
      auto count = [&](std::string_view status) {
        metrics.http_requests.with(method_label(verb), route_label, status).increment();
        record_request_duration(method_label(verb), route_label, seconds_since(started), trace);
      };
      if (m && m->id == route_id::websocket && websocket::is_upgrade(parser.get())) {
        request req = parser.release();
        std::optional<std::string> user = user_of(req);
        if (!user) {
          response res = error(req, http::status::unauthorized, "a user id is required (?user=<id>)");
          res.keep_alive(false);
          count("401");
          co_await http::async_write(stream, res, token);
          co_return;
        }
        conn.now = http_connection::phase::websocket;
        stream.expires_never();
        co_await ws_session(stream.release_socket(), std::move(req), std::move(*user), started);
        co_return;
      }
      const std::size_t body_limit = m && m->id == route_id::attachments ? cfg.max_attachment_bytes : cfg.max_body_bytes;
      if (parser.content_length() && *parser.content_length() > body_limit) {
        count("413");
        co_await write_error(stream, http::status::payload_too_large, "body too large");
        co_return;
      }
      parser.body_limit(body_limit);  // bounds a chunked body as it arrives
      // A client that asked may send its body only once told to (RFC 9110,
      // 10.1.1); curl waits a second for this otherwise.
      if (!parser.is_done() && parser.get().version() >= 11 &&
          beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
        auto [continue_error, sent] = co_await http::async_write(stream, go_on, token);
        if (continue_error) co_return;
      }
      auto [body_error, body_bytes] = co_await http::async_read(stream, buffer, parser, token);
      if (body_error == http::error::body_limit) {
        count("413");
        co_await write_error(stream, http::status::payload_too_large, "body too large");
        co_return;
      }
      if (malformed(body_error)) {
        count("400");
        co_await write_error(stream, http::status::bad_request, "malformed body");
        co_return;
      }
      if (body_error) co_return;
      request req = parser.release();
      conn.now = http_connection::phase::handling;
      // Not `m ? co_await ... : ...`: g++ 12 miscompiles a co_await in a
      // conditional expression.
      response res;
      if (m)
        res = co_await handle_http(req, *m);
      else
        res = error(req, http::status::not_found, "not found");
      if (stopping) res.keep_alive(false);
      count(std::to_string(res.result_int()));
      // A HEAD answer is the GET answer's header, its Content-Length included.
      if (verb == http::verb::head) res.body().clear();
      conn.now = http_connection::phase::writing;
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
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, token);
  }

  // --- Connections --------------------------------------------------------------

  void accepted(tcp::socket socket) {
    if (open_connections >= cfg.max_connections) {
      refuse(socket);
      return;
    }
    ++open_connections;
    asio::co_spawn(ioc, http_session(std::move(socket)), asio::detached);
  }

  // Beyond --max-connections: a 503, if the socket takes it at once, and
  // the connection closes as `socket` goes.
  static void refuse(tcp::socket& socket) {
    static const std::string busy = [] {
      const std::string body = R"({"error":"too many connections"})";
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }();
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(busy), ignored);
    metrics.http_connections_refused.increment();
  }

  // --- Shutdown ----------------------------------------------------------------
  //
  // Stop accepting; close connections between requests, and WebSocket
  // clients with 1001 once they are idle; give what is in the works until
  // the deadline. Then abort(): database and object store calls fail at once,
  // so their requests answer 503, and cut_off() closes whatever is left
  // shortly after. The I/O thread returns when the last coroutine has.

  void begin_shutdown() {
    stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    ready.stop();
    ack_timer.cancel();  // what is queued is written now
    for (http_connection* h : http_connections)
      if (h->now == http_connection::phase::between_requests) h->stream.close();
    for (connection* c : connections) send_away(*c);
    drain_deadline.expires_after(cfg.shutdown_timeout);
    drain_deadline.async_wait([this](beast::error_code ec) {
      if (!ec && !drained) abort();
    });
    drained_maybe();
  }

  void abort() {
    aborting = true;
    pool.stop();
    s3.stop();
    ack_timer.cancel();  // a batch waiting to be retried is given up now
    for (http_connection* h : http_connections)
      if (h->now != http_connection::phase::handling && h->now != http_connection::phase::websocket)
        h->stream.close();
    // What waited for an upstream answers 503 now, and a WebSocket client
    // that was waiting hears why and gets its 1001: a moment for those to
    // go out, then whatever is left is closed.
    drain_deadline.expires_after(last_write_timeout);
    drain_deadline.async_wait([this](beast::error_code ec) {
      if (!ec && !drained) cut_off();
    });
  }

  void cut_off() {
    for (http_connection* h : http_connections) h->stream.close();
    for (connection* c : std::vector<connection*>(connections.begin(), connections.end())) close(*c);
  }

  // Once no connection and no ACK is left, nothing may wait any more.
  void drained_maybe() {
    if (!stopping || drained || !http_connections.empty() || !connections.empty() || ack_writer_running) return;
    drained = true;
    drain_deadline.cancel();
    pool.stop();
    s3.stop();
  }

  // Declared in destruction order's reverse: the io_context goes last, after
  // every object with an I/O object in it.
  asio::io_context ioc{1};
  config cfg;
  route_table routes;
  pg_pool pool;
  message_store store;
  std::atomic<std::size_t> outbound_depth{0}, ack_depth{0};
  queue_depth_gauges depth_metrics{outbound_depth, ack_depth};
  bounded_queue<ack> acks;
  std::unordered_map<std::string, std::unordered_set<connection*>> rooms;
  std::unordered_set<connection*> connections;
  std::unordered_set<http_connection*> http_connections;
  std::size_t open_connections = 0;  // public connections, HTTP and WebSocket
  std::uint16_t port = 0;
  upstream_errors errors;
  // Drops are counted in channel_dropped_messages_total, and logged too:
  // an OBS_DISABLE=1 build, or one nobody scrapes, still tells of them.
  throttled_log outbound_drops{"outbound queue", "messages dropped"};
  throttled_log ack_drops{"ACK queue", "ACKs dropped"};
  bool stopping = false, aborting = false, drained = false;
  bool ack_writer_running = false;
  bool started = false;
  s3_client s3;
  readiness ready;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer ack_timer{ioc};
  asio::steady_timer drain_deadline{ioc};
  std::thread io_thread;
};

server::server(config c) : impl_(std::make_unique<impl>(std::move(c))) {}

server::~server() { stop(); }

void server::start() {
  impl& s = *impl_;
  // Once, before serving: afterwards the tables are used and the bucket
  // only checked (readiness).
  std::future<void> tables = asio::co_spawn(s.ioc, s.store.migrate(), asio::use_future);
  std::future<void> bucket = asio::co_spawn(s.ioc, s.s3.ensure_bucket(), asio::use_future);
  s.ioc.run();
  s.ioc.restart();
  tables.get();
  bucket.get();

  const tcp::endpoint ep(asio::ip::make_address(s.cfg.listen.host), s.cfg.listen.port);
  s.acceptor.open(ep.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(ep);
  s.acceptor.listen(asio::socket_base::max_listen_connections);
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.ioc,
                 service::accept_loop(
                     s.acceptor, "gateway", [&s](tcp::socket socket) { s.accepted(std::move(socket)); },
                     [](const boost::system::error_code&) { metrics.http_accept_errors.increment(); }),
                 asio::detached);
  s.ack_writer_running = true;
  asio::co_spawn(s.ioc, s.ack_writer(), asio::detached);
  s.ready.start();
  s.started = true;
  s.io_thread = std::thread([&s] { s.ioc.run(); });
}

void server::stop() {
  impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  asio::post(s.ioc, [&s] { s.begin_shutdown(); });
  s.io_thread.join();
}

std::uint16_t server::port() const noexcept { return impl_->port; }

bool server::database_ready() const noexcept { return impl_->ready.database_ready(); }

bool server::object_store_ready() const noexcept { return impl_->ready.object_store_ready(); }

}  // namespace gateway
