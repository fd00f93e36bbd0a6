// obs::register_process_metrics: the standard `process_*` metrics of a Linux
// process (CPU time, memory, file descriptors, start time), as an opt-in
// collector on a registry.
//
// Use it once near the start of main() so dashboards and alerts written for
// the Go and Python Prometheus clients work on a C++ service unchanged:
//
//   auto process = obs::register_process_metrics();  // keep it alive
//
// The families, named, typed and described as the official clients export
// them (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics):
//
//   process_cpu_seconds_total      counter  user + system CPU time
//   process_resident_memory_bytes  gauge    resident set size
//   process_virtual_memory_bytes   gauge    virtual memory size
//   process_open_fds               gauge    open file descriptors
//   process_max_fds                gauge    RLIMIT_NOFILE soft limit (+Inf if unlimited)
//   process_start_time_seconds     gauge    start time, seconds since the Unix epoch
//
// Values are read from /proc (see proc(5)) when a snapshot is taken. A file
// that cannot be read or parsed leaves its families out of that snapshot; the
// collector never throws for it and never reports a made-up value. Off Linux
// there is no /proc, so only process_max_fds appears.
//
// Thread safety: the collector runs inside registry::snapshot() and reads only
// the kernel's view of the process, so concurrent snapshots are safe.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "obs/detail/config.hpp"
#include "obs/registry.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The fields of /proc/self/stat that process metrics need, in the kernel's
/// units: clock ticks, bytes and pages.
struct proc_self_stat {
  std::uint64_t user_ticks = 0;
  std::uint64_t system_ticks = 0;
  std::uint64_t start_ticks = 0;  ///< since boot
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_pages = 0;
};

/// Reads `path` into `out`, appending; false if it cannot be opened or read.
/// /proc files report a size of 0, so this reads until end of file.
inline bool read_proc_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char chunk[4096];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      out.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      ok = false;
      break;
    }
  }
  ::close(fd);
  return ok;
}

inline std::optional<std::uint64_t> parse_u64(std::string_view text) noexcept {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

/// Parses the contents of /proc/<pid>/stat; nullopt unless every needed field
/// is a well-formed unsigned number.
inline std::optional<proc_self_stat> parse_proc_stat(std::string_view text) noexcept {
  // Field 2 is the command name in parentheses and may itself hold spaces and
  // ')', so fields are counted from the last ')'.
  std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);

  // 1-based field numbers from proc(5).
  constexpr int utime = 14, stime = 15, starttime = 22, vsize = 23, rss = 24;
  proc_self_stat out;
  int field = 2;
  std::size_t pos = 0;
  while (field < rss) {
    pos = rest.find_first_not_of(" \n", pos);
    if (pos == std::string_view::npos) return std::nullopt;
    std::size_t end = rest.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view token = rest.substr(pos, end - pos);
    pos = end;
    ++field;
    std::uint64_t* target = field == utime       ? &out.user_ticks
                            : field == stime     ? &out.system_ticks
                            : field == starttime ? &out.start_ticks
                            : field == vsize     ? &out.virtual_bytes
                            : field == rss       ? &out.resident_pages
                                                 : nullptr;
    if (!target) continue;
    std::optional<std::uint64_t> v = parse_u64(token);
    if (!v) return std::nullopt;
    *target = *v;
  }
  return out;
}

inline std::optional<proc_self_stat> read_proc_self_stat() {
  std::string text;
  if (!read_proc_file("/proc/self/stat", text)) return std::nullopt;
  return parse_proc_stat(text);
}

/// The `btime` line of /proc/stat: boot time in seconds since the Unix epoch.
inline std::optional<std::uint64_t> read_boot_time() {
  std::string text;
  if (!read_proc_file("/proc/stat", text)) return std::nullopt;
  constexpr std::string_view key = "btime ";
  std::size_t pos = text.starts_with(key) ? 0 : text.find("\nbtime ");
  if (pos == std::string::npos) return std::nullopt;
  pos = text.find(' ', pos) + 1;
  std::size_t end = text.find('\n', pos);
  if (end == std::string::npos) end = text.size();
  return parse_u64(std::string_view(text).substr(pos, end - pos));
}

/// Entries in /proc/self/fd, not counting the descriptor used to list them.
inline std::optional<std::uint64_t> count_open_fds() noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  const int own = ::dirfd(dir);
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name.starts_with('.')) continue;
    if (std::optional<std::uint64_t> fd = parse_u64(name); fd && own >= 0 && *fd == static_cast<std::uint64_t>(own))
      continue;
    ++count;
  }
  ::closedir(dir);
  return count;
}

/// The soft RLIMIT_NOFILE limit; +Inf when unlimited.
inline std::optional<double> max_open_fds() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(limit.rlim_cur);
}

inline void add_process_gauge(snapshot_builder& b, std::string_view name, std::string_view help,
                              std::string_view unit, double value) {
  b.add_family(name, metric_type::gauge, help, unit);
  b.add_series(std::span<const label_view>(), number::floating(value));
}

}  // namespace detail

/// Registers the standard `process_*` metrics on `reg` (see the header
/// comment for the list); they appear in every snapshot until the returned
/// registration is reset or destroyed.
///
///   int main() {
///     auto process = obs::register_process_metrics();
///     // ... obs::prometheus::render(obs::global_registry().snapshot()) now
///     // includes process_cpu_seconds_total, process_open_fds, ...
///   }
///
/// Register at most once per registry: the families would appear twice.
[[nodiscard("keep the result alive: the process metrics are unregistered when it is destroyed")]] inline callback_registration register_process_metrics(registry& reg = global_registry()) {
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);

  // The start time never changes, so /proc/stat is read once, not per scrape.
  std::optional<double> start_time;
  if (ticks_per_second > 0) {
    std::optional<detail::proc_self_stat> stat = detail::read_proc_self_stat();
    std::optional<std::uint64_t> boot = detail::read_boot_time();
    if (stat && boot)
      start_time = static_cast<double>(*boot) +
                   static_cast<double>(stat->start_ticks) / static_cast<double>(ticks_per_second);
  }

  return reg.add_collector("process", [ticks_per_second, page_size, start_time](snapshot_builder& b) {
    if (std::optional<detail::proc_self_stat> stat = detail::read_proc_self_stat()) {
      if (ticks_per_second > 0) {
        b.add_family("process_cpu_seconds_total", metric_type::counter,
                     "Total user and system CPU time spent in seconds.", "seconds");
        b.add_series(std::span<const label_view>(),
                     number::floating(static_cast<double>(stat->user_ticks + stat->system_ticks) /
                                      static_cast<double>(ticks_per_second)));
      }
      if (page_size > 0)
        detail::add_process_gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "bytes",
                                  static_cast<double>(stat->resident_pages) * static_cast<double>(page_size));
      detail::add_process_gauge(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "bytes",
                                static_cast<double>(stat->virtual_bytes));
    }
    if (std::optional<std::uint64_t> open = detail::count_open_fds())
      detail::add_process_gauge(b, "process_open_fds", "Number of open file descriptors.", {},
                                static_cast<double>(*open));
    if (std::optional<double> max = detail::max_open_fds())
      detail::add_process_gauge(b, "process_max_fds", "Maximum number of open file descriptors.", {}, *max);
    if (start_time)
      detail::add_process_gauge(b, "process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.", "seconds", *start_time);
  });
}

OBS_NAMESPACE_END
