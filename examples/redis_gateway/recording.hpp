// Recording an answered request and a Redis command. Each thread keeps the
// series it recorded in a small cache (metrics.cpp), found by the address of
// their labels' static text (a route template, a command name) rather than
// by hashing the text in the family: the same text at another address only
// costs one more entry. The common case, the series the thread recorded
// last again (traffic repeats its series), is inline here: a few compares
// through a thread_local pointer, and the records. Finding or making another
// series is out of line.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include <obs/handles.hpp>

#include "metrics.hpp"

namespace redis_gateway {

/// A thread's series of one method, path and status.
struct request_series {
  const char* path;
  http_method method;
  unsigned status;
  obs::counter_handle requests;
  obs::counter_handle errors;  ///< only for a status of 400 or more: no empty error series
  obs::histogram_handle duration;
};

/// A thread's series of one command.
struct command_series {
  const char* command;
  obs::counter_handle commands;
  std::optional<obs::counter_handle> errors;  ///< made with the first failure: no empty error series
  obs::histogram_handle duration;
};

/// The series this thread recorded last, in its cache; null before its
/// first record. Plain pointers: their use needs no check that the
/// thread_local was initialised, which a cache's vector here cost.
inline thread_local constinit request_series* last_request_series = nullptr;
inline thread_local constinit command_series* last_command_series = nullptr;

/// record_request and record_redis_command for any series but the one
/// recorded last: found further in the cache, or made, and made the last.
void record_request_elsewhere(http_method method, std::string_view path, unsigned status,
                              std::chrono::steady_clock::duration took, std::string_view traceparent);
void record_redis_command_elsewhere(std::string_view command, bool failed, std::chrono::steady_clock::duration took);

/// Records `took` in `duration` with the trace id of `traceparent` as
/// exemplar when it is valid. Out of line: the exemplar's stack space and
/// registers stay off the common path.
void record_traced(const obs::histogram_handle& duration, std::chrono::steady_clock::duration took,
                   std::string_view traceparent);

/// Counts a failure of `s`'s command, making its error series first if need be.
void count_failure(command_series& s, std::string_view command);

inline void count_request(const request_series& s, unsigned status, std::chrono::steady_clock::duration took,
                          std::string_view traceparent) {
  s.requests.increment();
  if (status >= 400) s.errors.increment();
  if (traceparent.empty())
    s.duration.record(took);
  else
    record_traced(s.duration, took, traceparent);
}

inline void count_command(command_series& s, std::string_view command, bool failed,
                          std::chrono::steady_clock::duration took) {
  s.commands.increment();
  if (failed) count_failure(s, command);
  s.duration.record(took);
}

/// Records one answered request: http_requests_total, http_request_errors_total
/// for a status of 400 or more, and its duration, with the trace id of its
/// `traceparent` header, when valid, as exemplar. `path` is the router's
/// template or "unmatched", a view of static storage.
inline void record_request(http_method method, std::string_view path, unsigned status,
                           std::chrono::steady_clock::duration took, std::string_view traceparent) {
  const request_series* last = last_request_series;
  if (!last || last->path != path.data() || last->method != method || last->status != status) [[unlikely]]
    return record_request_elsewhere(method, path, status, took, traceparent);
  count_request(*last, status, took, traceparent);
}

/// Records one Redis command: redis_commands_total, redis_command_errors_total
/// when it failed, and its duration. `command` is a view of static storage
/// (the route table's or the command list's).
inline void record_redis_command(std::string_view command, bool failed, std::chrono::steady_clock::duration took) {
  command_series* last = last_command_series;
  if (!last || last->command != command.data()) [[unlikely]]
    return record_redis_command_elsewhere(command, failed, took);
  count_command(*last, command, failed, took);
}

}  // namespace redis_gateway
