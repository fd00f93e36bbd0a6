// The pooler: accepts PostgreSQL clients, authenticates them (static users,
// auth_query users), and lends them server connections from per
// (database, user) pools; the admin console reads its state.
//
// A client's trip crosses the files in one direction, as pgbouncer's
// client.c -> objects.c -> server.c: client.cpp (startup, login, reading its
// messages) -> pool.cpp (a server connection for it) -> server.cpp
// (connecting one, relaying its answers back) -> pool.cpp (returning it).
// Beside the trip: auth_query.cpp (looking users up), admin.cpp (the
// console), reload.cpp (RELOAD), service.cpp (listening, stopping).
//
// Everything runs on one io_context thread, as pgbouncer's single thread
// does, so the state below needs no locks; only the metrics callbacks, which
// the HTTP thread calls at scrape time, read it from elsewhere, and they read
// atomics, and the health check, which has its own lock.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "auth.hpp"
#include "auth_query.hpp"
#include "backend.hpp"
#include "client.hpp"
#include "config.hpp"
#include "health.hpp"
#include "metrics.hpp"
#include "pool.hpp"

namespace pooler {

/// The pooler service.
class service {
 public:
  /// `config_path` is re-read by RELOAD.
  service(asio::io_context& ioc, config cfg, std::string config_path);
  ~service();
  /// Binds the listener; accepting, the executors and the pool GC start
  /// when the io_context runs. Throws boost::system::system_error if the
  /// address cannot be bound.
  void start();
  /// The graceful stop, for SIGTERM: stops accepting, answers clients
  /// between transactions with 57P01 at once, lets transactions in progress
  /// finish for up to `shutdown_timeout`, answers the rest with 57P01, closes
  /// everything and stops the io_context. Run it on the io_context.
  asio::awaitable<void> drain();
  /// Starts drain() on the io_context's thread; any thread (main's, on
  /// SIGTERM). The io_context runs without locks, so this is the one way in
  /// from another thread.
  void request_drain() noexcept;
  /// Stops accepting and closes every connection at once.
  void stop();
  /// The bound port.
  std::uint16_t port() const;
  /// The check behind /health and /health/ready; any thread.
  const upstream_check& upstreams() const noexcept { return upstreams_; }

  /// Runs one admin console query; returns the reply messages (without
  /// ReadyForQuery). Defined in admin.cpp.
  std::string admin_query(std::string_view sql);

 private:
  using pool_key = std::pair<std::string, std::string>;

  // service.cpp: the listener and the end.
  void accept(tcp::socket socket);
  void note_server_returned();

  // client.cpp: a client from its startup packet to its last message.
  asio::awaitable<void> handle_client(std::shared_ptr<client> c);
  asio::awaitable<void> serve_pooled(std::shared_ptr<client> c);
  /// Runs MD5 or SCRAM with the client; returns the secret it proved, with
  /// the ClientKey a SCRAM proof revealed. `refetch`, if set, is asked once
  /// for a fresher secret after a failed check.
  asio::awaitable<std::optional<secret>> authenticate(client& c, secret s,
                                                      std::function<asio::awaitable<std::optional<secret>>()> refetch);
  /// Looks up and checks the client's password; nullopt if it fails.
  asio::awaitable<std::optional<secret>> log_in(client& c, std::shared_ptr<database_state> db);
  // After login a session runs in callbacks, not coroutines: a transaction
  // is two reads and two writes, and a coroutine's frames and resumptions
  // per round trip cost more than the relaying itself. Whatever may wait
  // (a pool with no idle connection, a socket that takes a write only in
  // part) goes on in a coroutine.
  /// Reads the client's next bytes; then on_client_data.
  void read_client(std::shared_ptr<client> c);
  /// Frames what the client sent and forwards the complete messages.
  void on_client_data(std::shared_ptr<client> c);
  /// Writes `request` (with `answers` Query/Sync messages) to the client's
  /// server connection, lending it an idle one first if it has none, then
  /// reads on (or ends the session, `then_end`).
  void forward(std::shared_ptr<client> c, std::string_view request, int answers, bool then_end);
  /// forward's way when it cannot finish at once.
  asio::awaitable<void> forward_waiting(std::shared_ptr<client> c, std::string_view request, int answers,
                                        bool then_end, bool counted, bool fresh, std::size_t sent);
  /// What forward_waiting does: writes the rest of `request` from `sent`
  /// on, first lending the client a server connection if it has none
  /// (`fresh`: lent for this request; `counted`: its bookkeeping is done);
  /// false (the client told why) when that fails.
  asio::awaitable<bool> send_to_server(std::shared_ptr<client> c, std::string_view request, int answers,
                                       bool counted, bool fresh, std::size_t sent);
  /// A request's bookkeeping, before its first byte is written: the answer
  /// may be read before the write completes.
  void note_request(client& c, std::size_t bytes, int answers, steady::time_point now);
  /// Ends the callbacks' part of a session; serve_pooled goes on.
  void end_session(client& c, std::exception_ptr failure);
  /// Tells a client that queued past query_wait_timeout, and ends its session.
  void give_up_waiting(client& c);
  /// Tells a client it is terminated (57P01) without waiting for it to read.
  void terminate(client& c, std::string_view message = "terminating connection due to administrator command");

  // admin.cpp: the console's session.
  asio::awaitable<void> serve_admin(std::shared_ptr<client> c);

  // pool.cpp: lending and taking back server connections.
  /// A server connection for `c`: an idle one, a new one, or the next one
  /// returned, within query_wait_timeout.
  asio::awaitable<std::shared_ptr<server_conn>> acquire(std::shared_ptr<client> c);
  /// An idle connection of `p`, counted busy and its wait recorded; null if
  /// there is none. acquire() without the waiting.
  std::shared_ptr<server_conn> take_idle(pool& p, steady::time_point asked);
  /// Takes `sv` back: idle, closed, or handed straight to the first client
  /// queued.
  void release(pool& p, std::shared_ptr<server_conn> sv, bool reusable);
  /// Starts `c`'s wait for a connection (client::asked, its deadline),
  /// unless it is waiting already.
  void start_waiting(client& c, steady::time_point now);
  /// Queues `c` at the back of its pool's waiters: with its request held
  /// (client::held, from forward()), or waiting in acquire().
  void queue_for_server(std::shared_ptr<client> c, steady::time_point now);
  /// A connection slot came free (or the pool went): the first queued client
  /// tries again.
  void wake_first(pool& p);
  /// Lets a client taken out of the queue go on: posts the forward of its
  /// held request, or wakes its acquire().
  void resume_waiter(std::shared_ptr<client> c);
  /// Forwards the request a queued client held, with the server it was
  /// handed or to try again.
  void resume_queued(std::shared_ptr<client> c);
  /// Arms the one timer that enforces query_wait_timeout for `deadline`,
  /// unless it fires sooner already.
  void watch_wait_deadline(steady::time_point deadline);
  /// Takes out every queued client past its deadline.
  void expire_waiters();
  std::shared_ptr<pool> make_pool(const database_state& db, const std::string& user, const secret& credentials,
                                  unsigned size, pool_mode mode, bool dynamic);
  void destroy_pool(const pool_key& key);
  /// Moves the clients of a destroyed pool, and the servers they hold, to
  /// the pool now under its key (made if auth_query may make it).
  void rehome(const std::shared_ptr<pool>& old);
  asio::awaitable<void> gc_loop();

  // server.cpp: the PostgreSQL side.
  asio::awaitable<std::shared_ptr<server_conn>> connect_server(pool& p);
  /// How a server connection's relaying ended.
  enum class relay_end_kind { released, server_failed, client_gone };
  /// Writes the server's complete answers to the client, reading more as
  /// needed, until the transaction ends (the server goes back) or a side
  /// fails; in callbacks.
  void relay(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv);
  /// Starts the one read in flight on a server connection. Its bytes go to
  /// relay() for the client the connection is lent to when they arrive;
  /// bytes or an end while it is idle mean PostgreSQL ended it there
  /// (closed_while_idle).
  void read_server(std::shared_ptr<server_conn> sv);
  /// Closes a connection PostgreSQL ended while it sat idle (a restart,
  /// idle_session_timeout, pg_terminate_backend), so that no client gets it.
  void closed_while_idle(const std::shared_ptr<server_conn>& sv);
  /// Whether the server goes back now: the end of a transaction in
  /// transaction mode, or of any in a stopping pooler or a removed pool.
  bool ends_here(const client& c) const noexcept;
  void relay_end(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv, relay_end_kind how,
                 const std::string& failure, std::optional<std::size_t> too_long = std::nullopt);
  asio::awaitable<void> return_server(std::shared_ptr<client> c, std::shared_ptr<server_conn> sv);
  void cancel(std::int32_t pid, std::int32_t key);

  // auth_query.cpp: users looked up in PostgreSQL.
  asio::awaitable<std::optional<secret>> lookup_user(std::shared_ptr<database_state> db, std::string user,
                                                     bool& from_cache);
  asio::awaitable<std::optional<secret>> fetch_coalesced(std::shared_ptr<database_state> db, std::string user,
                                                         bool count_miss);
  asio::awaitable<std::optional<secret>> fetch_password(std::shared_ptr<executor> ex, std::string user);
  asio::awaitable<void> connect_executor(std::shared_ptr<executor> ex, std::shared_ptr<executor::conn> c);
  std::shared_ptr<executor> start_executor(const database_state& db);
  void retire(executor& ex);

  // reload.cpp: the config, at start and on RELOAD.
  void apply_databases(std::vector<database_config> databases);
  /// Re-reads the config; returns an error message, or empty on success.
  std::string reload();

  friend struct admin_view;

  asio::io_context& ioc_;
  config cfg_;
  std::string config_path_;
  tcp::acceptor acceptor_;
  asio::steady_timer gc_timer_;
  /// Fires at the earliest deadline of a queued client (watch_wait_deadline).
  asio::steady_timer wait_timer_;
  bool wait_timer_armed_ = false;
  /// Wakes drain() when the last transaction in progress ends.
  asio::steady_timer drained_;
  /// An eventfd: request_drain() writes it, the io_context's thread reads it.
  asio::posix::stream_descriptor drain_requested_;
  int drain_fd_ = -1;
  std::map<std::string, std::shared_ptr<database_state>> databases_;
  std::map<pool_key, std::shared_ptr<pool>> pools_;
  std::map<std::uint64_t, std::shared_ptr<client>> clients_;
  std::uint64_t next_id_ = 1;
  bool draining_ = false;
  bool stopped_ = false;
  /// Keys the fake SCRAM salt of users that do not exist.
  std::string mock_key_ = random_bytes(32);
  metrics::service_metrics m_;
  upstream_check upstreams_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace pooler
