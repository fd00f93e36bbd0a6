#include "server.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <libpq-fe.h>
#include <pgwire/codec.hpp>
#include <pgwire/decoder.hpp>
#include <pgwire/messages.hpp>
#include <pgwire/stream.hpp>
#include <service/accept_loop.hpp>

#include "cache.hpp"
#include "catalog.hpp"
#include "cdc.hpp"
#include "classifier.hpp"
#include "metrics.hpp"
#include "query_stats.hpp"
#include "session_state.hpp"

namespace proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

using clock = std::chrono::steady_clock;

double since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

// The origin connection failed mid-conversation: the client gets a clean
// FATAL error instead of a reset.
struct origin_lost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The origin ended the session with a FATAL error, which the client has
// been sent: nothing more to say.
struct origin_ended {};

// The proxy is stopping: the session ends as PostgreSQL ends one on a
// shutdown, with FATAL 57P01.
struct shutting_down {};

pgwire::error_fields administrator_shutdown() {
  pgwire::error_fields f;
  f.severity = "FATAL";
  f.sqlstate = "57P01";
  f.message = "terminating connection due to administrator command";
  return f;
}

using verdict_ptr = std::shared_ptr<const verdict>;

// The host, port and dbname a conninfo names.
std::map<std::string, std::string> conninfo_fields(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
  if (!options) {
    std::string why = err ? err : "out of memory";
    PQfreemem(err);
    throw std::runtime_error("--origin: " + why);
  }
  std::map<std::string, std::string> fields;
  for (auto* o = options; o->keyword; ++o)
    if (o->val) fields[o->keyword] = o->val;
  PQconninfoFree(options);
  return fields;
}

// What a miss collects from the origin's answer to replay it later.
struct capture {
  std::string bytes;
  std::uint64_t rows = 0;
  bool ok = true;
  std::size_t limit = 0;
};

struct relay_outcome {
  char status = 'I';
  std::uint64_t rows = 0;
  bool error = false;
  bool passthrough = false;  // the origin started COPY FROM STDIN or COPY BOTH
  std::string tag;           // the last CommandComplete's
};

pgwire::error_fields fatal(const char* sqlstate, std::string message) {
  pgwire::error_fields f;
  f.severity = "FATAL";
  f.sqlstate = sqlstate;
  f.message = std::move(message);
  return f;
}

// A statement as Parse defined it: the text, and the parameter types that
// decide what it means (`$1 / 2` is 0 for an int4 1 and 0.5 for a float8).
struct prepared_statement {
  std::string sql;
  std::string parameter_types;  // Parse's raw count and OIDs
};
using statement_ptr = std::shared_ptr<const prepared_statement>;

// One extended-protocol message of a batch, viewed in the batch's wire bytes.
struct batch_message {
  char type = 0;
  std::string_view frame;
  std::string_view name;             // Parse: statement; Bind/Execute/Describe/Close: portal or statement
  std::string_view sql;              // Parse: the text
  std::string_view parameter_types;  // Parse: count and OIDs, raw
  std::string_view bound;            // Bind: statement name
  std::string_view bind_rest;        // Bind: formats, values and result formats, raw
  char target = 0;                   // Describe/Close: 'S' or 'P'
  std::int32_t max_rows = 0;
};

batch_message parse_batch_message(std::string_view frame) {
  batch_message m;
  m.type = frame[0];
  m.frame = frame;
  pgwire::body_reader r(frame.substr(5));
  switch (m.type) {
    case 'P':
      m.name = r.cstring();
      m.sql = r.cstring();
      m.parameter_types = r.rest();
      break;
    case 'B':
      m.name = r.cstring();
      m.bound = r.cstring();
      m.bind_rest = r.rest();
      break;
    case 'D':
    case 'C':
      m.target = static_cast<char>(r.int8());
      m.name = r.cstring();
      break;
    case 'E':
      m.name = r.cstring();
      m.max_rows = r.int32();
      break;
    default: break;
  }
  return m;
}

// Whether a batch's first message is a Parse of the unnamed statement.
bool starts_with_unnamed_parse(std::string_view wire) { return wire.size() > 5 && wire[0] == 'P' && wire[5] == '\0'; }

// The frontend messages of the query phase. PostgreSQL ends a session that
// sends anything else; CopyData, CopyDone and CopyFail outside COPY it ignores.
bool known_frontend_message(char type) {
  constexpr std::string_view known = "QPBDECSHXFdcf";
  return known.find(type) != std::string_view::npos;
}

}  // namespace

namespace {
class session;
}  // namespace

struct server::impl {
  explicit impl(config c)
      : cfg(std::move(c)),
        cache(cfg.cache_bytes, cfg.max_entry_bytes),
        catalog(cfg.origin_conninfo, cfg.catalog_ttl) {
    auto fields = conninfo_fields(cfg.origin_conninfo);
    origin_host = fields.count("host") ? fields["host"] : "127.0.0.1";
    origin_port = fields.count("port") ? fields["port"] : "5432";
    cached_db = fields.count("dbname") ? fields["dbname"] : fields.count("user") ? fields["user"] : "postgres";
    if (origin_host.starts_with('/')) throw std::runtime_error("--origin: a Unix-socket host is not supported");
    excluded = make_exclusions(cfg.exclude_tables, cfg.exclude_patterns);
    tcp::endpoint at(asio::ip::make_address(cfg.listen.host), cfg.listen.port);
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
    if (cfg.slot.empty()) cfg.slot = unique_slot_name();
    feed = std::make_unique<change_feed>(cfg.origin_conninfo, cfg.slot, cfg.cdc_interval, cache);
  }

  awaitable<void> accept_loop();
  void begin_shutdown();
  void end_shutdown();

  // The verdict on `sql`, memoized: a hit then costs one map lookup instead
  // of a parse. Parsing and catalog lookups (which block) run off the I/O
  // thread.
  awaitable<verdict_ptr> classify(const std::string& sql) {
    constexpr std::size_t memo_limit = 10000, memo_text_limit = 16 * 1024;
    if (clock::now() - memo_since > cfg.catalog_ttl) forget_catalog();
    if (auto it = memo.find(sql); it != memo.end()) co_return it->second;
    bool reliable = true;
    verdict_ptr v = co_await asio::co_spawn(
        lookups,
        [&]() -> awaitable<verdict_ptr> {
          auto out = std::make_shared<verdict>();
          out->a = analyze(sql);
          try {
            out->c = classify_statement(out->a);
          } catch (const std::exception& e) {
            // The catalog is unreachable: relay the statement uncached, and
            // assume it does everything the proxy cannot see.
            std::fprintf(stderr, "obs_proxy: %s\n", e.what());
            out->c = {};
            out->c.effects.hides_session_change = out->c.effects.hides_writes = true;
            reliable = false;
          }
          co_return out;
        },
        use_awaitable);
    if (reliable && sql.size() <= memo_text_limit) {
      if (memo.size() >= memo_limit) memo.clear();
      memo.emplace(sql, v);
    }
    co_return v;
  }

  classification classify_statement(const analysis& a) { return proxy::classify(a, catalog, excluded); }

  void forget_catalog() {
    memo.clear();
    catalog.clear();
    memo_since = clock::now();
  }

  config cfg;
  std::string origin_host, origin_port, cached_db;
  exclusions excluded;
  result_cache cache;
  query_stats stats;
  pg_catalog catalog;
  std::unordered_map<std::string, verdict_ptr> memo;  // I/O thread only
  scope_table scopes;                                 // I/O thread only
  clock::time_point memo_since = clock::now();
  asio::io_context io{1};
  asio::thread_pool lookups{1};  // after io: joined before io goes
  tcp::acceptor acceptor{io};
  std::set<session*> sessions;  // I/O thread only
  bool stopping = false;              // I/O thread only
  asio::steady_timer drain_deadline{io};
  std::unique_ptr<change_feed> feed;  // last: its thread uses the cache
};

namespace {

class session {
 public:
  session(server::impl& srv, tcp::socket client)
      : srv_(srv),
        client_(std::move(client)),
        origin_(client_.get_executor()),
        client_in_(srv.cfg.max_message_bytes),
        origin_in_(srv.cfg.max_message_bytes),
        state_(srv.scopes) {
    metrics.connections_active.increment();
    srv_.sessions.insert(this);
  }
  ~session() {
    srv_.sessions.erase(this);
    metrics.connections_active.decrement();
    if (srv_.stopping && srv_.sessions.empty()) srv_.drain_deadline.cancel();
  }

  // The proxy is stopping: a session waiting for its client's next message
  // ends now; one in the middle of a statement ends after it.
  void stop_when_idle() {
    boost::system::error_code ignored;
    if (waiting_for_client_) client_.cancel(ignored);
  }

  // The drain deadline passed: the client hears 57P01 if its socket takes
  // it without waiting, and both connections close under whatever the
  // session is waiting for.
  void abort() {
    std::string out;
    pgwire::error_response(out, administrator_shutdown());
    boost::system::error_code ignored;
    client_.non_blocking(true, ignored);
    client_.write_some(asio::buffer(out), ignored);
    client_.close(ignored);
    origin_.close(ignored);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  awaitable<void> run() {
    pgwire::error_fields failure;
    try {
      if (!co_await log_in()) co_return;
      if (!co_await serve()) co_return;
      co_await passthrough();
      co_return;
    } catch (const origin_ended&) {
      co_return;  // the client has PostgreSQL's own FATAL error
    } catch (const shutting_down&) {
      failure = administrator_shutdown();
    } catch (const origin_lost& e) {
      std::fprintf(stderr, "obs_proxy: lost the connection to PostgreSQL: %s\n", e.what());
      failure = fatal(pgwire::sqlstate::connection_failure, "the connection to the database server was lost");
    } catch (const pgwire::protocol_error& e) {
      failure = fatal(pgwire::sqlstate::protocol_violation, e.what());
    } catch (const boost::system::system_error&) {
      if (!srv_.stopping || !client_.is_open()) co_return;  // the client went away
      failure = administrator_shutdown();  // its wait was cancelled by the shutdown
    } catch (const std::exception& e) {
      std::fprintf(stderr, "obs_proxy: session failed: %s\n", e.what());
      failure = fatal(pgwire::sqlstate::internal_error, "internal error in the proxy");
    }
    std::string out;
    pgwire::error_response(out, failure);
    try {
      if (origin_.is_open()) {
        std::string bye;
        pgwire::terminate(bye);
        co_await asio::async_write(origin_, asio::buffer(bye), use_awaitable);
      }
    } catch (const std::exception&) {
      // The origin is gone already.
    }
    try {
      co_await send_client(out);
    } catch (const std::exception&) {
      // Nobody left to tell.
    }
  }

 private:
  // ---- I/O, with byte counts ----------------------------------------------

  // Bytes are counted as they are read, once per read rather than per
  // message: a pipelining client's Bind, Execute and Sync come in one.
  awaitable<pgwire::message_view> read_client() {
    return pgwire::async_read_message(client_, client_in_, count_client_in);
  }

  static void count_client_in(std::size_t bytes) {
    metrics.bytes[index(byte_direction::client_in)].increment(bytes);
  }

  static void count_origin_in(std::size_t bytes) {
    metrics.bytes[index(byte_direction::origin_in)].increment(bytes);
  }

  awaitable<void> send_client(std::string_view bytes) {
    co_await asio::async_write(client_, asio::buffer(bytes), use_awaitable);
    metrics.bytes[index(byte_direction::client_out)].increment(bytes.size());
  }

  awaitable<pgwire::message_view> read_origin() {
    std::string why;
    try {
      co_return co_await pgwire::async_read_message(origin_, origin_in_, count_origin_in);
    } catch (const boost::system::system_error& e) {
      why = e.code().message();
    } catch (const pgwire::protocol_error& e) {
      why = e.what();
    }
    throw origin_lost(why);
  }

  awaitable<void> send_origin(std::string_view bytes) {
    std::string why;
    try {
      co_await asio::async_write(origin_, asio::buffer(bytes), use_awaitable);
      metrics.bytes[index(byte_direction::origin_out)].increment(bytes.size());
      co_return;
    } catch (const boost::system::system_error& e) {
      why = e.code().message();
    }
    throw origin_lost(why);
  }

  // A ParameterStatus: the origin reports settings that change how values
  // are written (TimeZone, DateStyle, client_encoding...).
  void note_setting(std::string_view body) {
    auto [name, value] = pgwire::parse_parameter_status(body);
    state_.reported(name, value);
  }

  // The cache key of a statement: the session's scope number, the kind of
  // answer, the text, the parameter types and the Bind's parameters. Built
  // in one reused buffer.
  const std::string& cache_key(std::string_view kind, std::string_view sql, std::string_view parameter_types = {},
                               std::string_view parameters = {}) {
    const std::uint64_t scope = state_.scope();
    key_.assign(reinterpret_cast<const char*>(&scope), sizeof scope);
    key_.append(kind).append(sql).append(1, '\0').append(parameter_types).append(parameters);
    return key_;
  }

  // What relay() left for the caller to send.
  awaitable<void> send_reply() {
    std::string out = std::move(reply_);
    reply_.clear();
    if (!out.empty()) co_await send_client(out);
  }

  // Whether the session may read from the cache: not while a write it made
  // may have changed tables the proxy cannot name and the change feed has
  // not yet passed it (its own writes, read at once, must be there).
  bool sees_own_writes() {
    if (!unseen_write_at_) return true;
    if (srv_.feed->caught_up_to() <= *unseen_write_at_) return false;
    unseen_write_at_.reset();
    return true;
  }

  // ---- startup and authentication -----------------------------------------

  // The startup packet and the authentication exchange, within
  // --login-timeout-ms as PostgreSQL's authentication_timeout bounds them:
  // a client that says nothing is not kept forever.
  awaitable<bool> log_in() {
    namespace experimental = asio::experimental;
    asio::steady_timer deadline(client_.get_executor(), srv_.cfg.login_timeout);
    auto [order, failure, logged_in, timer] =
        co_await experimental::make_parallel_group(asio::co_spawn(client_.get_executor(), startup(), asio::deferred),
                                                   deadline.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), use_awaitable);
    if (order[0] == 1) {
      std::string out;
      pgwire::error_response(out, fatal(pgwire::sqlstate::query_canceled, "canceling authentication due to timeout"));
      co_await send_client(out);
      co_return false;
    }
    if (failure) std::rethrow_exception(failure);
    co_return logged_in;
  }

  // Relays the startup packet and the authentication exchange until the
  // origin's first ReadyForQuery; false if the session ended there.
  awaitable<bool> startup() {
    client_in_.expect_startup();
    pgwire::startup_packet packet;
    std::string frame;
    for (;;) {
      auto m = co_await read_client();
      packet = pgwire::parse_startup(m.body);
      frame = m.frame;
      if (packet.type != pgwire::startup_packet::kind::ssl_request &&
          packet.type != pgwire::startup_packet::kind::gssenc_request)
        break;
      // No TLS here: the client may go on in plaintext or hang up.
      co_await send_client("N");
      client_in_.expect_startup();
    }
    if (!co_await connect_origin()) co_return false;
    co_await send_origin(frame);
    if (packet.type == pgwire::startup_packet::kind::cancel_request) co_return false;

    std::string user(packet.parameter("user"));
    std::string database(packet.parameter("database"));
    if (database.empty()) database = user;
    // Startup parameters (options, extra_float_digits, DateStyle...) change
    // how results are written, so they are part of every key.
    for (const auto& [name, value] : packet.parameters) state_.startup_parameter(name, value);
    state_.startup_parameter("database", database);
    caching_database_ = database == srv_.cached_db;

    for (;;) {
      auto m = co_await read_origin();
      const char type = m.type;
      std::int32_t code = -1;
      if (type == 'R') code = pgwire::parse_authentication(m.body).code;
      if (type == 'S') note_setting(m.body);
      co_await send_client(m.frame);
      if (type == 'E') co_return false;
      if (type == 'Z') co_return true;
      if (code == pgwire::auth_code::cleartext || code == pgwire::auth_code::md5 ||
          code == pgwire::auth_code::sasl || code == pgwire::auth_code::sasl_continue) {
        auto reply = co_await read_client();
        if (reply.type != 'p') throw pgwire::protocol_error("expected an authentication response");
        co_await send_origin(reply.frame);
      }
    }
  }

  awaitable<bool> connect_origin() {
    try {
      tcp::resolver resolver(client_.get_executor());
      auto endpoints = co_await resolver.async_resolve(srv_.origin_host, srv_.origin_port, use_awaitable);
      co_await asio::async_connect(origin_, endpoints, use_awaitable);
      origin_.set_option(tcp::no_delay(true));
      co_return true;
    } catch (const boost::system::system_error& e) {
      // The address is the operator's business, not the client's.
      std::fprintf(stderr, "obs_proxy: cannot connect to PostgreSQL at %s:%s: %s\n", srv_.origin_host.c_str(),
                   srv_.origin_port.c_str(), e.code().message().c_str());
    }
    std::string out;
    pgwire::error_response(out, fatal(pgwire::sqlstate::cannot_connect_now, "the database server is not reachable"));
    co_await send_client(out);
    co_return false;
  }

  // ---- the query loop -----------------------------------------------------

  // Answers messages until the client leaves (false) or the session must
  // become a plain byte relay (true): after Flush, and during COPY FROM STDIN.
  awaitable<bool> serve() {
    for (;;) {
      // A message already in is taken without suspending.
      pgwire::message_view m;
      if (srv_.stopping) throw shutting_down{};
      if (auto buffered = client_in_.next()) {
        m = *buffered;
      } else {
        waiting_for_client_ = true;
        try {
          if (listening_) co_await wait_for_client();
          m = co_await read_client();
        } catch (...) {
          waiting_for_client_ = false;
          throw;
        }
        waiting_for_client_ = false;
      }
      if (!known_frontend_message(m.type))
        throw pgwire::protocol_error("invalid frontend message type " + std::to_string(static_cast<unsigned char>(m.type)));
      const bool batch_message_type = m.type == 'P' || m.type == 'B' || m.type == 'D' || m.type == 'E' ||
                                      m.type == 'C' || m.type == 'S' || m.type == 'H';
      if (!batch_message_type && !batch_wire_.empty()) {
        // Extended-protocol messages without a Sync, then something else:
        // keep the order, and keep their answers out of any cache entry.
        // (m stays valid: only reading from the client moves its bytes.)
        unsynced_ = true;
        co_await forward_batch();
      }
      switch (m.type) {
        case 'Q': {
          std::string frame(m.frame);
          std::string sql(pgwire::parse_query(m.body));
          if (co_await simple_query(frame, sql)) co_return true;
          break;
        }
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'C':
          batch_wire_.append(m.frame);
          if (batch_wire_.size() > 2 * srv_.cfg.max_message_bytes)
            throw pgwire::protocol_error("too many extended-protocol messages without Sync");
          break;
        case 'S':
          batch_wire_.append(m.frame);
          if (co_await run_batch()) co_return true;
          break;
        case 'H':
          // Flush: the client wants answers before its Sync, which the
          // request/response loop cannot give; relay bytes from here on.
          batch_wire_.append(m.frame);
          co_await forward_batch();
          co_return true;
        case 'X':
          co_await send_origin(m.frame);
          co_return false;
        case 'F': {
          // A function called by OID: anything at all may have happened.
          std::string frame(m.frame);
          co_await send_origin(frame);
          auto r = co_await relay(nullptr);
          state_.ran_unknown();
          round_ended(r);
          co_await send_reply();
          if (r.passthrough) co_return true;
          break;
        }
        default:
          // CopyData/CopyDone/CopyFail outside COPY: PostgreSQL ignores them.
          co_await send_origin(m.frame);
          break;
      }
    }
  }

  // Waits for the next message of a client that LISTENs, relaying the
  // notifications (and notices, or the FATAL error of a shutdown) that
  // PostgreSQL sends meanwhile at once, as they would come without the
  // proxy. Watching both sockets costs a hit several times its own work, so
  // other sessions hear what PostgreSQL said unasked with their next answer.
  awaitable<void> wait_for_client() {
    using namespace asio::experimental::awaitable_operators;
    for (;;) {
      while (auto m = origin_in_.next()) co_await relay_unasked(*m);
      auto ready = co_await (client_.async_wait(tcp::socket::wait_read, use_awaitable) ||
                             origin_.async_wait(tcp::socket::wait_read, use_awaitable));
      if (ready.index() == 0) co_return;
      co_await relay_unasked(co_await read_origin());
    }
  }

  awaitable<void> relay_unasked(const pgwire::message_view& m) {
    if (m.type == 'S') note_setting(m.body);
    co_await send_client(m.frame);
    if (m.type == 'E') throw origin_ended{};  // only a FATAL error comes unasked
  }

  // Forwards the origin's answer until ReadyForQuery, capturing what a
  // cache entry needs when `cap` is given.
  awaitable<relay_outcome> relay(capture* cap) {
    relay_outcome r;
    std::string out;
    constexpr std::size_t flush_at = 64 * 1024;
    for (;;) {
      auto m = co_await read_origin();
      if (m.type == '1' && drop_parse_complete_ > 0) {
        --drop_parse_complete_;  // answers a Parse the proxy replayed on its own
        continue;
      }
      out.append(m.frame);
      if (m.type == 'C') r.tag = pgwire::parse_command_complete(m.body);
      switch (m.type) {
        case 'D':
          ++r.rows;
          [[fallthrough]];
        case 'T':
        case 'C':
        case 'n':
        case 'I':
          if (cap && cap->ok) {
            if (cap->bytes.size() + m.frame.size() > cap->limit) {
              cap->ok = false;
              cap->bytes = {};
            } else {
              cap->bytes.append(m.frame);
            }
          }
          break;
        case 'E': {
          r.error = true;
          if (cap) cap->ok = false;
          const auto severity = pgwire::parse_error_response(m.body).severity;
          if (severity == "FATAL" || severity == "PANIC") {
            // PostgreSQL ends the session (57P01 on shutdown, a terminated
            // backend): the client hears it in PostgreSQL's words.
            co_await send_client(out);
            throw origin_ended{};
          }
          break;
        }
        case 'N':
        case 's':
          if (cap) cap->ok = false;  // a replay would lose the notice or the suspension
          break;
        case 'S':
          note_setting(m.body);
          break;
        case 'G':
        case 'W':
          r.passthrough = true;
          co_await send_client(out);
          co_return r;
        case 'Z':
          // The caller sends the rest once it has counted the statement,
          // so a client that scrapes right after its answer sees the count.
          r.status = pgwire::parse_ready_for_query(m.body);
          reply_ = std::move(out);
          co_return r;
        default: break;
      }
      if (out.size() >= flush_at) {
        co_await send_client(out);
        out.clear();
      }
    }
  }

  awaitable<bool> simple_query(const std::string& frame, const std::string& sql) {
    const auto start = clock::now();
    // A simple Query destroys the unnamed prepared statement on the origin.
    pending_unnamed_parse_.clear();
    prepared_.erase("");
    // The cache is asked first: an entry exists only for a statement that
    // was cacheable, so a hit needs no classification.
    const bool may_cache =
        caching_database_ && transaction_ == 'I' && !std::exchange(unsynced_, false) && sees_own_writes();
    const std::string& key = may_cache ? cache_key("Q", sql) : key_;
    if (may_cache && co_await try_hit(key, start, {})) co_return false;
    verdict_ptr v = co_await srv_.classify(sql);
    const bool use_cache = may_cache && v->c.verdict == status::cache_miss;
    const std::uint64_t ticket = srv_.cache.ticket();
    co_await send_origin(frame);
    capture cap;
    cap.limit = srv_.cache.max_entry_bytes();
    relay_outcome r = co_await relay(use_cache ? &cap : nullptr);
    if (use_cache) store(key, cap, r, v, ticket);
    statement_ran(*v, sql);
    round_ended(r);
    count_query(v->c.verdict);
    co_await send_reply();
    record_latency(*v, v->c.verdict, start, r.rows);
    co_return r.passthrough;
  }

  // Serves `key` from the cache if it is there; `prefix` goes before the
  // cached messages (ParseComplete, BindComplete).
  awaitable<bool> try_hit(const std::string& key, clock::time_point start, std::string prefix) {
    const auto lookup = clock::now();
    auto hit = srv_.cache.find(key);
    metrics.cache_lookup.record(since(lookup));
    if (!hit) co_return false;
    std::string tail;
    pgwire::ready_for_query(tail, 'I');
    count_query(status::cache_hit);
    std::array<asio::const_buffer, 3> buffers{asio::buffer(prefix), asio::buffer(hit->response), asio::buffer(tail)};
    co_await asio::async_write(client_, buffers, use_awaitable);
    metrics.bytes[index(byte_direction::client_out)].increment(prefix.size() + hit->response.size() + tail.size());
    record_latency(*hit->statement, status::cache_hit, start, hit->rows);
    co_return true;
  }

  void store(const std::string& key, capture& cap, const relay_outcome& r, const verdict_ptr& v,
             std::uint64_t ticket) {
    if (!cap.ok || r.error || r.passthrough || r.status != 'I') return;
    auto entry = std::make_shared<cached_result>();
    entry->response = std::move(cap.bytes);
    entry->rows = r.rows;
    entry->tables = v->c.tables;
    entry->statement = v;
    srv_.cache.store(key, std::move(entry), ticket);
  }

  // A statement ran: what it did to the session, its prepared statements
  // and the catalog.
  void statement_ran(const verdict& v, const std::string& sql) {
    state_.ran(v.a, v.c.effects, sql);
    listening_ |= v.a.listens;
    if (v.a.deallocates_all || v.a.discards_all) prepared_.clear();
    else if (v.a.deallocates) prepared_.erase(*v.a.deallocates);
    if (caching_database_ && v.c.effects.changes_schema) {
      // DDL changes results and catalog facts; the change feed sees neither.
      // (Once more when it commits: others may refill meanwhile.)
      srv_.forget_catalog();
      srv_.cache.clear();
    }
  }

  // ReadyForQuery: a transaction, or a statement outside one, is over.
  // Writes through the proxy invalidate as soon as they are committed,
  // without waiting for the change feed, so a client reads its own writes;
  // writes it cannot name make the session wait for the feed instead.
  void round_ended(const relay_outcome& r) {
    transaction_ = r.status;
    auto end = state_.ready(r.status, r.error, r.tag);
    if (!caching_database_) return;
    for (const auto& t : end.written) srv_.cache.invalidate(t);
    if (end.schema_changed) {
      srv_.forget_catalog();
      srv_.cache.clear();
    }
    if (end.hidden_write) {
      unseen_write_at_ = clock::now();
      srv_.feed->hurry();
    }
  }

  static void count_query(status outcome) { metrics.queries[index(outcome)].increment(); }

  // The latency the client saw: from its message to the last byte of the
  // answer handed to the socket.
  void record_latency(const verdict& v, status outcome, clock::time_point start, std::uint64_t rows) {
    const double seconds = since(start);
    const auto source = outcome == status::cache_hit ? answer_source::cache : answer_source::origin;
    metrics.query_duration[index(source)].record(seconds);
    srv_.stats.record(v.a, v.c, {outcome, seconds, rows});
  }

  // ---- the extended protocol ----------------------------------------------

  // Sends the batch's frames, led by an unnamed Parse a hit answered
  // without forwarding, which the origin must see before anything uses it.
  awaitable<void> forward_batch() {
    batch_.clear();  // its views are about to go
    if (!pending_unnamed_parse_.empty()) {
      drop_parse_complete_ = starts_with_unnamed_parse(batch_wire_) ? 0 : 1;
      if (drop_parse_complete_) batch_wire_.insert(0, pending_unnamed_parse_);
      pending_unnamed_parse_.clear();
    }
    co_await send_origin(batch_wire_);
    batch_wire_.clear();
  }

  // Splits the batch's wire bytes into messages (the decoder has checked
  // their framing).
  void split_batch() {
    batch_.clear();
    for (std::string_view rest = batch_wire_; !rest.empty();) {
      const auto size = 1 + static_cast<std::size_t>(pgwire::body_reader(rest.substr(1, 4)).int32());
      batch_.push_back(parse_batch_message(rest.substr(0, size)));
      rest.remove_prefix(size);
    }
  }

  // Records each Parse and Close of a statement, and which statement each
  // Execute runs (null where the proxy never saw it parsed), in order.
  void track_statements() {
    std::map<std::string_view, std::string_view> portals;  // portal -> statement
    executed_.clear();
    for (const auto& m : batch_) {
      if (m.type == 'P') {
        auto statement = std::make_shared<const prepared_statement>(
            prepared_statement{std::string(m.sql), std::string(m.parameter_types)});
        if (auto s = prepared_.find(m.name); s != prepared_.end()) s->second = std::move(statement);
        else prepared_.emplace(m.name, std::move(statement));
      } else if (m.type == 'B') {
        portals[m.name] = m.bound;
      } else if (m.type == 'C' && m.target == 'S') {
        if (auto s = prepared_.find(m.name); s != prepared_.end()) prepared_.erase(s);
      } else if (m.type == 'E') {
        auto p = portals.find(m.name);
        auto s = p == portals.end() ? prepared_.end() : prepared_.find(p->second);
        executed_.push_back(s == prepared_.end() ? nullptr : s->second);
      }
    }
  }

  // Runs the messages up to and including a Sync: from the cache when the
  // batch is one cacheable execution ([Parse] Bind [Describe portal] Execute
  // Sync, unnamed portal, all rows), else through the origin.
  awaitable<bool> run_batch() {
    const auto start = clock::now();
    split_batch();
    track_statements();
    // The cacheable shape.
    const auto& batch = batch_;
    std::size_t i = 0;
    const bool has_parse = batch.size() > i && batch[i].type == 'P' && batch[i].name.empty();
    if (has_parse) ++i;
    const batch_message* bind = batch.size() > i && batch[i].type == 'B' && batch[i].name.empty() ? &batch[i++] : nullptr;
    const bool has_describe = batch.size() > i && batch[i].type == 'D' && batch[i].target == 'P' && batch[i].name.empty();
    if (has_describe) ++i;
    const bool shape = bind && batch.size() == i + 2 && batch[i].type == 'E' && batch[i].name.empty() &&
                       batch[i].max_rows == 0 && batch[i + 1].type == 'S' && executed_.size() == 1;
    const bool may_cache = shape && caching_database_ && transaction_ == 'I' && executed_[0] &&
                           !std::exchange(unsynced_, false) && sees_own_writes();
    if (may_cache) {
      cache_key(has_describe ? "Ed" : "E-", executed_[0]->sql, executed_[0]->parameter_types, bind->bind_rest);
      std::string prefix;
      if (has_parse) pgwire::message_writer(prefix, '1').finish();
      pgwire::message_writer(prefix, '2').finish();
      if (co_await try_hit(key_, start, std::move(prefix))) {
        if (has_parse) pending_unnamed_parse_ = batch[0].frame;
        batch_.clear();
        batch_wire_.clear();
        co_return false;
      }
    }
    // An execution of a statement the proxy never saw parsed is counted as
    // the empty statement's, and may have done anything.
    static const std::string unknown;
    std::vector<verdict_ptr> verdicts;
    for (const auto& statement : executed_) {
      const std::string& sql = statement ? statement->sql : unknown;
      verdicts.push_back(co_await srv_.classify(sql));
    }
    const bool use_cache = may_cache && verdicts[0]->c.verdict == status::cache_miss;

    const std::uint64_t ticket = srv_.cache.ticket();
    std::vector<std::string> parsed;  // named statements this batch defines
    for (const auto& m : batch_)
      if (m.type == 'P' && !m.name.empty()) parsed.emplace_back(m.name);
    co_await forward_batch();
    capture cap;
    cap.limit = srv_.cache.max_entry_bytes();
    relay_outcome r = co_await relay(use_cache ? &cap : nullptr);
    if (use_cache) store(key_, cap, r, verdicts[0], ticket);
    for (std::size_t k = 0; k < verdicts.size(); ++k) {
      if (executed_[k]) statement_ran(*verdicts[k], executed_[k]->sql);
      else state_.ran_unknown();
    }
    // After a failed batch, which of its Parses PostgreSQL took is unknown
    // (a second Parse of a name fails and keeps the first text): those
    // names run unknown statements from now on.
    if (r.error)
      for (const auto& name : parsed) prepared_.erase(name);
    round_ended(r);
    for (const auto& v : verdicts) count_query(v->c.verdict);
    co_await send_reply();
    for (const auto& v : verdicts) record_latency(*v, v->c.verdict, start, r.rows);
    co_return r.passthrough;
  }

  // ---- plain relay --------------------------------------------------------

  awaitable<void> passthrough() {
    using namespace asio::experimental::awaitable_operators;
    if (client_in_.buffered()) co_await send_origin(std::string(client_in_.unread()));
    if (origin_in_.buffered()) co_await send_client(std::string(origin_in_.unread()));
    co_await (pump_from_client() || pump_from_origin());
  }

  awaitable<void> pump_from_client() {
    std::array<char, 16 * 1024> buf;
    for (;;) {
      std::size_t n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
      count_client_in(n);
      co_await send_origin({buf.data(), n});
    }
  }

  awaitable<void> pump_from_origin() {
    std::array<char, 16 * 1024> buf;
    for (;;) {
      std::size_t n = 0;
      try {
        n = co_await origin_.async_read_some(asio::buffer(buf), use_awaitable);
      } catch (const boost::system::system_error& e) {
        throw origin_lost(e.code().message());
      }
      count_origin_in(n);
      co_await send_client({buf.data(), n});
    }
  }

  server::impl& srv_;
  tcp::socket client_;
  tcp::socket origin_;
  pgwire::decoder client_in_;
  pgwire::decoder origin_in_;
  session_state state_;
  bool caching_database_ = false;
  bool listening_ = false;  // ran LISTEN: notifications come between messages
  bool waiting_for_client_ = false;  // between statements: a shutdown may end the session now
  char transaction_ = 'I';
  std::optional<clock::time_point> unseen_write_at_;  // a write the change feed must pass first
  std::map<std::string, statement_ptr, std::less<>> prepared_;  // statement name -> what Parse defined
  std::string batch_wire_;              // extended-protocol messages waiting for their Sync
  std::vector<batch_message> batch_;    // batch_wire_ split, at the Sync
  std::vector<statement_ptr> executed_;  // what the batch's Executes run
  std::string key_;                     // the cache key of the statement at hand
  std::string pending_unnamed_parse_;
  int drop_parse_complete_ = 0;
  bool unsynced_ = false;  // origin answers to unsynced messages precede the next reply
  std::string reply_;  // the end of an answer, up to ReadyForQuery
};

}  // namespace

awaitable<void> server::impl::accept_loop() {
  co_await service::accept_loop(
      acceptor, "obs_proxy",
      [this](tcp::socket socket) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        asio::co_spawn(
            io,
            [this, s = std::move(socket)]() mutable -> awaitable<void> {
              session conversation(*this, std::move(s));
              co_await conversation.run();
            },
            asio::detached);
      },
      [](const boost::system::error_code&) { metrics.accept_errors.increment(); });
}

server::server(config c) : impl_(std::make_unique<impl>(std::move(c))) {}

server::~server() = default;

void server::run() {
  asio::co_spawn(impl_->io, impl_->accept_loop(), [](std::exception_ptr) {});
  impl_->io.run();
}

void server::stop() {
  asio::post(impl_->io, [this] { impl_->begin_shutdown(); });
}

// Stops accepting; sessions between statements end at once with 57P01,
// the others after their statement, and whatever is left at the deadline is
// cut off. run() returns once the last session is gone.
void server::impl::begin_shutdown() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (auto* s : sessions) s->stop_when_idle();
  drain_deadline.expires_after(cfg.shutdown_timeout);
  drain_deadline.async_wait([this](boost::system::error_code ec) {
    if (!ec) end_shutdown();
  });
  if (sessions.empty()) drain_deadline.cancel();
}

void server::impl::end_shutdown() {
  catalog.stop();  // a lookup waiting for a hung origin gives up
  const std::vector<session*> left(sessions.begin(), sessions.end());
  for (auto* s : left) s->abort();
}

std::uint16_t server::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }
const std::string& server::slot() const noexcept { return impl_->cfg.slot; }
result_cache& server::cache() noexcept { return impl_->cache; }
query_stats& server::stats() noexcept { return impl_->stats; }
const change_feed& server::feed() const noexcept { return *impl_->feed; }

}  // namespace proxy
