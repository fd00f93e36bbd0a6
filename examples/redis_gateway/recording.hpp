// Recording an answered request and a Redis command. Each thread keeps the
// series it recorded in a small cache, found by the address of its labels'
// static text (a route template, a command name) rather than by hashing the
// text in the family: the same text at another address only costs one more
// entry. The series recorded last is first, since traffic repeats its
// series. The common case, that series again, is inline here: in the
// session loop and in the reply callback it is a few compares and the
// records, with no call and no stack frame of its own. Finding or making
// another series is out of line, in metrics.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

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

/// Each thread's series, the one recorded last first. Block-scope: their
/// first use is checked inline, where a namespace-scope thread_local in a
/// header costs a call to its initialisation on every use.
inline std::vector<request_series>& request_series_cache() {
  thread_local std::vector<request_series> cache;
  return cache;
}
inline std::vector<command_series>& command_series_cache() {
  thread_local std::vector<command_series> cache;
  return cache;
}

/// record_request and record_redis_command for any series but the one
/// recorded last: found further in the cache, or made.
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
  const std::vector<request_series>& cache = request_series_cache();
  if (cache.empty()) [[unlikely]] return record_request_elsewhere(method, path, status, took, traceparent);
  const request_series& last = cache.front();
  if (last.path != path.data() || last.method != method || last.status != status) [[unlikely]]
    return record_request_elsewhere(method, path, status, took, traceparent);
  count_request(last, status, took, traceparent);
}

/// Records one Redis command: redis_commands_total, redis_command_errors_total
/// when it failed, and its duration. `command` is a view of static storage
/// (the route table's or the command list's).
inline void record_redis_command(std::string_view command, bool failed, std::chrono::steady_clock::duration took) {
  std::vector<command_series>& cache = command_series_cache();
  if (cache.empty() || cache.front().command != command.data()) [[unlikely]]
    return record_redis_command_elsewhere(command, failed, took);
  count_command(cache.front(), command, failed, took);
}

}  // namespace redis_gateway
