#include "health.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include "backend.hpp"
#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/stream.hpp"

namespace pooler {
namespace {

// Sends a startup packet and reads the first answer; throws unless it is an
// authentication request. The connection closes before any password: a
// PostgreSQL backend leaves no log line for that.
asio::awaitable<bool> answers(const upstream_check::target& t) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await open_socket(socket, t.host, t.port);
  std::string out;
  const std::pair<std::string, std::string> startup[] = {{"user", t.user}, {"database", t.dbname}};
  pgwire::startup_message(out, startup);
  co_await write_all(socket, out);
  pgwire::decoder decoder;
  auto m = co_await pgwire::async_read_message(socket, decoder);
  if (m.type == 'E') throw backend_error(pgwire::parse_error_response(m.body).message);
  if (m.type != 'R') throw pgwire::protocol_error("the server answered a startup packet with a '" + std::string(1, m.type) + "'");
  co_return true;
}

asio::awaitable<void> probe(const upstream_check::target& t, std::chrono::milliseconds timeout, std::string& failure) {
  try {
    co_await with_timeout(answers(t), timeout, "no answer");
  } catch (const timeout_error&) {
    failure = "no answer within " + std::to_string(timeout.count()) + " ms";
  } catch (const std::exception& e) {
    failure = describe(e);
  }
}

}  // namespace

void upstream_check::set(std::vector<target> targets, std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  targets_ = std::move(targets);
  timeout_ = timeout;
}

obs::http::check_result upstream_check::run() const {
  std::vector<target> targets;
  std::chrono::milliseconds timeout;
  {
    std::lock_guard lock(mutex_);
    targets = targets_;
    timeout = timeout_;
  }
  asio::io_context io(1);
  std::vector<std::string> failures(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i)
    asio::co_spawn(io, probe(targets[i], timeout, failures[i]), asio::detached);
  io.run();
  // Databases by their names in the config: the servers' addresses are not
  // for whoever reads the probe.
  std::string down;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (failures[i].empty()) continue;
    if (!down.empty()) down += "; ";
    down += targets[i].database + ": " + failures[i];
  }
  if (!down.empty()) return obs::http::check_result::unhealthy(down);
  return obs::http::check_result::healthy(std::to_string(targets.size()) + " database(s) answer");
}

}  // namespace pooler
