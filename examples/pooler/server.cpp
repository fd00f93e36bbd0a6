#include "server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"
#include "pgwire/stream.hpp"

namespace pooler {
namespace {

using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t read_size = 16 * 1024;
constexpr auto login_timeout = std::chrono::seconds(60);

/// Waiting for a server connection or a connect took too long.
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// PostgreSQL refused a login or a query; what() is its message.
class backend_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string error_message(const char* severity, const char* sqlstate, std::string message) {
  std::string out;
  pgwire::error_response(out, {severity, sqlstate, std::move(message), {}, {}});
  return out;
}

template <class Stream>
asio::awaitable<void> write_all(Stream& s, std::string_view bytes) {
  co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), use_awaitable);
}

// Runs `op`, throwing timeout_error if it takes longer than `d`; the
// operation is then cancelled. Its own exception is rethrown as it is
// (awaitable_operators' || would wait for the timer after a failure).
template <class T>
asio::awaitable<T> with_timeout(asio::awaitable<T> op, steady::duration d, const char* what) {
  auto guarded = [](asio::awaitable<T> inner) -> asio::awaitable<std::pair<std::optional<T>, std::exception_ptr>> {
    std::exception_ptr failure;
    try {
      co_return std::pair{std::optional<T>(co_await std::move(inner)), std::exception_ptr{}};
    } catch (...) {
      failure = std::current_exception();
    }
    co_return std::pair{std::optional<T>{}, failure};
  };
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto result = co_await (guarded(std::move(op)) || timer.async_wait(use_awaitable));
  if (result.index() == 1) throw timeout_error(what);
  auto& [value, failure] = std::get<0>(result);
  if (failure) std::rethrow_exception(failure);
  co_return std::move(*value);
}

asio::awaitable<bool> as_bool(asio::awaitable<void> op) {
  co_await std::move(op);
  co_return true;
}

// Logs in to PostgreSQL as `user` with whatever `credentials` holds.
asio::awaitable<void> backend_login(tcp::socket& socket, pgwire::decoder& decoder, std::string user, std::string dbname,
                                    secret credentials, std::vector<std::pair<std::string, std::string>>* parameters,
                                    std::int32_t* process_id, std::int32_t* secret_key) {
  std::string out;
  const std::pair<std::string, std::string> startup[] = {{"user", user}, {"database", dbname}};
  pgwire::startup_message(out, startup);
  co_await write_all(socket, out);
  std::optional<scram_client> scram;
  for (;;) {
    auto m = co_await pgwire::async_read_message(socket, decoder);
    switch (m.type) {
      case 'R': {
        auto request = pgwire::parse_authentication(m.body);
        out.clear();
        switch (request.code) {
          case pgwire::auth_code::ok:
            break;
          case pgwire::auth_code::cleartext:
            if (credentials.type != secret::kind::plaintext)
              throw backend_error("the server asks for a cleartext password, and only a hash is known");
            pgwire::password_message(out, credentials.text);
            break;
          case pgwire::auth_code::md5: {
            if (request.data.size() != 4) throw pgwire::protocol_error("MD5 salt is not 4 bytes");
            std::string hash;
            if (credentials.type == secret::kind::plaintext) hash = md5_password_hash(credentials.text, user);
            else if (credentials.type == secret::kind::md5) hash = credentials.text;
            else throw backend_error("the server asks for MD5, and only a SCRAM verifier is known");
            pgwire::password_message(out, md5_response(hash, request.data));
            break;
          }
          case pgwire::auth_code::sasl: {
            auto mechanisms = pgwire::parse_sasl_mechanisms(request.data);
            if (std::find(mechanisms.begin(), mechanisms.end(), "SCRAM-SHA-256") == mechanisms.end())
              throw backend_error("the server offers no SCRAM-SHA-256");
            if (credentials.type == secret::kind::md5)
              throw backend_error("the server asks for SCRAM, and only an MD5 hash is known");
            scram.emplace(credentials);
            pgwire::sasl_initial_response_message(out, "SCRAM-SHA-256", scram->first());
            break;
          }
          case pgwire::auth_code::sasl_continue:
            if (!scram) throw pgwire::protocol_error("SASL continue without SASL");
            pgwire::sasl_response(out, scram->final(request.data));
            break;
          case pgwire::auth_code::sasl_final:
            if (!scram || !scram->verify(request.data)) throw backend_error("the server's SCRAM signature is wrong");
            break;
          default:
            throw backend_error("unsupported authentication request " + std::to_string(request.code));
        }
        if (!out.empty()) co_await write_all(socket, out);
        break;
      }
      case 'S':
        if (parameters) {
          auto [name, value] = pgwire::parse_parameter_status(m.body);
          parameters->emplace_back(name, value);
        }
        break;
      case 'K':
        if (process_id) std::tie(*process_id, *secret_key) = pgwire::parse_backend_key_data(m.body);
        break;
      case 'E':
        throw backend_error(pgwire::parse_error_response(m.body).message);
      case 'Z':
        co_return;
      default:
        break;  // NoticeResponse and the like
    }
  }
}

asio::awaitable<void> open_socket(tcp::socket& socket, std::string host, std::uint16_t port) {
  tcp::resolver resolver(socket.get_executor());
  auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), use_awaitable);
  co_await asio::async_connect(socket, endpoints, use_awaitable);
  socket.set_option(tcp::no_delay(true));
}

asio::awaitable<void> open_backend(tcp::socket& socket, pgwire::decoder& decoder, std::string host, std::uint16_t port,
                                   std::string user, std::string dbname, secret credentials,
                                   std::vector<std::pair<std::string, std::string>>* parameters, std::int32_t* process_id,
                                   std::int32_t* secret_key) {
  co_await open_socket(socket, host, port);
  co_await backend_login(socket, decoder, std::move(user), std::move(dbname), std::move(credentials), parameters,
                         process_id, secret_key);
}

void close_quietly(tcp::socket& s) noexcept {
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

// Whether an idle server connection is still open: a peek that finds EOF
// (or an error) means PostgreSQL closed it while it sat in the pool.
bool alive(tcp::socket& s) noexcept {
  char byte;
  ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

bool at_boundary(const client& c) noexcept {
  return c.pending == 0 && !c.writing && !c.extended_open && c.tx_status == 'I';
}

bool releasable(const client& c) noexcept {
  return c.pool_ && c.pool_->mode == pool_mode::transaction && at_boundary(c);
}

std::chrono::microseconds since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t);
}

}  // namespace

service::service(asio::io_context& ioc, config cfg, std::string config_path)
    : ioc_(ioc), cfg_(std::move(cfg)), config_path_(std::move(config_path)), acceptor_(ioc), gc_timer_(ioc) {
  apply_databases(cfg_.databases);
}

service::~service() { stop(); }

void service::start() {
  tcp::resolver resolver(ioc_);
  auto endpoint = *resolver.resolve(cfg_.listen.host, std::to_string(cfg_.listen.port)).begin();
  acceptor_.open(endpoint.endpoint().protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
  asio::co_spawn(ioc_, gc_loop(), asio::detached);
}

void service::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  gc_timer_.cancel();
  for (auto& [id, c] : clients_) close_quietly(c->socket);
  for (auto& [key, p] : pools_) {
    for (auto& sv : p->idle) close_quietly(sv->socket);
    for (auto& sv : p->busy) close_quietly(sv->socket);
  }
  for (auto& [name, db] : databases_)
    if (db->exec) retire(*db->exec);
}

std::uint16_t service::port() const { return acceptor_.local_endpoint().port(); }

asio::awaitable<void> service::accept_loop() {
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE: keep serving the clients we have
    }
    if (clients_.size() >= cfg_.max_client_conn) {
      std::string out = error_message("FATAL", pgwire::sqlstate::too_many_connections, "no more connections allowed");
      socket.write_some(asio::buffer(out), ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto c = std::make_shared<client>(std::move(socket));
    c->id = next_id_++;
    auto remote = c->socket.remote_endpoint(ec);
    if (!ec) {
      c->addr = remote.address().to_string();
      c->port = remote.port();
    }
    asio::co_spawn(ioc_, handle_client(c), asio::detached);
  }
}

asio::awaitable<void> service::gc_loop() {
  while (!stopped_) {
    gc_timer_.expires_after(cfg_.gc_interval);
    boost::system::error_code ec;
    co_await gc_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (stopped_) co_return;
    auto now = steady::now();
    std::vector<std::pair<std::string, std::string>> idle;
    for (auto& [key, p] : pools_) {
      if (!p->dynamic || p->clients > 0 || !p->busy.empty() || p->connecting > 0 || !p->waiters.empty()) continue;
      auto db = databases_.find(p->database);
      if (db == databases_.end() || !db->second->cfg.auth_query) continue;
      if (now - p->last_used >= db->second->cfg.auth_query->idle_timeout) idle.push_back(key);
    }
    for (auto& key : idle) destroy_pool(key);
  }
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
  } catch (const pgwire::protocol_error& e) {
    failure = error_message("FATAL", pgwire::sqlstate::protocol_violation, e.what());
  } catch (const boost::system::system_error&) {
    // The client went away; nothing to tell it.
  } catch (const std::exception& e) {
    failure = error_message("FATAL", pgwire::sqlstate::internal_error, e.what());
  }
  if (!failure.empty()) {
    boost::system::error_code ignored;
    asio::write(c->socket, asio::buffer(failure), ignored);  // best effort: the socket may be gone
  }
  c->closing = true;
  if (c->server) {
    // Wakes relay_server, which decides whether the server can be reused.
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

asio::awaitable<void> service::serve_admin(std::shared_ptr<client> c) {
  if (c->user != cfg_.admin_user || cfg_.admin_password.empty()) {
    co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::invalid_authorization,
                                                "not allowed to connect to the admin console"));
    co_return;
  }
  auto s = parse_secret(cfg_.admin_password, true);
  if (!s || !co_await authenticate(*c, *s, {})) {
    co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::invalid_password,
                                                "password authentication failed for user \"" + c->user + "\""));
    co_return;
  }
  c->logged_in = true;
  std::string out;
  pgwire::authentication_ok(out);
  for (auto [name, value] : {std::pair{"server_version", "15.0 (pooler)"}, {"server_encoding", "UTF8"},
                             {"client_encoding", "UTF8"}, {"DateStyle", "ISO"}, {"integer_datetimes", "on"},
                             {"standard_conforming_strings", "on"}})
    pgwire::parameter_status(out, name, value);
  pgwire::backend_key_data(out, c->cancel_pid, c->cancel_key);
  pgwire::ready_for_query(out, 'I');
  co_await write_all(c->socket, out);
  for (;;) {
    auto m = co_await pgwire::async_read_message(c->socket, c->decoder);
    out.clear();
    if (m.type == 'X') co_return;
    if (m.type == 'Q') {
      out = admin_query(pgwire::parse_query(m.body));
    } else if (m.type != 'S') {
      // Extended-protocol messages until the Sync get this one error.
      if (c->extended_open) continue;
      c->extended_open = true;
      pgwire::error_response(out, {"ERROR", pgwire::sqlstate::protocol_violation,
                                   "the admin console supports the simple query protocol only", {}, {}});
      co_await write_all(c->socket, out);
      continue;
    }
    c->extended_open = false;
    pgwire::ready_for_query(out, 'I');
    co_await write_all(c->socket, out);
  }
}

asio::awaitable<void> service::serve_pooled(std::shared_ptr<client> c) {
  auto db_it = databases_.find(c->database);
  if (db_it == databases_.end()) {
    co_await write_all(c->socket, error_message("FATAL", "3D000", "no such database: " + c->database));
    co_return;
  }
  auto db = db_it->second;
  auto denied = [&] {
    return error_message("FATAL", pgwire::sqlstate::invalid_password,
                         "password authentication failed for user \"" + c->user + "\"");
  };
  std::optional<secret> proved;
  // A configured user's pool holds its secret, derived once when the config
  // was loaded: a plaintext password costs a PBKDF2 run, which per login would
  // dwarf the work of many transactions. A copy, as a RELOAD during the
  // handshake replaces the pool's.
  auto static_pool = pools_.find({c->database, c->user});
  if (static_pool != pools_.end() && !static_pool->second->dynamic) {
    secret s = static_pool->second->credentials;
    c->source = auth_source::config;
    proved = co_await authenticate(*c, s, {});
  } else if (db->cfg.auth_query && db->exec) {
    c->source = auth_source::auth_query;
    bool from_cache = false;
    std::optional<secret> found;
    std::string lookup_error;
    try {
      found = co_await lookup_user(db, c->user, from_cache);
    } catch (const std::exception& e) {
      lookup_error = e.what();
    }
    if (!lookup_error.empty()) {
      co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::invalid_authorization,
                                                  "auth_query failed: " + lookup_error));
      co_return;
    }
    if (found) {
      std::function<asio::awaitable<std::optional<secret>>()> refetch;
      if (from_cache) {
        refetch = [this, db, user = c->user]() -> asio::awaitable<std::optional<secret>> {
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
      proved = co_await authenticate(*c, *found, std::move(refetch));
    }
  }
  if (!proved) {
    co_await write_all(c->socket, denied());
    co_return;
  }

  auto key = std::pair{c->database, c->user};
  auto pool_it = pools_.find(key);
  std::shared_ptr<pool> p;
  if (pool_it != pools_.end()) {
    p = pool_it->second;
  } else {
    // A configured user whose pool a RELOAD removed during the handshake is
    // no longer configured.
    if (c->source != auth_source::auth_query || !db->cfg.auth_query) {
      co_await write_all(c->socket, denied());
      co_return;
    }
    p = make_pool(*db, c->user, *proved, db->cfg.auth_query->pool_size, db->cfg.auth_query->mode, true);
  }
  // The latest proof carries the ClientKey for SCRAM pass-through.
  p->credentials = *proved;
  c->pool_ = p;
  ++p->clients;
  p->last_used = steady::now();

  if (!p->has_parameters) {
    std::string error;
    try {
      auto sv = co_await acquire(p);
      release(*p, sv, true);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::connection_failure,
                                                  "could not connect to the server: " + error));
      co_return;
    }
  }
  c->logged_in = true;
  std::string out;
  pgwire::authentication_ok(out);
  for (const auto& [name, value] : p->parameters) pgwire::parameter_status(out, name, value);
  pgwire::backend_key_data(out, c->cancel_pid, c->cancel_key);
  pgwire::ready_for_query(out, 'I');
  co_await write_all(c->socket, out);

  // Client -> server. relay_server runs beside this loop whenever a server
  // is attached and carries the answers back.
  for (;;) {
    auto room = c->decoder.prepare(read_size);
    std::size_t n = co_await c->socket.async_read_some(asio::buffer(room.data(), room.size()), use_awaitable);
    c->decoder.commit(n);
    const char* first = nullptr;
    std::size_t length = 0;
    int answers = 0;
    bool terminate = false;
    while (auto m = c->decoder.next()) {
      if (m->type == 'X') {
        terminate = true;
        break;
      }
      if (!first) first = m->frame.data();
      length = static_cast<std::size_t>(m->frame.data() + m->frame.size() - first);
      switch (m->type) {
        case 'Q':
        case 'S':
          ++answers;
          c->extended_open = false;
          break;
        case 'P': case 'B': case 'E': case 'D': case 'C': case 'H': case 'F':
          c->extended_open = true;
          break;
        default:
          break;  // CopyData, CopyDone, CopyFail
      }
    }
    if (length > 0) {
      if (!c->server) {
        std::string error;
        c->waiting = true;
        try {
          c->server = co_await acquire(p);
        } catch (const timeout_error&) {
          error = "query_wait_timeout";
        } catch (const std::exception& e) {
          error = std::string("could not connect to the server: ") + e.what();
        }
        c->waiting = false;
        if (!error.empty()) {
          co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::connection_failure, error));
          co_return;
        }
        c->server->link = c.get();
        c->xact_start = steady::now();
        asio::co_spawn(ioc_, relay_server(c, c->server), asio::detached);
      }
      if (c->pending == 0 && answers > 0) c->query_start = steady::now();
      c->pending += answers;
      c->request_time = c->server->request_time = std::chrono::system_clock::now();
      p->bytes_received += length;
      auto sv = c->server;
      c->writing = true;
      std::string write_error;
      try {
        co_await write_all(sv->socket, std::string_view(first, length));
      } catch (const std::exception& e) {
        write_error = e.what();
      }
      c->writing = false;
      if (!write_error.empty()) {
        co_await write_all(c->socket, error_message("FATAL", pgwire::sqlstate::connection_failure,
                                                    "server connection closed: " + write_error));
        co_return;
      }
    }
    if (terminate) co_return;
  }
}

asio::awaitable<void> service::relay_server(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv) {
  auto p = c->pool_;
  bool released = false;
  bool reading_server = false;
  bool server_failed = false;
  try {
    for (;;) {
      const char* first = nullptr;
      std::size_t length = 0;
      bool release_now = false;
      while (auto m = sv->decoder.next()) {
        if (!first) first = m->frame.data();
        length = static_cast<std::size_t>(m->frame.data() + m->frame.size() - first);
        if (m->type == 'Z') {
          char status = pgwire::parse_ready_for_query(m->body);
          if (c->pending > 0 && --c->pending == 0) {
            ++p->query_count;
            p->query_time += since(c->query_start);
          }
          if (status == 'I' && c->pending == 0) ++p->xact_count;
          c->tx_status = status;
          if (releasable(*c)) {
            release_now = true;
            break;  // nothing follows a final ReadyForQuery
          }
        }
      }
      if (length == 0) {
        if (c->closing) break;
        reading_server = true;
        auto room = sv->decoder.prepare(read_size);
        std::size_t n = co_await sv->socket.async_read_some(asio::buffer(room.data(), room.size()), use_awaitable);
        sv->decoder.commit(n);
        reading_server = false;
        continue;
      }
      p->bytes_sent += length;
      co_await write_all(c->socket, std::string_view(first, length));
      if (release_now && releasable(*c)) {
        released = true;
        break;
      }
    }
  } catch (const boost::system::system_error& e) {
    server_failed = reading_server && !(c->closing && e.code() == asio::error::operation_aborted);
  } catch (const pgwire::protocol_error&) {
    server_failed = true;
  }
  if (c->server == sv) c->server = nullptr;
  sv->link = nullptr;
  if (released) {
    p->xact_time += since(c->xact_start);
    release(*p, sv, true);
    co_return;
  }
  if (server_failed) {
    if (p->m) p->m->errors_closed.increment();
    release(*p, sv, false);
    if (!c->closing) {
      boost::system::error_code ignored;
      std::string out = error_message("FATAL", pgwire::sqlstate::connection_failure, "server connection closed");
      asio::write(c->socket, asio::buffer(out), ignored);
      close_quietly(c->socket);
    }
    co_return;
  }
  // The client left (or its socket failed): the server is reusable only if
  // it is between transactions; one inside a transaction is closed, never
  // handed to another client.
  co_await return_server(p, sv, at_boundary(*c));
}

asio::awaitable<void> service::return_server(std::shared_ptr<pool> p, std::shared_ptr<server_conn> sv, bool clean) {
  if (clean && p->mode == pool_mode::session) {
    try {
      std::string out;
      pgwire::query(out, "DISCARD ALL");
      co_await write_all(sv->socket, out);
      for (;;) {
        auto m = co_await pgwire::async_read_message(sv->socket, sv->decoder);
        if (m.type == 'E') clean = false;
        if (m.type == 'Z') break;
      }
    } catch (const std::exception&) {
      clean = false;
    }
  }
  release(*p, sv, clean);
}

asio::awaitable<std::shared_ptr<server_conn>> service::acquire(std::shared_ptr<pool> p) {
  auto start = steady::now();
  auto deadline = start + cfg_.query_wait_timeout;
  std::shared_ptr<server_conn> sv;
  for (;;) {
    if (!p->idle.empty()) {
      sv = std::move(p->idle.back());
      p->idle.pop_back();
      if (steady::now() - sv->idle_since > std::chrono::seconds(1) && !alive(sv->socket)) {
        if (p->m) p->m->errors_closed.increment();
        close_quietly(sv->socket);
        continue;
      }
      break;
    }
    if (p->busy.size() + p->idle.size() + p->connecting < p->max) {
      ++p->connecting;
      std::exception_ptr failure;
      try {
        sv = co_await connect_server(p);
      } catch (const timeout_error&) {
        if (p->m) p->m->errors_timeout.increment();
        failure = std::current_exception();
      } catch (const std::exception&) {
        if (p->m) p->m->errors_other.increment();
        failure = std::current_exception();
      }
      --p->connecting;
      if (failure) {
        // A queued client may try a connect of its own.
        if (!p->waiters.empty()) p->waiters.front()->timer.cancel();
        p->sync_counts();
        std::rethrow_exception(failure);
      }
      break;
    }
    auto w = std::make_shared<waiter>(ioc_.get_executor());
    w->timer.expires_at(deadline);
    p->waiters.push_back(w);
    p->sync_counts();
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (auto it = std::find(p->waiters.begin(), p->waiters.end(), w); it != p->waiters.end()) p->waiters.erase(it);
    p->sync_counts();
    if (w->conn) {
      // release() handed it over and counted it busy already.
      auto waited = since(start);
      p->wait_time += waited;
      p->max_wait = std::max(p->max_wait, waited);
      if (p->m) p->m->acquire_duration.record(steady::now() - start);
      co_return w->conn;
    }
    if (steady::now() >= deadline) {
      if (p->m) p->m->errors_timeout.increment();
      throw timeout_error("timed out waiting for a server connection");
    }
  }
  p->busy.push_back(sv);
  p->sync_counts();
  auto waited = since(start);
  p->wait_time += waited;
  p->last_used = steady::now();
  if (p->m) p->m->acquire_duration.record(steady::now() - start);
  co_return sv;
}

asio::awaitable<std::shared_ptr<server_conn>> service::connect_server(std::shared_ptr<pool> p) {
  auto sv = std::make_shared<server_conn>(ioc_.get_executor());
  sv->id = next_id_++;
  std::vector<std::pair<std::string, std::string>> parameters;
  co_await with_timeout(as_bool(open_backend(sv->socket, sv->decoder, p->host, p->port, p->user, p->dbname, p->credentials,
                                     &parameters, &sv->process_id, &sv->secret_key)),
                        cfg_.server_connect_timeout, "timed out connecting to the server");
  sv->connect_time = sv->request_time = std::chrono::system_clock::now();
  if (!p->has_parameters) {
    p->parameters = std::move(parameters);
    p->has_parameters = true;
  }
  co_return sv;
}

void service::release(pool& p, std::shared_ptr<server_conn> sv, bool reusable) {
  if (auto it = std::find(p.busy.begin(), p.busy.end(), sv); it != p.busy.end()) {
    std::swap(*it, p.busy.back());
    p.busy.pop_back();
  }
  sv->link = nullptr;
  p.last_used = steady::now();
  if (!reusable || p.destroyed || stopped_ || sv->decoder.buffered() > 0) {
    close_quietly(sv->socket);
    // The freed slot lets a queued client connect.
    if (!p.waiters.empty()) p.waiters.front()->timer.cancel();
  } else if (!p.waiters.empty()) {
    auto w = p.waiters.front();
    p.waiters.pop_front();
    w->conn = std::move(sv);
    p.busy.push_back(w->conn);
    w->timer.cancel();
  } else {
    sv->idle_since = steady::now();
    p.idle.push_back(std::move(sv));
  }
  p.sync_counts();
}

void service::cancel(std::int32_t pid, std::int32_t key) {
  for (auto& [id, c] : clients_) {
    if (c->cancel_pid != pid || c->cancel_key != key || !c->server || !c->pool_) continue;
    auto target = c->server;
    auto p = c->pool_;
    asio::co_spawn(
        ioc_,
        [target, p]() -> asio::awaitable<void> {
          tcp::socket socket(co_await asio::this_coro::executor);
          co_await open_socket(socket, p->host, p->port);
          std::string out;
          pgwire::cancel_request(out, target->process_id, target->secret_key);
          co_await write_all(socket, out);
        },
        asio::detached);
    return;
  }
}

asio::awaitable<std::optional<secret>> service::lookup_user(std::shared_ptr<database_state> db, std::string user,
                                                            bool& from_cache) {
  if (const auto* e = db->cache->find(user, steady::now())) {
    db->m->cache_hits.increment();
    from_cache = true;
    co_return e->value;
  }
  co_return co_await fetch_coalesced(db, std::move(user), true);
}

asio::awaitable<std::optional<secret>> service::fetch_coalesced(std::shared_ptr<database_state> db, std::string user,
                                                                bool count_miss) {
  if (auto it = db->inflight_fetches.find(user); it != db->inflight_fetches.end()) {
    // Another login is fetching this user: share its answer.
    auto f = it->second;
    boost::system::error_code ec;
    co_await f->done.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!f->error.empty()) throw backend_error(f->error);
    if (count_miss) db->m->cache_hits.increment();
    co_return f->result;
  }
  auto f = std::make_shared<database_state::inflight>(ioc_.get_executor());
  f->done.expires_at(steady::time_point::max());
  db->inflight_fetches[user] = f;
  try {
    f->result = co_await fetch_password(db->exec, user);
  } catch (const std::exception& e) {
    f->error = e.what();
    if (f->error.empty()) f->error = "executor error";
  }
  db->inflight_fetches.erase(user);
  f->done.cancel();
  if (!f->error.empty()) {
    db->m->executor_errors.increment();
    throw backend_error(f->error);
  }
  db->cache->store(user, f->result, steady::now());
  if (count_miss) db->m->cache_misses.increment();
  co_return f->result;
}

asio::awaitable<void> service::connect_executor(std::shared_ptr<executor> ex, std::shared_ptr<executor::conn> c) {
  close_quietly(c->socket);
  c->socket = tcp::socket(ioc_);
  c->decoder = pgwire::decoder{};
  auto credentials = parse_secret(ex->cfg.password, true);
  if (!credentials) throw backend_error("auth_query.password is empty");
  co_await with_timeout(as_bool(open_backend(c->socket, c->decoder, ex->host, ex->port, ex->cfg.user, ex->cfg.dbname,
                                             *credentials, nullptr, nullptr, nullptr)),
                        cfg_.server_connect_timeout, "timed out connecting the auth_query executor");
  c->connected = true;
}

namespace {

// Runs the auth_query for `user` on a connected executor connection: the
// extended protocol, because $1 must be a parameter and never spliced in.
asio::awaitable<std::optional<std::string>> run_auth_query(executor::conn& c, const std::string& query,
                                                           const std::string& user) {
  std::string out;
  pgwire::message_writer(out, 'P').cstring("").cstring(query).int16(0).finish();
  pgwire::message_writer(out, 'B')
      .cstring("")
      .cstring("")
      .int16(0)
      .int16(1)
      .int32(static_cast<std::int32_t>(user.size()))
      .bytes(user)
      .int16(0)
      .finish();
  pgwire::message_writer(out, 'D').int8('P').cstring("").finish();
  pgwire::message_writer(out, 'E').cstring("").int32(0).finish();
  pgwire::message_writer(out, 'S').finish();
  co_await write_all(c.socket, out);
  int column = -1;
  std::optional<std::string> value;
  bool got_row = false;
  std::string error;
  for (;;) {
    auto m = co_await pgwire::async_read_message(c.socket, c.decoder);
    switch (m.type) {
      case 'T': {
        auto columns = pgwire::parse_row_description(m.body);
        for (std::size_t i = 0; i < columns.size(); ++i)
          if (columns[i].name == "passwd" || columns[i].name == "password") column = static_cast<int>(i);
        // pgbouncer's convention: (user name, password).
        if (column < 0 && columns.size() <= 2) column = static_cast<int>(columns.size()) - 1;
        if (column < 0) error = "auth_query returns no passwd or password column";
        break;
      }
      case 'D':
        if (!got_row && column >= 0) {
          auto values = pgwire::parse_data_row(m.body);
          if (static_cast<std::size_t>(column) < values.size() && values[static_cast<std::size_t>(column)])
            value = std::string(*values[static_cast<std::size_t>(column)]);
          got_row = true;
        }
        break;
      case 'E':
        error = pgwire::parse_error_response(m.body).message;
        break;
      case 'Z':
        if (!error.empty()) throw backend_error(error);
        co_return value;
      default:
        break;
    }
  }
}

}  // namespace

asio::awaitable<std::optional<secret>> service::fetch_password(std::shared_ptr<executor> ex, std::string user) {
  auto deadline = steady::now() + cfg_.query_wait_timeout;
  while (ex->free.empty()) {
    if (ex->retired) throw backend_error("executor retired by RELOAD");
    auto w = std::make_shared<waiter>(ioc_.get_executor());
    w->timer.expires_at(deadline);
    ex->waiters.push_back(w);
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (auto it = std::find(ex->waiters.begin(), ex->waiters.end(), w); it != ex->waiters.end()) ex->waiters.erase(it);
    if (ex->free.empty() && steady::now() >= deadline) throw timeout_error("no auth_query executor connection free");
  }
  auto c = ex->free.front();
  ex->free.pop_front();
  ++ex->busy;
  std::optional<std::string> value;
  std::string error;
  // A connection that was open may have died with its server: one retry on
  // a fresh connection tells a stale socket from a PostgreSQL that is down.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = !c->connected;
    try {
      if (!c->connected) co_await connect_executor(ex, c);
      value = co_await with_timeout(run_auth_query(*c, ex->cfg.query, user), cfg_.query_wait_timeout,
                                    "auth_query timed out");
      error.clear();
      break;
    } catch (const std::exception& e) {
      error = e.what();
      c->connected = false;
      close_quietly(c->socket);
    }
    if (fresh) break;
  }
  --ex->busy;
  if (!ex->retired) ex->free.push_back(c);
  else close_quietly(c->socket);
  if (!ex->waiters.empty()) ex->waiters.front()->timer.cancel();
  if (!error.empty()) throw backend_error(error);
  if (!value) co_return std::nullopt;
  co_return parse_secret(*value, true);
}

void service::retire(executor& ex) {
  ex.retired = true;
  for (auto& c : ex.conns) close_quietly(c->socket);
  for (auto& w : ex.waiters) w->timer.cancel();
}

std::shared_ptr<pool> service::make_pool(const database_state& db, const std::string& user, const secret& credentials,
                                         unsigned size, pool_mode mode, bool dynamic) {
  auto p = std::make_shared<pool>();
  p->database = db.cfg.name;
  p->user = user;
  p->host = db.cfg.host;
  p->port = db.cfg.port;
  p->dbname = db.cfg.dbname;
  p->dynamic = dynamic;
  p->mode = mode;
  p->max = size;
  p->credentials = credentials;
  p->sync_counts();
  auto* raw = p.get();
  // Ordering: relaxed; each gauge is one value read at scrape time.
  p->m = std::make_unique<metrics::pool_metrics>(
      p->service(),
      metrics::pool_counts{[raw] { return double(raw->n_active.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_idle.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_max.load(std::memory_order_relaxed)); },
                           [raw] { return double(raw->n_waiting.load(std::memory_order_relaxed)); }});
  pools_[{db.cfg.name, user}] = p;
  if (dynamic) {
    auto& state = *databases_.at(db.cfg.name);
    ++state.dynamic_pools;
    state.m->dynamic_pools.increment();
    state.m->dynamic_pools_created.increment();
  }
  return p;
}

void service::destroy_pool(const std::pair<std::string, std::string>& key) {
  auto it = pools_.find(key);
  if (it == pools_.end()) return;
  auto p = it->second;
  pools_.erase(it);
  p->destroyed = true;
  for (auto& sv : p->idle) close_quietly(sv->socket);
  p->idle.clear();
  p->sync_counts();
  p->m.reset();  // removes its db_pool_* series
  if (p->dynamic) {
    if (auto db = databases_.find(p->database); db != databases_.end() && db->second->m) {
      --db->second->dynamic_pools;
      db->second->m->dynamic_pools.decrement();
      db->second->m->dynamic_pools_destroyed.increment();
    }
  }
}

void service::apply_databases(std::vector<database_config> databases) {
  std::map<std::string, bool> keep;
  for (auto& cfg : databases) {
    keep[cfg.name] = true;
    auto& state = databases_[cfg.name];
    if (!state) state = std::make_shared<database_state>();
    bool endpoint_changed = state->cfg.host != cfg.host || state->cfg.port != cfg.port;
    state->cfg = cfg;
    if (cfg.auth_query) {
      if (!state->m) state->m = std::make_unique<metrics::auth_query_metrics>(cfg.name);
      if (!state->exec || endpoint_changed || !(state->exec->cfg == *cfg.auth_query)) {
        if (state->exec) retire(*state->exec);
        auto ex = std::make_shared<executor>();
        ex->cfg = *cfg.auth_query;
        ex->host = cfg.host;
        ex->port = cfg.port;
        for (unsigned i = 0; i < ex->cfg.workers; ++i) {
          auto c = std::make_shared<executor::conn>(ioc_.get_executor());
          ex->conns.push_back(c);
          // Eager, as pg_doorman's executor is; a failure here is retried at
          // the first fetch, which is where errors are counted.
          asio::co_spawn(
              ioc_,
              [this, ex, c]() -> asio::awaitable<void> {
                try {
                  if (!ex->retired) co_await connect_executor(ex, c);
                } catch (const std::exception& e) {
                  std::fprintf(stderr, "pooler: auth_query executor for %s: %s\n", ex->cfg.dbname.c_str(), e.what());
                }
                // Free only now, so no fetch shares the socket with the connect.
                if (ex->retired) co_return;
                ex->free.push_back(c);
                if (!ex->waiters.empty()) ex->waiters.front()->timer.cancel();
              },
              asio::detached);
        }
        state->exec = ex;
      }
      state->cache = std::make_unique<auth_cache>(cfg.auth_query->cache_ttl, cfg.auth_query->cache_failure_ttl,
                                                  cfg.auth_query->min_interval);
    } else {
      if (state->exec) retire(*state->exec);
      state->exec.reset();
      state->cache.reset();
    }
    for (const auto& u : cfg.users) {
      auto credentials = parse_secret(u.password, true);
      if (!credentials) throw config_error("databases." + cfg.name + ".users." + u.name + ".password: unusable");
      auto it = pools_.find({cfg.name, u.name});
      if (it != pools_.end() && !it->second->dynamic) {
        auto& p = *it->second;
        p.max = u.pool_size;
        p.mode = u.mode;
        p.host = cfg.host;
        p.port = cfg.port;
        p.dbname = cfg.dbname;
        p.credentials = *credentials;
        p.sync_counts();
      } else {
        if (it != pools_.end()) destroy_pool(it->first);
        make_pool(*state, u.name, *credentials, u.pool_size, u.mode, false);
      }
    }
  }
  // Pools whose user or database left the config.
  std::vector<std::pair<std::string, std::string>> gone;
  for (auto& [key, p] : pools_) {
    auto db = databases_.find(key.first);
    bool listed = false;
    if (keep.count(key.first))
      for (const auto& u : db->second->cfg.users) listed = listed || u.name == key.second;
    if (!p->dynamic && !listed) gone.push_back(key);
    if (p->dynamic && (!keep.count(key.first) || !db->second->cfg.auth_query)) gone.push_back(key);
  }
  for (auto& key : gone) destroy_pool(key);
  for (auto it = databases_.begin(); it != databases_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second->exec) retire(*it->second->exec);
    it = databases_.erase(it);
  }
}

std::string service::reload() {
  config fresh;
  try {
    fresh = load_config(config_path_);
  } catch (const std::exception& e) {
    return e.what();
  }
  // RELOAD destroys every dynamic pool and forgets every cached secret.
  std::vector<std::pair<std::string, std::string>> dynamic;
  for (auto& [key, p] : pools_)
    if (p->dynamic) dynamic.push_back(key);
  for (auto& key : dynamic) destroy_pool(key);
  for (auto& [name, db] : databases_)
    if (db->cache) db->cache->clear();
  try {
    apply_databases(fresh.databases);
  } catch (const std::exception& e) {
    return e.what();
  }
  cfg_.databases = std::move(fresh.databases);
  cfg_.admin_user = fresh.admin_user;
  cfg_.admin_password = fresh.admin_password;
  cfg_.query_wait_timeout = fresh.query_wait_timeout;
  cfg_.server_connect_timeout = fresh.server_connect_timeout;
  cfg_.gc_interval = fresh.gc_interval;
  cfg_.max_client_conn = fresh.max_client_conn;
  return {};
}

}  // namespace pooler
