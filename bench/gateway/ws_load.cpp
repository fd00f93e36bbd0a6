// ws_load: the load generator of bench/gateway/run. It drives
// examples/gateway over WebSocket on loopback and measures fan-out: how many
// messages the gateway stores and delivers per second, and how long a message
// takes from its sender to each other member of its room.
//
//   ws_load --port 3000 --clients 64 --rooms 8 --senders 16 --window 4 --seconds 5
//
// Client i (user bench-i) joins room r(i % rooms). The first --senders clients
// also send: closed-loop, each with --window messages not yet confirmed by the
// gateway's "sent" reply, or open-loop at --rate messages/s each. A message's
// body is the steady_clock time it was sent, in nanoseconds, so every member
// that receives it measures send -> receive in this same process. Members ACK
// what they receive (unless --no-ack), as a real client does.
//
// Nothing is measured during --warmup seconds; then --seconds are. When the
// senders stop, the deliveries still in flight get --drain seconds to arrive.
// Every message sent in the measured window is expected by each other member
// of its room; one that never arrives is "lost" (the gateway dropped it for a
// full outbound queue, or it came after the drain). One line of key=value
// results goes to stdout.
//
// With --messages N, each sender sends exactly N messages instead, all of
// them measured (no warm-up), and the run ends once every one is confirmed
// and delivered and every ACK written, or after --seconds. The gateway then
// does the same work in every run, which callgrind counts need
// (bench/gateway/run): a time window holds a varying number of messages.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto token = asio::as_tuple(asio::use_awaitable);

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  int clients = 64;
  int rooms = 8;
  int senders = 16;
  int window = 4;
  double rate = 0;  // messages/s per sender; 0 is closed-loop
  std::uint64_t messages = 0;  // per sender; 0: for --seconds
  double warmup = 1;
  double seconds = 5;
  double drain = 3;
  int threads = 1;
  bool ack = true;
};

constexpr const char* usage =
    "usage: ws_load --port P [--host H] [--clients N] [--rooms R] [--senders S] [--window W | --rate MSGS_PER_S]\n"
    "               [--warmup S] [--seconds S] [--messages N] [--drain S] [--threads T] [--no-ack]\n";

double parse_number(std::string_view flag, std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    throw std::invalid_argument(std::string(flag) + ": not a non-negative number: " + std::string(text));
  return v;
}

int parse_count(std::string_view flag, std::string_view text) {
  const double v = parse_number(flag, text);
  if (v < 1 || v != static_cast<int>(v)) throw std::invalid_argument(std::string(flag) + ": not a positive integer");
  return static_cast<int>(v);
}

options parse_flags(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--no-ack") {
      o.ack = false;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    const std::string_view value = argv[++i];
    if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = value;
    else if (flag == "--clients") o.clients = parse_count(flag, value);
    else if (flag == "--rooms") o.rooms = parse_count(flag, value);
    else if (flag == "--senders") o.senders = parse_count(flag, value);
    else if (flag == "--window") o.window = parse_count(flag, value);
    else if (flag == "--rate") o.rate = parse_number(flag, value);
    else if (flag == "--warmup") o.warmup = parse_number(flag, value);
    else if (flag == "--seconds") o.seconds = parse_number(flag, value);
    else if (flag == "--messages") o.messages = static_cast<std::uint64_t>(parse_count(flag, value));
    else if (flag == "--drain") o.drain = parse_number(flag, value);
    else if (flag == "--threads") o.threads = parse_count(flag, value);
    else throw std::invalid_argument("unknown flag " + std::string(flag));
  }
  if (o.port.empty()) throw std::invalid_argument("--port is required");
  if (o.seconds <= 0) throw std::invalid_argument("--seconds must be positive");
  if (o.senders > o.clients) throw std::invalid_argument("--senders cannot exceed --clients");
  if (o.rooms > o.clients) throw std::invalid_argument("--rooms cannot exceed --clients");
  return o;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

// The value of "key" in one of the gateway's flat JSON objects, quotes
// stripped. A full JSON parse per delivery would make this process, which
// shares the machine with the gateway, the bottleneck; the gateway's room and
// user names and this generator's bodies never contain quotes or escapes.
std::string_view field(std::string_view json, std::string_view key) {
  std::string quoted = "\"";
  quoted.append(key).append("\":");
  const auto at = json.find(quoted);
  if (at == std::string_view::npos) return {};
  std::string_view rest = json.substr(at + quoted.size());
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  if (!rest.empty() && rest.front() == '"') {
    rest.remove_prefix(1);
    return rest.substr(0, rest.find('"'));
  }
  return rest.substr(0, rest.find_first_of(",}"));
}

std::int64_t to_int(std::string_view text) {
  std::int64_t v = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() ? v : -1;
}

// What every client and the main thread share. The window bounds are written
// once, before any sender starts, and read by the clients after that.
struct run_state {
  explicit run_state(const options& o) : opts(o), sends_in_window(o.rooms), members(o.rooms, 0) {
    for (int i = 0; i < o.clients; ++i) ++members[i % o.rooms];
  }
  const options& opts;
  std::atomic<int> joined{0};
  std::atomic<int> failed{0};
  std::atomic<std::int64_t> window_start{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> window_end{std::numeric_limits<std::int64_t>::max()};
  std::vector<std::atomic<std::uint64_t>> sends_in_window;  // by room
  std::vector<int> members;                                   // by room
  std::atomic<std::uint64_t> received_in_window{0};
  std::atomic<std::uint64_t> replies{0};  // "sent" and "error" answers to sends
  std::atomic<std::uint64_t> acks_written{0};
  std::atomic<std::uint64_t> all_sends{0};  // warmup and drain included: what the gateway's CPU time covers
  std::atomic<std::uint64_t> all_deliveries{0};
  std::atomic<std::uint64_t> errors{0};

  bool in_window(std::int64_t t) const {
    // Ordering: relaxed; the bounds were stored before the senders were posted
    // to the io_contexts, which orders them before every read here.
    return t >= window_start.load(std::memory_order_relaxed) && t < window_end.load(std::memory_order_relaxed);
  }
};

// One io_context and thread, and the latencies its clients measured.
struct worker {
  asio::io_context ioc{1};
  std::vector<std::int64_t> latencies_ns;
};

class client : public std::enable_shared_from_this<client> {
 public:
  client(int index, worker& w, run_state& s)
      : index_(index),
        room_("r" + std::to_string(index % s.opts.rooms)),
        worker_(w),
        state_(s),
        ws_(w.ioc),
        wake_writer_(w.ioc),
        wake_sender_(w.ioc),
        credits_(s.opts.window) {}

  asio::awaitable<void> run(tcp::endpoint server) {
    auto self = shared_from_this();
    auto [connect_error] = co_await beast::get_lowest_layer(ws_).async_connect(server, token);
    if (connect_error) {
      fail("connect", connect_error);
      co_return;
    }
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.text(true);
    const std::string target = "/ws?user=bench-" + std::to_string(index_);
    auto [handshake_error] = co_await ws_.async_handshake(state_.opts.host, target, token);
    if (handshake_error) {
      fail("handshake", handshake_error);
      co_return;
    }
    asio::co_spawn(worker_.ioc, writer(), asio::detached);
    send(R"({"type":"join","room":")" + room_ + R"("})");

    beast::flat_buffer buffer;
    for (;;) {
      auto [read_error, n] = co_await ws_.async_read(buffer, token);
      if (read_error) {
        if (!closing_) fail("read", read_error);
        break;
      }
      const std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
      handle(text);
      buffer.consume(buffer.size());
    }
  }

  // Closed-loop: at most --window messages the gateway has not confirmed.
  asio::awaitable<void> send_closed_loop() {
    auto self = shared_from_this();
    const std::int64_t end = state_.window_end.load(std::memory_order_relaxed);  // Ordering: see in_window
    while (!closing_ && !sent_all()) {
      const std::int64_t t = now_ns();
      if (t >= end) break;
      if (credits_ == 0) {
        wake_sender_.expires_at(clock_type::time_point(std::chrono::nanoseconds(end)));
        co_await wake_sender_.async_wait(token);
        continue;
      }
      --credits_;
      send_message(t);
    }
  }

  // Open-loop: one message every 1/--rate s whatever the replies do, the way
  // independent users would send; a sender that falls behind catches up.
  asio::awaitable<void> send_open_loop() {
    auto self = shared_from_this();
    const std::int64_t end = state_.window_end.load(std::memory_order_relaxed);  // Ordering: see in_window
    const auto interval = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / state_.opts.rate));
    auto next = clock_type::now();
    while (!closing_ && !sent_all() && now_ns() < end) {
      if (clock_type::now() < next) {
        // Replies cancel this timer too (they refill the closed loop's window).
        wake_sender_.expires_at(next);
        co_await wake_sender_.async_wait(token);
        continue;
      }
      send_message(now_ns());
      next += interval;
    }
  }

  // A WebSocket close after the last queued frame: the gateway reads every
  // ACK written before it, and the read loop ends on the gateway's reply.
  void finish() {
    closing_ = true;
    wake_writer_.cancel();
    wake_sender_.cancel();
  }

  // For a run that failed: no handshake, just the socket.
  void abort() {
    closing_ = broken_ = true;
    wake_writer_.cancel();
    wake_sender_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  struct frame {
    std::string text;
    bool ack;  // counted once written
  };

  void fail(const char* what, const beast::error_code& ec) {
    std::fprintf(stderr, "ws_load: client %d: %s: %s\n", index_, what, ec.message().c_str());
    state_.failed.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
    closing_ = broken_ = true;
    wake_writer_.cancel();
    wake_sender_.cancel();
  }

  void handle(std::string_view text) {
    const std::string_view type = field(text, "type");
    if (type == "message") {
      state_.all_deliveries.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
      const std::int64_t sent_at = to_int(field(text, "body"));
      if (sent_at >= 0 && state_.in_window(sent_at)) {
        worker_.latencies_ns.push_back(now_ns() - sent_at);
        state_.received_in_window.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
      }
      if (state_.opts.ack && !closing_) send(R"({"type":"ack","id":)" + std::string(field(text, "id")) + "}", true);
    } else if (type == "sent") {
      replied();
    } else if (type == "joined") {
      state_.joined.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count the main thread polls
    } else if (type == "error") {
      std::fprintf(stderr, "ws_load: client %d: %.*s\n", index_, static_cast<int>(text.size()), text.data());
      state_.errors.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
      replied();
    }
  }

  void replied() {
    state_.replies.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count the main thread polls
    ++credits_;
    wake_sender_.cancel();
  }

  bool sent_all() const { return state_.opts.messages > 0 && sent_ == state_.opts.messages; }

  void send_message(std::int64_t t) {
    ++sent_;
    state_.all_sends.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
    if (state_.in_window(t))
      state_.sends_in_window[index_ % state_.opts.rooms].fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
    send(R"({"type":"send","room":")" + room_ + R"(","body":")" + std::to_string(t) + R"("})");
  }

  void send(std::string text, bool ack = false) {
    outbox_.push_back({std::move(text), ack});
    wake_writer_.cancel();
  }

  // Beast allows one write in flight per stream: sends and ACKs queue here.
  asio::awaitable<void> writer() {
    auto self = shared_from_this();
    for (;;) {
      if (outbox_.empty()) {
        if (closing_) break;
        wake_writer_.expires_at(clock_type::time_point::max());
        co_await wake_writer_.async_wait(token);
        continue;
      }
      frame next = std::move(outbox_.front());
      outbox_.pop_front();
      auto [ec, n] = co_await ws_.async_write(asio::buffer(next.text), token);
      if (ec) {
        if (!closing_) fail("write", ec);
        co_return;
      }
      if (next.ack) state_.acks_written.fetch_add(1, std::memory_order_relaxed);  // Ordering: a count
    }
    if (broken_) co_return;
    auto [ec] = co_await ws_.async_close(websocket::close_code::normal, token);
    if (ec) fail("close", ec);
  }

  int index_;
  std::string room_;
  worker& worker_;
  run_state& state_;
  websocket::stream<beast::tcp_stream> ws_;
  std::deque<frame> outbox_;
  asio::steady_timer wake_writer_;
  asio::steady_timer wake_sender_;
  int credits_;
  std::uint64_t sent_ = 0;
  bool closing_ = false;  // no new frames; errors from here on are the close's
  bool broken_ = false;   // the stream failed or was closed under it: no close handshake
};

double percentile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]) / 1e3;
}

// Waits up to `limit` for `done`, polling every 10 ms.
template <class Done>
bool wait_for(Done done, double limit) {
  const auto deadline = clock_type::now() + std::chrono::duration<double>(limit);
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int run(const options& o) {
  run_state state(o);
  std::vector<std::unique_ptr<worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<worker>());

  asio::io_context resolver_context;
  tcp::resolver resolver(resolver_context);
  const tcp::endpoint server = *resolver.resolve(o.host, o.port).begin();

  std::vector<std::shared_ptr<client>> clients;
  for (int i = 0; i < o.clients; ++i) {
    worker& w = *workers[static_cast<std::size_t>(i % o.threads)];
    auto c = std::make_shared<client>(i, w, state);
    asio::co_spawn(w.ioc, c->run(server), asio::detached);
    clients.push_back(std::move(c));
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    guards.push_back(asio::make_work_guard(w->ioc));
    threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
  }
  // Ending every client ends every coroutine, so each run() returns.
  const auto stop_all = [&](bool graceful) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto stop_client = [c = clients[i], graceful] { graceful ? c->finish() : c->abort(); };
      asio::post(workers[i % workers.size()]->ioc, stop_client);
    }
    guards.clear();
    for (auto& t : threads) t.join();
  };

  // Ordering: relaxed loads of counts; nothing else is read through them.
  const bool all_joined = wait_for(
      [&] {
        return state.joined.load(std::memory_order_relaxed) == o.clients || state.failed.load(std::memory_order_relaxed);
      },
      30);
  if (!all_joined || state.failed.load(std::memory_order_relaxed)) {
    std::fprintf(stderr, "ws_load: %d of %d clients joined their room\n", state.joined.load(), o.clients);
    stop_all(false);
    return 1;
  }

  // A counted run measures every message, and its senders stop at their count.
  const std::int64_t start = now_ns() + (o.messages ? 0 : static_cast<std::int64_t>(o.warmup * 1e9));
  const std::int64_t end = start + static_cast<std::int64_t>(o.seconds * 1e9);
  state.window_start.store(start, std::memory_order_relaxed);  // Ordering: see run_state::in_window
  if (!o.messages) state.window_end.store(end, std::memory_order_relaxed);
  for (int i = 0; i < o.senders; ++i) {
    asio::io_context& ioc = workers[static_cast<std::size_t>(i % o.threads)]->ioc;
    auto start_sending = [&ioc, c = clients[static_cast<std::size_t>(i)], open_loop = o.rate > 0] {
      asio::co_spawn(ioc, open_loop ? c->send_open_loop() : c->send_closed_loop(), asio::detached);
    };
    asio::post(ioc, start_sending);
  }

  const auto expected = [&] {
    std::uint64_t n = 0;
    for (int r = 0; r < o.rooms; ++r)
      n += state.sends_in_window[static_cast<std::size_t>(r)].load(std::memory_order_relaxed) *
           static_cast<std::uint64_t>(state.members[static_cast<std::size_t>(r)] - 1);
    return n;
  };
  const auto all_delivered = [&] { return state.received_in_window.load(std::memory_order_relaxed) >= expected(); };
  if (o.messages) {
    // Every message answered ("sent" follows its fan-out) and delivered.
    const std::uint64_t total = o.messages * static_cast<std::uint64_t>(o.senders);
    wait_for([&] { return state.replies.load(std::memory_order_relaxed) == total && all_delivered(); }, o.seconds);
  } else {
    std::this_thread::sleep_for(std::chrono::nanoseconds(end - now_ns()));
    wait_for(all_delivered, o.drain);
  }
  const double seconds = o.messages ? static_cast<double>(now_ns() - start) / 1e9 : o.seconds;
  stop_all(true);

  std::uint64_t sends = 0;
  for (auto& s : state.sends_in_window) sends += s.load(std::memory_order_relaxed);
  const std::uint64_t received = state.received_in_window.load(std::memory_order_relaxed);
  const std::uint64_t want = expected();
  std::vector<std::int64_t> latencies;
  for (auto& w : workers) latencies.insert(latencies.end(), w->latencies_ns.begin(), w->latencies_ns.end());
  std::printf(
      "sends=%llu sends_per_s=%.0f deliveries=%llu deliveries_per_s=%.0f expected=%llu lost=%llu errors=%llu "
      "acks=%llu all_sends=%llu all_deliveries=%llu failed=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n",
      static_cast<unsigned long long>(sends), static_cast<double>(sends) / seconds,
      static_cast<unsigned long long>(received), static_cast<double>(received) / seconds,
      static_cast<unsigned long long>(want), static_cast<unsigned long long>(want > received ? want - received : 0),
      static_cast<unsigned long long>(state.errors.load()), static_cast<unsigned long long>(state.acks_written.load()),
      static_cast<unsigned long long>(state.all_sends.load()), static_cast<unsigned long long>(state.all_deliveries.load()),
      state.failed.load(), percentile(latencies, 0.50),
      percentile(latencies, 0.90), percentile(latencies, 0.99), percentile(latencies, 1.0));
  return state.failed.load() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_flags(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ws_load: %s\n%s", e.what(), usage);
    return 2;
  }
}
