// redis_gateway::redis_reply: what both ways of running a command — the
// blocking redis_pool and the pipelined redis_pipeline — do with its outcome:
// convert hiredis's reply into a redis_result and count the command in
// redis_commands_total, redis_command_errors_total and
// redis_command_duration_seconds.
//
//   redis_result r = from_reply(*reply);
//   record_command("GET", r, std::chrono::steady_clock::now() - start);
#pragma once

#include <chrono>
#include <string_view>

#include "redis_pool.hpp"

struct redisReply;

namespace redis_gateway {

/// The reply as a result: a Redis error is redis_error, anything else ok
/// with its value as JSON (string, integer, null, array).
redis_result from_reply(const redisReply& reply);

/// Counts one command; a result other than ok is an error.
void record_command(std::string_view command, const redis_result& r, std::chrono::steady_clock::duration took);

}  // namespace redis_gateway
