// Recording through each thread's series cache (recording.hpp): every
// record lands in its own series, exactly, however the series alternate,
// past the cache's capacity, and from several threads at once.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <obs/counter.hpp>
#include <obs/histogram.hpp>

#include "metrics.hpp"
#include "recording.hpp"

using namespace redis_gateway;
using namespace std::chrono_literals;

namespace {

// Labels as the gateway's are: text at a stable address. More than a
// thread's cache holds (64), so that entries are replaced and made again.
std::vector<std::string> label_texts(const char* prefix, int n) {
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) texts.push_back(prefix + std::to_string(i));
  return texts;
}

std::uint64_t requests(const std::string& path, const char* status) {
  return obs::counter(metrics.http_requests.with("GET", path, status)).sum();
}
std::uint64_t request_durations(const std::string& path) {
  return obs::histogram(metrics.http_request_duration.with("GET", path)).count();
}
std::uint64_t commands(const std::string& command) {
  return obs::counter(metrics.redis_commands.with(command)).sum();
}

}  // namespace

TEST_CASE("each record lands in its series, through the cache and past its capacity", "[recording]") {
  register_metrics();
  const std::vector<std::string> paths = label_texts("/cache-test/", 100);
  const std::vector<std::string> names = label_texts("CACHE_TEST_", 100);
  const int rounds = 3;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r)
        for (std::size_t i = 0; i < paths.size(); ++i) {
          // Each series twice in a row (the last one again), then the next:
          // the common case and both ways out of it.
          const std::size_t k = (i + static_cast<std::size_t>(t) * 7) % paths.size();
          for (int twice = 0; twice < 2; ++twice) {
            record_request(http_method::get, paths[k], k % 2 ? 404 : 200, 1ms, "");
            record_redis_command(names[k], false, 100us);
          }
        }
    });
  for (auto& t : threads) t.join();
  for (std::size_t k = 0; k < paths.size(); ++k) {
    const char* status = k % 2 ? "404" : "200";
    const char* other = k % 2 ? "200" : "404";
    CHECK(requests(paths[k], status) == 4 * rounds * 2);
    CHECK(requests(paths[k], other) == 0);
    CHECK(request_durations(paths[k]) == 4 * rounds * 2);
    CHECK(commands(names[k]) == 4 * rounds * 2);
  }
}
