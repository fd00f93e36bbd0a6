#include "redis_pool.hpp"

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <utility>

#include "metrics.hpp"
#include "redis_reply.hpp"

namespace redis_gateway {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

struct reply_deleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  for (const auto& a : argv) args.push_back(a.data()), lens.push_back(a.size());
  return reply_ptr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data())));
}

// Closes a connection connect_once() opened.
void close(redisContext* c) {
  redisFree(c);
  OBS_GAUGE("redis_connections_active").decrement();
}

}  // namespace

struct redis_pool::pool {
  redis_instance inst;
  std::mutex mutex;
  std::condition_variable freed;
  std::vector<redisContext*> idle;
  std::size_t open = 0;
  // Bumped (under `mutex`) when the address changes or the instance goes:
  // older connections close. Atomic so redis_pipeline can read it per command.
  std::atomic<std::uint64_t> generation{0};
};

// A connection out of its pool; returns it (or closes it, when broken or
// stale) when destroyed.
struct redis_pool::lease {
  std::shared_ptr<pool> p;
  redisContext* c = nullptr;
  std::uint64_t generation = 0;
  bool broken = false;

  lease(std::shared_ptr<pool> pl, redisContext* ctx, std::uint64_t gen) : p(std::move(pl)), c(ctx), generation(gen) {}
  lease(lease&& o) noexcept : p(std::move(o.p)), c(std::exchange(o.c, nullptr)), generation(o.generation), broken(o.broken) {}
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  lease& operator=(lease&&) = delete;
  ~lease() {
    if (!c) return;
    std::unique_lock lock(p->mutex);
    // Ordering: relaxed, under the mutex that orders every write of it.
    if (broken || c->err || generation != p->generation.load(std::memory_order_relaxed)) {
      --p->open;
      lock.unlock();
      close(c);
      lock.lock();
    } else {
      p->idle.push_back(c);
    }
    p->freed.notify_one();
  }
};

redis_pool::redis_pool(redis_pool_options opts) : opts_(opts) {}

redis_pool::~redis_pool() {
  for (auto& [name, p] : pools_) {
    std::lock_guard lock(p->mutex);
    for (auto* c : p->idle) close(c);
    p->open -= p->idle.size();
    p->idle.clear();
  }
}

std::shared_ptr<redis_pool::pool> redis_pool::find(const std::string& name) const {
  std::shared_lock lock(mutex_);
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second;
}

void redis_pool::set_instance(const redis_instance& inst) {
  std::shared_ptr<pool> p;
  {
    std::unique_lock lock(mutex_);
    auto& slot = pools_[inst.name];
    if (!slot) {
      slot = std::make_shared<pool>();
      slot->inst = inst;
      return;
    }
    p = slot;
  }
  std::vector<redisContext*> closing;
  {
    std::lock_guard lock(p->mutex);
    p->inst = inst;
    ++p->generation;
    closing.swap(p->idle);
    p->open -= closing.size();
  }
  for (auto* c : closing) close(c);
}

void redis_pool::remove_instance(const std::string& name) {
  std::shared_ptr<pool> p;
  {
    std::unique_lock lock(mutex_);
    auto it = pools_.find(name);
    if (it == pools_.end()) return;
    p = std::move(it->second);
    pools_.erase(it);
  }
  std::vector<redisContext*> closing;
  {
    std::lock_guard lock(p->mutex);
    ++p->generation;  // leased connections close when returned
    closing.swap(p->idle);
    p->open -= closing.size();
  }
  for (auto* c : closing) close(c);
}

std::vector<std::string> redis_pool::instances() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, p] : pools_) names.push_back(name);
  return names;
}

void redis_pool::count_connection(int delta) noexcept {
  // Ordering: relaxed; a count read on its own.
  counted_.fetch_add(static_cast<std::size_t>(delta), std::memory_order_relaxed);
  OBS_GAUGE("redis_connections_active").increment(delta);
}

std::size_t redis_pool::active_connections() const {
  std::shared_lock lock(mutex_);
  std::size_t n = counted_.load(std::memory_order_relaxed);  // Ordering: as in count_connection()
  for (const auto& [name, p] : pools_) {
    std::lock_guard plock(p->mutex);
    n += p->open;
  }
  return n;
}

redisContext* redis_pool::connect_once(const redis_instance& inst, std::string& error) const {
  const timeval tv = to_timeval(opts_.timeout);
  redisContext* c = redisConnectWithTimeout(inst.host.c_str(), inst.port, tv);
  if (!c || c->err) {
    error = c ? c->errstr : "cannot allocate a connection";
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  if (!inst.password.empty()) {
    reply_ptr auth = command(c, {"AUTH", inst.password});
    if (!auth || auth->type == REDIS_REPLY_ERROR) {
      error = auth ? std::string("AUTH: ") + std::string(auth->str, auth->len) : c->errstr;
      redisFree(c);
      return nullptr;
    }
  }
  reply_ptr pong = command(c, {"PING"});
  if (!pong || pong->type != REDIS_REPLY_STATUS || std::string_view(pong->str, pong->len) != "PONG") {
    error = pong ? "PING: unexpected reply" : std::string("PING: ") + c->errstr;
    redisFree(c);
    return nullptr;
  }
  OBS_GAUGE("redis_connections_active").increment();
  return c;
}

redisContext* redis_pool::connect_with_retry(const redis_instance& inst, std::string& error) const {
  for (std::uint32_t attempt = 1; attempt <= opts_.attempts; ++attempt) {
    if (redisContext* c = connect_once(inst, error)) {
      if (attempt > 1)
        std::fprintf(stderr, "redis_gateway: redis instance %s: connected on attempt %u/%u\n", inst.name.c_str(),
                     attempt, opts_.attempts);
      return c;
    }
    std::fprintf(stderr, "redis_gateway: redis instance %s (%s:%u): connect attempt %u/%u failed: %s\n",
                 inst.name.c_str(), inst.host.c_str(), inst.port, attempt, opts_.attempts, error.c_str());
    if (attempt < opts_.attempts) std::this_thread::sleep_for(opts_.delay);
  }
  error = "cannot connect after " + std::to_string(opts_.attempts) + " attempts: " + error;
  return nullptr;
}

std::optional<redis_pool::lease> redis_pool::acquire(const std::shared_ptr<pool>& p, bool retry,
                                                     std::string& error) {
  std::unique_lock lock(p->mutex);
  const bool got = p->freed.wait_for(lock, opts_.timeout,
                                     [&] { return !p->idle.empty() || p->open < opts_.max_per_instance; });
  if (!got) {
    error = "all connections busy";
    return std::nullopt;
  }
  if (!p->idle.empty()) {
    redisContext* c = p->idle.back();
    p->idle.pop_back();
    return lease(p, c, p->generation.load(std::memory_order_relaxed));  // Ordering: under mutex
  }
  ++p->open;  // reserve the slot while connecting without the lock
  const redis_instance inst = p->inst;
  const std::uint64_t gen = p->generation.load(std::memory_order_relaxed);  // Ordering: under mutex
  lock.unlock();
  redisContext* c = retry ? connect_with_retry(inst, error) : connect_once(inst, error);
  if (!c) {
    lock.lock();
    --p->open;
    p->freed.notify_one();
    return std::nullopt;
  }
  return lease(p, c, gen);
}

redis_result redis_pool::execute(const std::string& instance, const std::vector<std::string>& argv) {
  const auto start = std::chrono::steady_clock::now();
  auto p = find(instance);
  if (!p) return {redis_result::outcome::unknown_instance, nullptr, "unknown instance"};
  redis_result out;
  std::string error;
  if (auto l = acquire(p, true, error)) {
    if (reply_ptr reply = command(l->c, argv)) {
      out = from_reply(*reply);
    } else {
      l->broken = true;
      out = {redis_result::outcome::unavailable, nullptr, std::string("redis: ") + l->c->errstr};
    }
  } else {
    out = {redis_result::outcome::unavailable, nullptr, "redis unavailable: " + error};
  }
  record_command(argv.front(), out, std::chrono::steady_clock::now() - start);
  return out;
}

std::optional<redis_pool::address> redis_pool::address_of(const std::string& instance) const {
  auto p = find(instance);
  if (!p) return std::nullopt;
  std::lock_guard lock(p->mutex);
  return address{p->inst, p->generation.load(std::memory_order_relaxed)};  // Ordering: under mutex
}

std::optional<std::uint64_t> redis_pool::generation(const std::string& instance) const {
  auto p = find(instance);
  if (!p) return std::nullopt;
  // Ordering: relaxed; a command racing an address change may still go to
  // the old address, as one already sent on a leased connection would.
  return p->generation.load(std::memory_order_relaxed);
}

redis_health redis_pool::health_check(const std::string& instance) {
  auto p = find(instance);
  if (!p) return {false, "unknown instance"};
  std::string error;
  // An idle connection may have died with the server: one more try on a fresh one.
  for (int round = 0; round < 2; ++round) {
    auto l = acquire(p, false, error);
    if (!l) return {false, error};
    reply_ptr pong = command(l->c, {"PING"});
    if (pong && pong->type == REDIS_REPLY_STATUS) return {true, "PONG"};
    l->broken = true;
    error = pong ? "unexpected reply to PING" : l->c->errstr;
  }
  return {false, error};
}

bool redis_pool::reconnect_instance(const std::string& instance, const std::string& host, std::uint16_t port,
                                    const std::string& password) {
  auto p = find(instance);
  if (!p) return false;
  set_instance({instance, host, port, password});
  std::string error;
  return acquire(p, true, error).has_value();
}

}  // namespace redis_gateway
