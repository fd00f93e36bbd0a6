// redis_gateway::tenants: organizations, their users, API keys and Redis
// instances — stored in PostgreSQL, served from memory.
//
// load() reads every table once at start; each change goes to PostgreSQL
// first and then to the cache, so authentication and instance lookups never
// query the database (a request carrying a bogus key costs no query), and the
// resource gauges (organizations_total, users_total, redis_instances_total)
// are the cache's counts, set when they change rather than counted per scrape.
// The cache is this process's: a second gateway on the same schema sees
// another's changes only after its own restart. When an instance goes (with
// its organization or alone), the hook given to on_instance_removed() learns
// it, so that its connections close.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "database.hpp"
#include "redis_instance.hpp"

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

/// An instance and the organization it belongs to.
struct owned_instance {
  std::int64_t organization_id = 0;
  redis_instance_ptr instance;
};

/// See the header comment.
class tenants {
 public:
  /// Keeps `db` by reference.
  explicit tenants(database& db) : db_(db) {}

  /// Calls `removed` with every instance deleted from now on (after it left
  /// the cache). Set it before requests are served.
  void on_instance_removed(std::function<void(const redis_instance&)> removed) { removed_ = std::move(removed); }

  /// Reads every table into the cache. Throws database_error.
  void load();

  /// The grants of `key`, or nullopt for an unknown key.
  std::optional<api_key_info> find_key(std::string_view key) const;
  /// Instance `name` and its owner, or nullopt.
  std::optional<owned_instance> find_instance(std::string_view name) const;
  /// Every instance.
  std::vector<redis_instance_ptr> instances() const;

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

  std::vector<redis_instance_ptr> instances_of(std::int64_t org) const;
  /// Stores `inst` (its id is the database's) and returns it.
  redis_instance_ptr create_instance(std::int64_t org, redis_instance inst);
  bool delete_instance(std::int64_t org, const std::string& name);

  std::vector<user> users_of(std::int64_t org) const;
  user create_user(std::int64_t org, const std::string& email);

 private:
  void publish_counts() const;  // the resource gauges; caller holds mutex_

  database& db_;
  std::function<void(const redis_instance&)> removed_;
  mutable std::shared_mutex mutex_;
  std::map<std::int64_t, organization> orgs_;
  std::map<std::string, api_key_info, std::less<>> keys_;
  std::map<std::string, owned_instance, std::less<>> instances_;
  std::map<std::int64_t, user> users_;
};

}  // namespace redis_gateway
