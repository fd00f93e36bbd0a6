#include "tenants.hpp"

#include <array>
#include <random>

#include "metrics.hpp"

namespace redis_gateway {
namespace {

std::int64_t to_i64(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }

// 256 bits from the kernel's CSPRNG (std::random_device reads /dev/urandom or
// getrandom on Linux with libstdc++).
std::string random_key() {
  std::random_device rd;
  static constexpr char digits[] = "0123456789abcdef";
  std::string key;
  for (int i = 0; i < 8; ++i) {
    std::uint32_t v = rd();
    for (int j = 0; j < 8; ++j) key.push_back(digits[(v >> (j * 4)) & 0xf]);
  }
  return key;
}

}  // namespace

void tenants::publish_counts() const {
  metrics.organizations.set(static_cast<double>(orgs_.size()));
  metrics.users.set(static_cast<double>(users_.size()));
  metrics.redis_instances.set(static_cast<double>(instances_.size()));
}

void tenants::load() {
  auto orgs = db_.query("select", "SELECT id, name FROM organizations", {});
  auto users = db_.query("select", "SELECT id, organization_id, email FROM users", {});
  auto keys = db_.query("select", "SELECT key, organization_id, rate_limit_rps, id FROM api_keys", {});
  auto insts =
      db_.query("select", "SELECT id, name, organization_id, host, port, password FROM redis_instances", {});
  std::unique_lock lock(mutex_);
  for (auto& r : orgs) orgs_[to_i64(r[0])] = {to_i64(r[0]), *r[1]};
  for (auto& r : users) users_[to_i64(r[0])] = {to_i64(r[0]), to_i64(r[1]), *r[2]};
  for (auto& r : keys)
    keys_[*r[0]] = {to_i64(r[1]),
                    r[2] ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(to_i64(r[2]))) : std::nullopt,
                    to_i64(r[3])};
  for (auto& r : insts) {
    auto inst = std::make_shared<const redis_instance>(
        redis_instance{to_i64(r[0]), *r[1], *r[3], static_cast<std::uint16_t>(to_i64(r[4])), *r[5]});
    instances_[inst->name] = {to_i64(r[2]), std::move(inst)};
  }
  publish_counts();
}

std::optional<api_key_info> tenants::find_key(std::string_view key) const {
  std::shared_lock lock(mutex_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

std::optional<owned_instance> tenants::find_instance(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = instances_.find(name);
  if (it == instances_.end()) return std::nullopt;
  return it->second;
}

std::vector<redis_instance_ptr> tenants::instances() const {
  std::shared_lock lock(mutex_);
  std::vector<redis_instance_ptr> out;
  for (const auto& [name, entry] : instances_) out.push_back(entry.instance);
  return out;
}

std::vector<organization> tenants::organizations() const {
  std::shared_lock lock(mutex_);
  std::vector<organization> out;
  for (const auto& [id, o] : orgs_) out.push_back(o);
  return out;
}

std::optional<organization> tenants::find_organization(std::int64_t id) const {
  std::shared_lock lock(mutex_);
  auto it = orgs_.find(id);
  if (it == orgs_.end()) return std::nullopt;
  return it->second;
}

organization tenants::create_organization(const std::string& name) {
  auto r = db_.query("insert", "INSERT INTO organizations (name) VALUES ($1) RETURNING id", {name});
  organization o{to_i64(r.at(0).at(0)), name};
  std::unique_lock lock(mutex_);
  orgs_[o.id] = o;
  publish_counts();
  return o;
}

std::optional<std::vector<std::pair<std::string, api_key_info>>> tenants::delete_organization(std::int64_t id) {
  auto r = db_.query("delete", "DELETE FROM organizations WHERE id = $1 RETURNING id", {std::to_string(id)});
  if (r.empty()) return std::nullopt;
  std::vector<std::pair<std::string, api_key_info>> keys;
  std::vector<redis_instance_ptr> instances;
  {
    std::unique_lock lock(mutex_);
    orgs_.erase(id);
    std::erase_if(users_, [id](const auto& kv) { return kv.second.organization_id == id; });
    for (auto it = keys_.begin(); it != keys_.end();)
      if (it->second.organization_id == id)
        keys.emplace_back(*it), it = keys_.erase(it);
      else
        ++it;
    for (auto it = instances_.begin(); it != instances_.end();)
      if (it->second.organization_id == id)
        instances.push_back(it->second.instance), it = instances_.erase(it);
      else
        ++it;
    publish_counts();
  }
  if (removed_)
    for (const auto& inst : instances) removed_(*inst);
  return keys;
}

std::vector<std::pair<std::string, api_key_info>> tenants::keys_of(std::int64_t org) const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, api_key_info>> out;
  for (const auto& [k, info] : keys_)
    if (info.organization_id == org) out.emplace_back(k, info);
  return out;
}

std::pair<std::string, api_key_info> tenants::create_key(std::int64_t org, std::optional<std::uint32_t> rps) {
  std::string key = random_key();
  auto r = db_.query("insert",
                     "INSERT INTO api_keys (key, organization_id, rate_limit_rps) VALUES ($1, $2, $3) RETURNING id",
                     {key, std::to_string(org), rps ? std::optional<std::string>(std::to_string(*rps)) : std::nullopt});
  const api_key_info info{org, rps, to_i64(r.at(0)[0])};
  std::unique_lock lock(mutex_);
  keys_[key] = info;
  return {key, info};
}

std::optional<api_key_info> tenants::delete_key(std::int64_t org, const std::string& key) {
  auto r = db_.query("delete", "DELETE FROM api_keys WHERE key = $1 AND organization_id = $2 RETURNING key",
                     {key, std::to_string(org)});
  if (r.empty()) return std::nullopt;
  std::unique_lock lock(mutex_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  api_key_info info = it->second;
  keys_.erase(it);
  return info;
}

std::vector<redis_instance_ptr> tenants::instances_of(std::int64_t org) const {
  std::shared_lock lock(mutex_);
  std::vector<redis_instance_ptr> out;
  for (const auto& [name, entry] : instances_)
    if (entry.organization_id == org) out.push_back(entry.instance);
  return out;
}

redis_instance_ptr tenants::create_instance(std::int64_t org, redis_instance inst) {
  auto r = db_.query("insert",
                     "INSERT INTO redis_instances (name, organization_id, host, port, password) "
                     "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                     {inst.name, std::to_string(org), inst.host, std::to_string(inst.port), inst.password});
  inst.id = to_i64(r.at(0).at(0));
  auto stored = std::make_shared<const redis_instance>(std::move(inst));
  std::unique_lock lock(mutex_);
  instances_[stored->name] = {org, stored};
  publish_counts();
  return stored;
}

bool tenants::delete_instance(std::int64_t org, const std::string& name) {
  auto r = db_.query("delete",
                     "DELETE FROM redis_instances WHERE name = $1 AND organization_id = $2 RETURNING name",
                     {name, std::to_string(org)});
  if (r.empty()) return false;
  redis_instance_ptr gone;
  {
    std::unique_lock lock(mutex_);
    if (auto it = instances_.find(name); it != instances_.end()) {
      gone = std::move(it->second.instance);
      instances_.erase(it);
    }
    publish_counts();
  }
  if (gone && removed_) removed_(*gone);
  return true;
}

std::vector<user> tenants::users_of(std::int64_t org) const {
  std::shared_lock lock(mutex_);
  std::vector<user> out;
  for (const auto& [id, u] : users_)
    if (u.organization_id == org) out.push_back(u);
  return out;
}

user tenants::create_user(std::int64_t org, const std::string& email) {
  auto r = db_.query("insert", "INSERT INTO users (organization_id, email) VALUES ($1, $2) RETURNING id",
                     {std::to_string(org), email});
  user u{to_i64(r.at(0).at(0)), org, email};
  std::unique_lock lock(mutex_);
  users_[u.id] = u;
  publish_counts();
  return u;
}

}  // namespace redis_gateway
