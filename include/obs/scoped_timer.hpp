// obs::scoped_timer and OBS_SCOPED_TIMER: record how long a scope took into a
// histogram, in seconds, when the scope ends.
//
// Use it where a duration is one block of code (a query, an upload, a wait
// for a pool connection), so the timing stays one line at the top of the
// block instead of a start time and a record at every exit, exceptions and
// early returns included:
//
//   void run_query() {
//     OBS_SCOPED_TIMER("db_query_duration_seconds");   // literal labels, like OBS_HISTOGRAM
//     ...
//   }
//
//   obs::scoped_timer t(reg.histogram_family("rpc_seconds", {"method"}).with(method));
//   ...
//   double took = t.stop();   // record now instead of at scope end
//
// The clock is std::chrono::steady_clock. Inside a C++20 coroutine the timer
// lives in the coroutine frame, so a co_await inside the scope is timed too.
//
// Thread safety: one timer belongs to one scope; it is neither copyable nor
// movable. Many timers may record into one histogram at once, as handles may.
// With OBS_DISABLE=1, OBS_SCOPED_TIMER still type-checks its name and labels
// and reads no clock; the class keeps working, as every plain handle does.
#pragma once

#include <chrono>
#include <optional>

#include "obs/detail/config.hpp"
#include "obs/histogram.hpp"
#include "obs/metrics.hpp"

OBS_NAMESPACE_BEGIN

/// Records the time from construction to stop() or destruction, whichever
/// comes first, into a histogram, once.
///
///   {
///     obs::scoped_timer t(upload_seconds);   // an obs::histogram
///     put_object(key, body);
///   }                                        // one observation recorded
class scoped_timer {
 public:
  using clock = std::chrono::steady_clock;

  /// Starts timing into `h`, which must outlive the timer (a macro site's
  /// handle or a held one does). Borrowing it keeps the series' reference
  /// count, an atomic that threads share, off the timed path.
  explicit scoped_timer(const histogram& h) noexcept : target_(&h), start_(clock::now()) {}

  /// Starts timing into a temporary handle, e.g. what a family's `with()`
  /// returns, which the timer keeps.
  explicit scoped_timer(histogram&& h) noexcept
      : owned_(static_cast<histogram&&>(h)), target_(&*owned_), start_(clock::now()) {}

  scoped_timer(const scoped_timer&) = delete;
  scoped_timer& operator=(const scoped_timer&) = delete;

  /// Records the elapsed time unless stop() or cancel() came first.
  ~scoped_timer() { stop(); }

  /// Records the elapsed time now and returns it in seconds; a timer that
  /// was already stopped or cancelled records nothing and returns 0.
  double stop() noexcept {
    if (done_) return 0;
    done_ = true;
    const double seconds = std::chrono::duration<double>(clock::now() - start_).count();
    target_->record(seconds);
    return seconds;
  }

  /// Records nothing, now or later (e.g. a request that was refused before
  /// doing the work being timed).
  void cancel() noexcept { done_ = true; }

 private:
  std::optional<histogram> owned_;
  const histogram* target_;
  clock::time_point start_;
  bool done_ = false;
};

OBS_NAMESPACE_END

#define OBS_DETAIL_TIMER_CONCAT2(a, b) a##b
#define OBS_DETAIL_TIMER_CONCAT(a, b) OBS_DETAIL_TIMER_CONCAT2(a, b)

#if OBS_DISABLE
/// Compiled out: checks the name and labels while compiling, does nothing.
#define OBS_SCOPED_TIMER(...)                                                                                  \
  static_cast<void>(sizeof(::obs::detail::make_static_key<::obs::detail::site_kind::histogram>({__VA_ARGS__})))
#else
/// Times the rest of the enclosing scope into OBS_HISTOGRAM(...): same
/// arguments, a literal name and literal key/value label pairs.
///
///   OBS_SCOPED_TIMER("s3_upload_duration_seconds");
#define OBS_SCOPED_TIMER(...) \
  const ::obs::scoped_timer OBS_DETAIL_TIMER_CONCAT(obs_scoped_timer_, __LINE__)(OBS_HISTOGRAM(__VA_ARGS__))
#endif
