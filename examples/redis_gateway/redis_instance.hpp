// redis_gateway::redis_instance: where one tenant's Redis is, and which
// instance it is. Every connection to Redis is opened for one instance and
// serves it alone.
//
// The identity is the row id in `redis_instances`, a bigserial that
// PostgreSQL never hands out twice: an instance deleted and created again
// under the same name, by the same or another organization, is another
// instance, and a connection opened for the first is never taken for the
// second. (A name, or a counter that starts over, would let the second
// tenant's commands reach the first tenant's Redis.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace redis_gateway {

/// One Redis instance of an organization.
struct redis_instance {
  std::int64_t id = 0;  ///< its row id: never reused, so it names this instance alone
  std::string name;     ///< unique among the instances that exist now
  std::string host;
  std::uint16_t port = 6379;
  std::string password;  ///< AUTH password; empty for none
};

/// Instances are shared, immutable, between the tenant cache and the
/// connections opened for them.
using redis_instance_ptr = std::shared_ptr<const redis_instance>;

}  // namespace redis_gateway
