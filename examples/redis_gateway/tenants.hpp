// redis_gateway::tenants: organizations, their users, API keys and Redis
// instances — stored in PostgreSQL, served from memory.
//
// load() reads every table once at start; each change goes to PostgreSQL
// first and then to the cache, so authentication and instance lookups never
// query the database (a request carrying a bogus key costs no query), and the
// resource gauges (organizations_total, users_total, redis_instances_total)
// are the cache's counts, set when they change rather than counted per scrape.
// The cache is this process's: a second gateway on the same schema sees
// another's changes only after its own restart.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "database.hpp"
#include "redis_pool.hpp"

namespace redis_gateway {

/// What an API key grants.
struct api_key_info {
  std::int64_t organization_id = 0;
  std::optional<std::uint32_t> rate_limit_rps;  ///< nullopt: the default quota
  /// Names the key where the key itself must not appear (metric labels).
  std::int64_t id = 0;
};

/// An organization.
struct organization {
  std::int64_t id = 0;
  std::string name;
};

/// A user of an organization.
struct user {
  std::int64_t id = 0;
  std::int64_t organization_id = 0;
  std::string email;
};

/// See the header comment.
class tenants {
 public:
  /// Keeps `db` and `pool` (which learns every instance) by reference.
  tenants(database& db, redis_pool& pool) : db_(db), pool_(pool) {}

  /// Reads every table into the cache and the pool. Throws database_error.
  void load();

  /// The grants of `key`, or nullopt for an unknown key.
  std::optional<api_key_info> find_key(const std::string& key) const;
  /// The owner of instance `name`, or nullopt.
  std::optional<std::int64_t> instance_owner(const std::string& name) const;

  std::vector<organization> organizations() const;
  std::optional<organization> find_organization(std::int64_t id) const;
  /// Throws database_error (rejected, sqlstate 23505, for a duplicate name).
  organization create_organization(const std::string& name);
  /// Removes it with its users, keys and instances; returns the keys removed
  /// (whose limiter state and series the caller drops), or nullopt when it
  /// did not exist.
  std::optional<std::vector<std::pair<std::string, api_key_info>>> delete_organization(std::int64_t id);

  std::vector<std::pair<std::string, api_key_info>> keys_of(std::int64_t org) const;
  /// A new random key of 64 hex digits, and what it grants.
  std::pair<std::string, api_key_info> create_key(std::int64_t org, std::optional<std::uint32_t> rps);
  /// What the removed key granted, or nullopt when the organization has no such key.
  std::optional<api_key_info> delete_key(std::int64_t org, const std::string& key);

  std::vector<redis_instance> instances_of(std::int64_t org) const;
  void create_instance(std::int64_t org, const redis_instance& inst);
  bool delete_instance(std::int64_t org, const std::string& name);

  std::vector<user> users_of(std::int64_t org) const;
  user create_user(std::int64_t org, const std::string& email);

 private:
  void publish_counts() const;  // the resource gauges; caller holds mutex_

  database& db_;
  redis_pool& pool_;
  mutable std::shared_mutex mutex_;
  std::map<std::int64_t, organization> orgs_;
  std::map<std::string, api_key_info, std::less<>> keys_;
  std::map<std::string, std::pair<std::int64_t, redis_instance>, std::less<>> instances_;
  std::map<std::int64_t, user> users_;
};

}  // namespace redis_gateway
