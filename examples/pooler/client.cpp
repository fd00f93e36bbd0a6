// The client side: a client's startup packet, its login (front-end SCRAM or
// MD5 against a configured or looked-up secret), and the messages it sends,
// which go to a server connection lent for the transaction. The answers come
// back through server.cpp.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"
#include "service.hpp"

namespace pooler {
namespace {

using asio::use_awaitable;

constexpr std::size_t read_size = 16 * 1024;
constexpr auto login_timeout = std::chrono::seconds(60);

/// A login that ends with a FATAL error; what() is the message for the
/// client, which names nothing internal.
class login_refused : public std::runtime_error {
 public:
  login_refused(const char* sqlstate, const std::string& message) : std::runtime_error(message), sqlstate(sqlstate) {}
  const char* sqlstate;
};

// Sends `bytes` if the socket takes them now: whoever is told of an error
// is not waited for.
void tell(client& c, const std::string& bytes) {
  if (c.replying) return;
  ::send(c.socket.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

void service::give_up_waiting(client& c) {
  tell(c, error_message("FATAL", pgwire::sqlstate::connection_failure, "query_wait_timeout"));
  end_session(c, nullptr);
}

void service::terminate(client& c, std::string_view message) {
  tell(c, error_message("FATAL", admin_shutdown, std::string(message)));
  close_quietly(c.socket);
}

asio::awaitable<void> service::handle_client(std::shared_ptr<client> c) {
  clients_[c->id] = c;
  // A client that never finishes logging in must not hold its slot forever
  // (pgbouncer's client_login_timeout).
  asio::co_spawn(
      ioc_,
      [weak = std::weak_ptr<client>(c)]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, login_timeout);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
        if (auto c = weak.lock(); c && !c->logged_in) close_quietly(c->socket);
      },
      asio::detached);
  std::string failure;
  bool started = false;
  try {
    pgwire::startup_packet packet;
    for (int attempt = 0;; ++attempt) {
      c->decoder.expect_startup();
      auto m = co_await pgwire::async_read_message(c->socket, c->decoder);
      packet = pgwire::parse_startup(m.body);
      if (packet.type == pgwire::startup_packet::kind::ssl_request ||
          packet.type == pgwire::startup_packet::kind::gssenc_request) {
        if (attempt >= 2) throw pgwire::protocol_error("too many encryption requests");
        co_await write_all(c->socket, "N");  // no TLS: the client may go on in plain text
        continue;
      }
      break;
    }
    started = true;
    if (packet.type == pgwire::startup_packet::kind::cancel_request) {
      cancel(packet.process_id, packet.secret_key);
    } else {
      c->user = packet.parameter("user");
      c->database = packet.parameter("database");
      if (c->database.empty()) c->database = c->user;
      c->application_name = packet.parameter("application_name");
      auto key = random_bytes(8);
      std::memcpy(&c->cancel_pid, key.data(), 4);
      std::memcpy(&c->cancel_key, key.data() + 4, 4);
      if (c->database == "pgdoorman" || c->database == "pgbouncer") {
        c->admin = true;
        co_await serve_admin(c);
      } else {
        co_await serve_pooled(c);
      }
    }
  } catch (const login_refused& e) {
    failure = error_message("FATAL", e.sqlstate, e.what());
  } catch (const pgwire::protocol_error& e) {
    // The client broke the protocol: its error, counted as such, never as
    // a pool's.
    m_.client_protocol_errors.increment();
    std::string complaint = e.what();
    if (auto length = started ? oversized(c->decoder, cfg_.max_message_size) : std::nullopt)
      complaint = "message of " + std::to_string(*length) + " bytes exceeds the limit of " +
                  std::to_string(cfg_.max_message_size) + " bytes (general.max_message_size)";
    failure = error_message("FATAL", pgwire::sqlstate::protocol_violation, complaint);
  } catch (const boost::system::system_error&) {
    // The client went away; nothing to tell it.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pooler: client %s:%u: %s\n", c->addr.c_str(), unsigned{c->port}, describe(e).c_str());
    failure = error_message("FATAL", pgwire::sqlstate::internal_error, "internal error");
  }
  if (!failure.empty()) tell(*c, failure);
  c->closing = true;
  if (c->server) {
    // Wakes relay(), which decides whether the server can be reused.
    boost::system::error_code ignored;
    c->server->socket.cancel(ignored);
  }
  if (c->pool_) {
    --c->pool_->clients;
    c->pool_->last_used = steady::now();
  }
  clients_.erase(c->id);
  close_quietly(c->socket);
}

asio::awaitable<std::optional<secret>> service::authenticate(
    client& c, secret s, std::function<asio::awaitable<std::optional<secret>>()> refetch) {
  std::string out;
  if (s.type == secret::kind::md5) {
    auto salt = random_bytes(4);
    std::array<char, 4> salt_bytes{};
    std::memcpy(salt_bytes.data(), salt.data(), 4);
    pgwire::authentication_md5(out, salt_bytes);
    co_await write_all(c.socket, out);
    auto m = co_await pgwire::async_read_message(c.socket, c.decoder);
    if (m.type != 'p') throw pgwire::protocol_error("expected a password message");
    std::string answer(pgwire::body_reader(m.body).cstring());
    if (answer == md5_response(s.text, salt)) co_return s;
    if (refetch) {
      auto fresh = co_await refetch();
      if (fresh && fresh->type == secret::kind::md5 && answer == md5_response(fresh->text, salt)) co_return fresh;
    }
    co_return std::nullopt;
  }
  const std::string_view mechanisms[] = {"SCRAM-SHA-256"};
  pgwire::authentication_sasl(out, mechanisms);
  co_await write_all(c.socket, out);
  auto m = co_await pgwire::async_read_message(c.socket, c.decoder);
  if (m.type != 'p') throw pgwire::protocol_error("expected a SASLInitialResponse");
  auto initial = pgwire::parse_sasl_initial_response(m.body);
  if (initial.mechanism != "SCRAM-SHA-256") throw pgwire::protocol_error("unsupported SASL mechanism");
  scram_server exchange(s.scram);
  auto server_first = exchange.first(initial.data);
  if (!server_first) throw pgwire::protocol_error("malformed SCRAM client-first-message");
  out.clear();
  pgwire::authentication_sasl_continue(out, *server_first);
  co_await write_all(c.socket, out);
  m = co_await pgwire::async_read_message(c.socket, c.decoder);
  if (m.type != 'p') throw pgwire::protocol_error("expected a SASLResponse");
  std::string client_final(m.body);
  std::string server_final;
  auto client_key = exchange.final(client_final, server_final);
  if (!client_key && refetch) {
    auto fresh = co_await refetch();
    // A new verifier with another salt cannot check this exchange; the
    // client's next attempt meets the fresh entry instead.
    if (fresh && fresh->type == secret::kind::scram && fresh->scram.salt == s.scram.salt &&
        fresh->scram.iterations == s.scram.iterations) {
      exchange.rebind(fresh->scram);
      client_key = exchange.final(client_final, server_final);
      if (client_key) s = *fresh;
    }
  }
  if (!client_key) co_return std::nullopt;
  out.clear();
  pgwire::authentication_sasl_final(out, server_final);
  co_await write_all(c.socket, out);
  s.client_key = *client_key;
  co_return s;
}

asio::awaitable<std::optional<secret>> service::log_in(client& c, std::shared_ptr<database_state> db) {
  // A configured user's pool holds its secret, derived once when the config
  // was loaded: a plaintext password costs a PBKDF2 run, which per login would
  // dwarf the work of many transactions. A copy, as a RELOAD during the
  // handshake replaces the pool's.
  auto static_pool = pools_.find({c.database, c.user});
  if (static_pool != pools_.end() && !static_pool->second->dynamic) {
    secret s = static_pool->second->credentials;
    c.source = auth_source::config;
    co_return co_await authenticate(c, s, {});
  }
  if (db->cfg.auth_query && db->exec) {
    c.source = auth_source::auth_query;
    bool from_cache = false;
    std::optional<secret> found;
    std::string lookup_error;
    try {
      found = co_await lookup_user(db, c.user, from_cache);
    } catch (const std::exception& e) {
      lookup_error = describe(e);
    }
    if (!lookup_error.empty()) {
      // Counted as an executor error; the client learns nothing of the server.
      std::fprintf(stderr, "pooler: auth_query of %s for %s failed: %s\n", c.database.c_str(), c.user.c_str(),
                   lookup_error.c_str());
      throw login_refused(pgwire::sqlstate::invalid_authorization, "auth_query failed");
    }
    if (found) {
      std::function<asio::awaitable<std::optional<secret>>()> refetch;
      if (from_cache) {
        refetch = [this, db, user = c.user]() -> asio::awaitable<std::optional<secret>> {
          if (!db->cache->allow_refetch(user, steady::now())) {
            db->m->cache_rate_limited.increment();
            co_return std::nullopt;
          }
          db->m->cache_refetches.increment();
          std::optional<secret> fresh;
          try {
            fresh = co_await fetch_coalesced(db, user, false);
          } catch (const std::exception&) {
            // Counted as an executor error; the login fails with the old secret.
          }
          co_return fresh;
        };
      }
      co_return co_await authenticate(c, *found, std::move(refetch));
    }
  }
  // No such user: the exchange runs all the same, as PostgreSQL's does, and
  // fails as a wrong password would.
  co_await authenticate(c, mock_secret(c.database + "/" + c.user, mock_key_), {});
  co_return std::nullopt;
}

asio::awaitable<void> service::serve_pooled(std::shared_ptr<client> c) {
  auto db_it = databases_.find(c->database);
  if (db_it == databases_.end()) throw login_refused("3D000", "no such database: " + c->database);
  auto db = db_it->second;
  const auto denied = "password authentication failed for user \"" + c->user + "\"";
  auto proved = co_await log_in(*c, db);
  if (!proved) throw login_refused(pgwire::sqlstate::invalid_password, denied);

  auto pool_it = pools_.find({c->database, c->user});
  std::shared_ptr<pool> p;
  if (pool_it != pools_.end()) {
    p = pool_it->second;
  } else {
    // A configured user whose pool a RELOAD removed during the handshake is
    // no longer configured.
    if (c->source != auth_source::auth_query || !db->cfg.auth_query)
      throw login_refused(pgwire::sqlstate::invalid_password, denied);
    p = make_pool(*db, c->user, *proved, db->cfg.auth_query->pool_size, db->cfg.auth_query->mode, true);
  }
  // The latest proof carries the ClientKey for SCRAM pass-through.
  p->credentials = *proved;
  c->pool_ = p;
  ++p->clients;
  p->last_used = steady::now();

  if (!p->has_parameters) {
    // A server's ParameterStatus values are what the client is told.
    std::shared_ptr<server_conn> sv;
    try {
      sv = co_await acquire(c);
    } catch (const std::exception&) {
      // acquire() logged and counted it.
    }
    c->waiting = false;
    if (!sv) {
      if (draining_) co_return;  // told already
      throw login_refused(pgwire::sqlstate::connection_failure, "could not connect to the server");
    }
    release(*c->pool_, sv, true);
  }
  c->logged_in = true;
  std::string out;
  pgwire::authentication_ok(out);
  for (const auto& [name, value] : c->pool_->parameters) pgwire::parameter_status(out, name, value);
  pgwire::backend_key_data(out, c->cancel_pid, c->cancel_key);
  pgwire::ready_for_query(out, 'I');
  co_await write_all(c->socket, out);

  // Client -> server, in callbacks from here on; relay() runs beside them
  // whenever a server is attached and carries the answers back.
  c->session_end.expires_at(steady::time_point::max());
  read_client(c);
  if (!c->session_over) co_await c->session_end.async_wait(asio::as_tuple(use_awaitable));
  if (c->session_failure) std::rethrow_exception(c->session_failure);
}

void service::end_session(client& c, std::exception_ptr failure) {
  c.session_failure = std::move(failure);
  c.session_over = true;
  c.session_end.cancel();
}

// A read, not a wait for readability: Asio re-arms the descriptor with
// epoll_ctl for every wait, while a read after a short one is queued with no
// system call at all (relay_socket.hpp).
void service::read_client(std::shared_ptr<client> c) {
  auto& socket = c->socket;
  const std::span<char> room = c->decoder.prepare(read_size);
  socket.async_read_when_ready(room, [this, c = std::move(c)](boost::system::error_code ec, std::size_t n) mutable {
    if (ec) return end_session(*c, std::make_exception_ptr(boost::system::system_error(ec)));
    c->decoder.commit(n);
    on_client_data(std::move(c));
  });
}

void service::on_client_data(std::shared_ptr<client> c) {
  const char* first = nullptr;
  std::size_t length = 0;
  int answers = 0;
  bool terminate_message = false;
  try {
    while (auto m = c->decoder.next()) {
      switch (m->type) {
        case 'X':
          terminate_message = true;
          break;
        case 'Q':
        case 'S':
          ++answers;
          c->extended_open = false;
          break;
        case 'P': case 'B': case 'E': case 'D': case 'C': case 'H': case 'F':
          c->extended_open = true;
          break;
        case 'd': case 'c': case 'f':
          break;  // CopyData, CopyDone, CopyFail
        default:
          // PostgreSQL's own words; its server never sees the message.
          throw pgwire::protocol_error("invalid frontend message type " +
                                       std::to_string(static_cast<unsigned char>(m->type)));
      }
      if (terminate_message) break;
      if (!first) first = m->frame.data();
      length = static_cast<std::size_t>(m->frame.data() + m->frame.size() - first);
    }
  } catch (const pgwire::protocol_error&) {
    return end_session(*c, std::current_exception());
  }
  if (length > 0) return forward(std::move(c), std::string_view(first, length), answers, terminate_message);
  if (terminate_message) return end_session(*c, nullptr);
  read_client(std::move(c));
}

void service::note_request(client& c, std::size_t bytes, int answers, steady::time_point now) {
  if (c.pending == 0 && answers > 0) c.query_start = now;
  c.pending += answers;
  c.pool_->stats.bytes_received += bytes;
}

void service::forward(std::shared_ptr<client> c, std::string_view request, int answers, bool then_end) {
  bool fresh = false;
  const auto now = steady::now();
  if (c->waiting && c->server) {
    // Handed over by release() while it was queued.
    fresh = true;
  } else if (!c->server && !draining_ && !c->pool_->destroyed) {
    if (auto sv = take_idle(*c->pool_, c->waiting ? c->asked : now)) {
      c->server = std::move(sv);
      fresh = true;
    } else if (c->pool_->full()) {
      // Held, not read on: the first connection returned comes to it.
      c->held = client::held_request{request, answers, then_end};
      return queue_for_server(std::move(c), now);
    }
  }
  if (fresh) {
    c->waiting = false;
    c->server->link = c;
    c->xact_start = now;
  }
  if (!c->server) {
    // A connection to make, or no pool to make it in: a coroutine's work.
    asio::co_spawn(ioc_, forward_waiting(std::move(c), request, answers, then_end, false, false, 0), asio::detached);
    return;
  }
  note_request(*c, request.size(), answers, now);
  auto& sv = *c->server;
  c->request_time = sv.request_time = std::chrono::system_clock::now();
  // One write, as pgbouncer's when the socket takes it all; a socket that
  // takes part of it, or fails, is a coroutine's to wait on or to tell.
  const auto n = ::send(sv.socket.native_handle(), request.data(), request.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(request.size())) {
    const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    c->writing = true;  // until send_to_server has written the rest
    asio::co_spawn(ioc_, forward_waiting(std::move(c), request, answers, then_end, true, fresh, sent), asio::detached);
    return;
  }
  if (fresh) relay(c, c->server);
  if (then_end) return end_session(*c, nullptr);
  read_client(std::move(c));
}

asio::awaitable<void> service::forward_waiting(std::shared_ptr<client> c, std::string_view request, int answers,
                                               bool then_end, bool counted, bool fresh, std::size_t sent) {
  bool sent_all = false;
  std::exception_ptr failure;
  try {
    sent_all = co_await send_to_server(c, request, answers, counted, fresh, sent);
  } catch (...) {
    failure = std::current_exception();
  }
  if (sent_all && !then_end) read_client(std::move(c));
  else end_session(*c, std::move(failure));
}

asio::awaitable<bool> service::send_to_server(std::shared_ptr<client> c, std::string_view request, int answers,
                                              bool counted, bool fresh, std::size_t sent) {
  for (int attempt = 0;; ++attempt) {
    if (!c->server) {
      fresh = true;
      // Between transactions: a stopping pooler, or a RELOAD that removed
      // the client's user, ends the session here.
      if (draining_ || c->pool_->destroyed) {
        terminate(*c);
        co_return false;
      }
      std::string error;
      try {
        c->server = co_await acquire(c);
      } catch (const timeout_error&) {
        error = "query_wait_timeout";
      } catch (const std::exception&) {
        error = "could not connect to the server";  // acquire() logged and counted it
      }
      c->waiting = false;
      if (draining_ || c->pool_->destroyed) {
        if (c->server) release(*c->pool_, std::exchange(c->server, nullptr), true);
        terminate(*c);
        co_return false;
      }
      if (!error.empty()) {
        co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::connection_failure, error));
        co_return false;
      }
      c->server->link = c;
      c->xact_start = steady::now();
    }
    if (!counted) {
      // Counted before the write: relay() may read the answer before this
      // coroutine resumes.
      note_request(*c, request.size(), answers, steady::now());
      counted = true;
    }
    auto sv = c->server;
    c->request_time = sv->request_time = std::chrono::system_clock::now();
    c->writing = true;
    auto [ec, written] = co_await asio::async_write(
        sv->socket, asio::buffer(request.data() + sent, request.size() - sent), asio::as_tuple(use_awaitable));
    written += std::exchange(sent, 0);
    c->writing = false;
    if (!ec) {
      if (fresh) relay(c, sv);
      break;
    }
    if (!fresh) {
      // relay() sees the same failure and returns the connection.
      tell(*c, error_message("FATAL", pgwire::sqlstate::connection_failure, "server connection closed"));
      co_return false;
    }
    // Lent just now and dead after all (it died while idle, but the read
    // that would have seen it had not run yet): while no byte of the request
    // reached it, another connection is as good.
    c->pool_->m->errors_closed.increment();
    release(*c->pool_, std::exchange(c->server, nullptr), false);
    if (written > 0 || attempt > 0) {
      tell(*c, error_message("FATAL", pgwire::sqlstate::connection_failure, "server connection closed"));
      co_return false;
    }
  }
  co_return true;
}

}  // namespace pooler
