#include "obs/process_metrics.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "obs/registry.hpp"
#include "obs/snapshot.hpp"

namespace {

// The single, unlabelled value of family `name`; fails the test if the family
// is missing, has another type or is not a single series.
double value_of(const obs::snapshot& snap, std::string_view name, obs::metric_type type) {
  const obs::family_snapshot* f = snap.find(name);
  INFO("family " << name);
  REQUIRE(f != nullptr);
  CHECK(f->type == type);
  CHECK_FALSE(f->help.empty());
  REQUIRE(f->series.size() == 1);
  CHECK(f->series[0].labels.empty());
  return f->series[0].value.as_double();
}

double now_unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("process metrics report every family with plausible values") {
  obs::registry reg;
  obs::callback_registration process = obs::register_process_metrics(reg);
  obs::snapshot snap = reg.snapshot();

  const double rss = value_of(snap, "process_resident_memory_bytes", obs::metric_type::gauge);
  CHECK(rss > 0);
  CHECK(std::fmod(rss, static_cast<double>(::sysconf(_SC_PAGESIZE))) == 0);
  CHECK(value_of(snap, "process_virtual_memory_bytes", obs::metric_type::gauge) >= rss);
  CHECK(value_of(snap, "process_open_fds", obs::metric_type::gauge) >= 3);
  CHECK(value_of(snap, "process_cpu_seconds_total", obs::metric_type::counter) >= 0);

  const double start = value_of(snap, "process_start_time_seconds", obs::metric_type::gauge);
  // The test binary started moments ago; /proc/stat's btime is whole seconds.
  CHECK(start <= now_unix_seconds() + 1);
  CHECK(start > now_unix_seconds() - 60);

  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  const double max_fds = value_of(snap, "process_max_fds", obs::metric_type::gauge);
  if (limit.rlim_cur == RLIM_INFINITY) CHECK(std::isinf(max_fds));
  else CHECK(max_fds == static_cast<double>(limit.rlim_cur));

  CHECK(snap.find("process_cpu_seconds_total")->unit == "seconds");
  CHECK(snap.find("process_resident_memory_bytes")->unit == "bytes");
}

TEST_CASE("process_open_fds counts a newly opened descriptor") {
  obs::registry reg;
  obs::callback_registration process = obs::register_process_metrics(reg);
  const double before = value_of(reg.snapshot(), "process_open_fds", obs::metric_type::gauge);

  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const double during = value_of(reg.snapshot(), "process_open_fds", obs::metric_type::gauge);
  ::close(fd);
  const double after = value_of(reg.snapshot(), "process_open_fds", obs::metric_type::gauge);

  CHECK(during == before + 1);
  CHECK(after == before);
}

TEST_CASE("process_cpu_seconds_total grows while the process spins") {
  obs::registry reg;
  obs::callback_registration process = obs::register_process_metrics(reg);
  const double before = value_of(reg.snapshot(), "process_cpu_seconds_total", obs::metric_type::counter);

  // Burn CPU until the kernel's tick-granular accounting moves; bounded so a
  // broken counter fails the check instead of hanging.
  volatile std::uint64_t sink = 0;
  double after = before;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (after <= before && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + static_cast<std::uint64_t>(i);
    after = value_of(reg.snapshot(), "process_cpu_seconds_total", obs::metric_type::counter);
  }
  CHECK(after > before);
  CHECK(after > 0);
}

TEST_CASE("resetting the registration removes the process families") {
  obs::registry reg;
  obs::callback_registration process = obs::register_process_metrics(reg);
  const obs::snapshot registered = reg.snapshot();
  REQUIRE(registered.find("process_open_fds") != nullptr);

  process.reset();
  const obs::snapshot snap = reg.snapshot();
  for (std::string_view name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                                "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                                "process_start_time_seconds"}) {
    INFO(name);
    CHECK(snap.find(name) == nullptr);
  }
}

TEST_CASE("/proc/<pid>/stat parsing copes with odd command names and rejects garbage") {
  // Fields 3..24 of proc(5): utime=11 stime=12 starttime=19 vsize=20 rss=21.
  const std::string_view tail =
      " R 1 1 1 0 -1 4194560 100 0 0 0 11 12 0 0 20 0 1 0 19 20 21 18446744073709551615";
  const std::string ok = std::string("4242 (a) b) c)") + std::string(tail);
  std::optional<obs::detail::proc_self_stat> st = obs::detail::parse_proc_stat(ok);
  REQUIRE(st.has_value());
  CHECK(st->user_ticks == 11);
  CHECK(st->system_ticks == 12);
  CHECK(st->start_ticks == 19);
  CHECK(st->virtual_bytes == 20);
  CHECK(st->resident_pages == 21);

  CHECK_FALSE(obs::detail::parse_proc_stat("4242 no parenthesis 1 2 3").has_value());
  CHECK_FALSE(obs::detail::parse_proc_stat("4242 (short) R 1 2 3").has_value());
  const std::string bad = "4242 (x) R 1 1 1 0 -1 4194560 100 0 0 0 1x 12 0 0 20 0 1 0 19 20 21";
  CHECK_FALSE(obs::detail::parse_proc_stat(bad).has_value());
}
