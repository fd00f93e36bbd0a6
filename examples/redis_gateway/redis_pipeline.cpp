#include "redis_pipeline.hpp"

#include <cstdio>
#include <deque>
#include <utility>

#include <boost/asio/steady_timer.hpp>

namespace redis_gateway {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

redis_result unavailable(std::string why) { return {redis_result::outcome::unavailable, nullptr, std::move(why)}; }

redis_result no_connection(std::chrono::milliseconds timeout) {
  return unavailable("no connection within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace

// One instance's connection on this thread, and the commands waiting for it.
struct redis_pipeline::slot {
  explicit slot(asio::io_context& ioc) : retry_timer(ioc), expiry_timer(ioc) {}
  redis_instance_ptr inst;                  // what `conn` serves, and `waiting` waits for
  std::shared_ptr<redis_connection> conn;   // the current one, ready or opening; null between attempts
  std::deque<redis_command_ptr> waiting;    // not sent yet, oldest (and first to expire) first
  std::uint32_t attempt = 0;                // of the round under way; 0 when none is
  std::uint64_t round = 0;                  // rounds begun, so a late callback knows its own
  asio::steady_timer retry_timer;           // between attempts
  asio::steady_timer expiry_timer;          // on the oldest waiting command's deadline
  bool expiry_armed = false;
};

redis_pipeline::redis_pipeline(asio::io_context& ioc, redis_pipeline_options opts) : ioc_(ioc), opts_(opts) {}

redis_pipeline::~redis_pipeline() { close_all("gateway stopping"); }

redis_pipeline::slot* redis_pipeline::find(const std::string& name, std::int64_t id) {
  auto it = slots_.find(name);
  return it != slots_.end() && it->second->inst && it->second->inst->id == id ? it->second.get() : nullptr;
}

void redis_pipeline::start(redis_instance_ptr inst, redis_command_ptr cmd) {
  if (closed_) return complete(ioc_, std::move(cmd), unavailable(closed_reason_));
  auto it = slots_.find(inst->name);
  if (it == slots_.end()) it = slots_.emplace(inst->name, std::make_unique<slot>(ioc_)).first;
  slot& s = *it->second;
  // The name now belongs to another instance: nothing of the old one's may
  // serve it, nor may the old one's commands go to it.
  if (s.inst && s.inst->id != inst->id) retire(s, "instance " + inst->name + " was replaced");
  s.inst = std::move(inst);
  if (s.attempt == 0 && s.conn && s.conn->ready()) {
    if (!s.conn->died_while_idle()) return s.conn->send(std::move(cmd));
    std::fprintf(stderr, "redis_gateway: redis instance %s (%s:%u): connection closed by the server while idle; "
                 "reopening\n", s.inst->name.c_str(), s.inst->host.c_str(), s.inst->port);
    s.conn->close("closed by the server while idle");
    s.conn.reset();
  }
  wait(s, std::move(cmd));
  if (s.attempt == 0) attempt(s);
}

void redis_pipeline::attempt(slot& s) {
  if (s.attempt++ == 0) ++s.round;
  s.conn = redis_connection::open(ioc_, s.inst, {opts_.timeout, opts_.client_name},
                                  [this, name = s.inst->name, id = s.inst->id, round = s.round, n = s.attempt](
                                      const std::string& error) { opened(name, id, round, n, error); });
}

void redis_pipeline::opened(const std::string& name, std::int64_t id, std::uint64_t round, std::uint32_t n,
                            const std::string& error) {
  slot* s = find(name, id);
  if (!s || s->round != round || s->attempt != n) return;  // retired meanwhile
  const redis_instance& inst = *s->inst;
  if (error.empty()) {
    s->attempt = 0;
    if (n > 1)
      std::fprintf(stderr, "redis_gateway: redis instance %s: connected on attempt %u/%u\n", inst.name.c_str(), n,
                   opts_.attempts);
    disarm_expiry(*s);
    const auto now = clock::now();
    while (!s->waiting.empty()) {
      redis_command_ptr cmd = std::move(s->waiting.front());
      s->waiting.pop_front();
      // One whose time ran out as the connection opened would, sent, make
      // the connection look silent and close it.
      if (cmd->deadline <= now)
        complete(ioc_, std::move(cmd), no_connection(opts_.timeout));
      else
        s->conn->send(std::move(cmd));
    }
    return;
  }
  std::fprintf(stderr, "redis_gateway: redis instance %s (%s:%u): connect attempt %u/%u failed: %s\n",
               inst.name.c_str(), inst.host.c_str(), inst.port, n, opts_.attempts, error.c_str());
  s->conn.reset();
  // The round goes on when the commands that started it have given up: the
  // connection it opens serves the next ones.
  if (n < opts_.attempts) {
    s->retry_timer.expires_after(opts_.retry_delay);
    s->retry_timer.async_wait([this, name, id, round, n](boost::system::error_code ec) {
      slot* s = ec ? nullptr : find(name, id);
      if (s && s->round == round && s->attempt == n) attempt(*s);
    });
    return;
  }
  s->attempt = 0;
  fail_waiting(*s, "cannot connect after " + std::to_string(n) + " attempts: " + error);
}

void redis_pipeline::wait(slot& s, redis_command_ptr cmd) {
  s.waiting.push_back(std::move(cmd));
  arm_expiry(s);
}

// One timer on the oldest waiting command's deadline. A cancelled wait
// returns at once: whoever cancels it disarms.
void redis_pipeline::arm_expiry(slot& s) {
  if (s.expiry_armed || s.waiting.empty()) return;
  s.expiry_armed = true;
  s.expiry_timer.expires_at(s.waiting.front()->deadline);
  s.expiry_timer.async_wait([this, name = s.inst->name, id = s.inst->id](boost::system::error_code ec) {
    slot* s = ec ? nullptr : find(name, id);
    if (!s) return;
    s->expiry_armed = false;
    const auto now = clock::now();
    while (!s->waiting.empty() && s->waiting.front()->deadline <= now) {
      complete(ioc_, std::move(s->waiting.front()), no_connection(opts_.timeout));
      s->waiting.pop_front();
    }
    arm_expiry(*s);
  });
}

void redis_pipeline::disarm_expiry(slot& s) {
  s.expiry_timer.cancel();
  s.expiry_armed = false;
}

void redis_pipeline::fail_waiting(slot& s, const std::string& why) {
  disarm_expiry(s);
  while (!s.waiting.empty()) {
    complete(ioc_, std::move(s.waiting.front()), unavailable(why));
    s.waiting.pop_front();
  }
}

void redis_pipeline::retire(slot& s, const std::string& reason) {
  s.retry_timer.cancel();
  s.attempt = 0;
  fail_waiting(s, reason);
  if (s.conn) s.conn->close(reason);
  s.conn.reset();
}

void redis_pipeline::forget(const redis_instance& inst) {
  if (slot* s = find(inst.name, inst.id)) {
    retire(*s, "instance " + inst.name + " was deleted");
    slots_.erase(inst.name);
  }
}

void redis_pipeline::close_all(const std::string& reason) {
  closed_ = true;
  closed_reason_ = reason;
  for (auto& [name, s] : slots_) retire(*s, reason);
  slots_.clear();
}

}  // namespace redis_gateway
