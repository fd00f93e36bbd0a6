// redis_gateway::redis_pool: a pool of hiredis connections per Redis
// instance, with the seed's connection retry: up to MAX_RETRY_ATTEMPTS
// connects RETRY_DELAY_MS apart, each verified by PING (after AUTH when the
// instance has a password), every failed attempt logged on stderr.
//
//   redis_pool pool({.attempts = 3, .delay = 1s, .timeout = 2s, .max_per_instance = 8});
//   pool.set_instance({"cache", "127.0.0.1", 6379, ""});
//   redis_result r = pool.execute("cache", {"GET", "user:1"});
//
// Thread safety: every member may be called from any thread. A command holds
// one connection of its instance for its duration; when all are busy it waits
// up to `timeout` for one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

struct redisContext;

namespace redis_gateway {

/// Where one Redis instance is.
struct redis_instance {
  std::string name;
  std::string host;
  std::uint16_t port = 6379;
  std::string password;  ///< AUTH password; empty for none
};

/// How the pool connects.
struct redis_pool_options {
  std::uint32_t attempts = 3;                 ///< connects per acquisition, PING-verified
  std::chrono::milliseconds delay{1000};      ///< between attempts
  std::chrono::milliseconds timeout{2000};    ///< connect and command timeout; wait for a busy pool
  std::size_t max_per_instance = 8;           ///< open connections per instance at most
};

/// A command's outcome.
struct redis_result {
  enum class outcome { ok, redis_error, unavailable, unknown_instance };
  outcome result = outcome::ok;
  nlohmann::json value;  ///< the reply as JSON when ok: string, integer, null, array
  std::string error;     ///< the reason otherwise
};

/// What health_check() found.
struct redis_health {
  bool ok = false;
  std::string message;
};

/// Connection pools per instance; see the header comment.
class redis_pool {
 public:
  explicit redis_pool(redis_pool_options opts);
  ~redis_pool();
  redis_pool(const redis_pool&) = delete;
  redis_pool& operator=(const redis_pool&) = delete;

  /// Adds an instance, or replaces its address (its open connections close).
  void set_instance(const redis_instance& inst);
  /// Removes an instance and closes its connections.
  void remove_instance(const std::string& name);
  /// The instances' names.
  std::vector<std::string> instances() const;

  /// Runs one command (`argv[0]` is the command) and converts its reply.
  /// Counts it in redis_commands_total, its failures in
  /// redis_command_errors_total, its time in redis_command_duration_seconds.
  redis_result execute(const std::string& instance, const std::vector<std::string>& argv);

  /// PINGs `instance` once, on an idle connection or a fresh one, without
  /// the retry loop (health probes must stay quick).
  redis_health health_check(const std::string& instance);

  /// Points `instance` at a new address (or the same), closes its idle
  /// connections and opens one with the retry loop. Returns whether it
  /// connected.
  bool reconnect_instance(const std::string& instance, const std::string& host, std::uint16_t port,
                          const std::string& password);

  /// An instance's address and its generation, which changes whenever the
  /// address does (set_instance, reconnect_instance) or the instance goes.
  struct address {
    redis_instance instance;
    std::uint64_t generation = 0;
  };
  /// The address of `instance`, or nullopt when there is none.
  std::optional<address> address_of(const std::string& instance) const;
  /// The generation of `instance` now, or nullopt when it is gone: a
  /// connection opened at an older one must close.
  std::optional<std::uint64_t> generation(const std::string& instance) const;

  /// Open connections over every instance, counted ones included.
  std::size_t active_connections() const;

  /// Counts a connection another client of the instances (redis_pipeline)
  /// opened (`+1`) or closed (`-1`), in active_connections() and
  /// redis_connections_active.
  void count_connection(int delta) noexcept;

 private:
  struct pool;
  struct lease;
  std::shared_ptr<pool> find(const std::string& name) const;
  // One connect + AUTH + PING; nullptr and `error` on failure.
  redisContext* connect_once(const redis_instance& inst, std::string& error) const;
  // connect_once up to opts_.attempts times, opts_.delay apart.
  redisContext* connect_with_retry(const redis_instance& inst, std::string& error) const;
  std::optional<lease> acquire(const std::shared_ptr<pool>& p, bool retry, std::string& error);

  redis_pool_options opts_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<pool>> pools_;
  std::atomic<std::size_t> counted_{0};  // count_connection()'s
};

}  // namespace redis_gateway
