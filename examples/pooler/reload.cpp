// The config applied: at start, and on RELOAD, which re-reads the file,
// forgets every cached secret and destroys every dynamic pool. Clients of a
// destroyed pool move to the pool that replaces it, with the connections
// they hold, so that they stay visible to SHOW POOLS and db_pool_*, and a
// user never holds more than its pool_size.
#include <set>

#include "service.hpp"

namespace pooler {

void service::apply_databases(std::vector<database_config> databases) {
  std::map<std::string, bool> keep;
  for (auto& cfg : databases) {
    keep[cfg.name] = true;
    auto& state = databases_[cfg.name];
    if (!state) state = std::make_shared<database_state>();
    bool endpoint_changed = state->cfg.host != cfg.host || state->cfg.port != cfg.port;
    state->cfg = cfg;
    if (cfg.auth_query) {
      if (!state->m) state->m = std::make_unique<metrics::auth_query_metrics>(cfg.name);
      if (!state->exec || endpoint_changed || !(state->exec->cfg == *cfg.auth_query)) {
        if (state->exec) retire(*state->exec);
        state->exec = start_executor(*state);
      }
      state->cache = std::make_unique<auth_cache>(cfg.auth_query->cache_ttl, cfg.auth_query->cache_failure_ttl,
                                                  cfg.auth_query->min_interval);
    } else {
      if (state->exec) retire(*state->exec);
      state->exec.reset();
      state->cache.reset();
    }
    for (const auto& u : cfg.users) {
      auto credentials = parse_secret(u.password, true);
      if (!credentials) throw config_error("databases." + cfg.name + ".users." + u.name + ".password: unusable");
      auto it = pools_.find({cfg.name, u.name});
      if (it != pools_.end() && !it->second->dynamic) {
        auto& p = *it->second;
        if (p.host != cfg.host || p.port != cfg.port || p.dbname != cfg.dbname || p.credentials.text != u.password) {
          // Connections to where, or as whom, the pool no longer logs in.
          for (auto& sv : p.idle) close_quietly(sv->socket);
          p.idle.clear();
          for (auto& sv : p.busy) sv->discard = true;
          p.has_parameters = false;
        }
        p.max = u.pool_size;
        p.mode = u.mode;
        p.host = cfg.host;
        p.port = cfg.port;
        p.dbname = cfg.dbname;
        // Unchanged, it keeps the ClientKey a SCRAM login taught it.
        if (p.credentials.text != u.password) p.credentials = *credentials;
        p.sync_counts();
      } else {
        if (it != pools_.end()) destroy_pool(it->first);
        make_pool(*state, u.name, *credentials, u.pool_size, u.mode, false);
      }
    }
  }
  // Pools whose user or database left the config.
  std::vector<pool_key> gone;
  for (auto& [key, p] : pools_) {
    auto db = databases_.find(key.first);
    bool listed = false;
    if (keep.count(key.first))
      for (const auto& u : db->second->cfg.users) listed = listed || u.name == key.second;
    if (!p->dynamic && !listed) gone.push_back(key);
    if (p->dynamic && (!keep.count(key.first) || !db->second->cfg.auth_query)) gone.push_back(key);
  }
  for (auto& key : gone) destroy_pool(key);
  for (auto it = databases_.begin(); it != databases_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second->exec) retire(*it->second->exec);
    it = databases_.erase(it);
  }
  // The health check asks each database's server for a login as a user
  // the config names.
  std::vector<upstream_check::target> targets;
  for (const auto& [name, db] : databases_) {
    std::string user = !db->cfg.users.empty() ? db->cfg.users.front().name
                       : db->cfg.auth_query  ? db->cfg.auth_query->user
                                             : std::string();
    if (!user.empty()) targets.push_back({name, db->cfg.host, db->cfg.port, user, db->cfg.dbname});
  }
  upstreams_.set(std::move(targets), cfg_.health_check_timeout);
}

std::string service::reload() {
  config fresh;
  try {
    fresh = load_config(config_path_);
  } catch (const std::exception& e) {
    return e.what();
  }
  // RELOAD destroys every dynamic pool and forgets every cached secret.
  std::vector<pool_key> dynamic;
  for (auto& [key, p] : pools_)
    if (p->dynamic) dynamic.push_back(key);
  for (auto& key : dynamic) destroy_pool(key);
  for (auto& [name, db] : databases_)
    if (db->cache) db->cache->clear();
  cfg_.health_check_timeout = fresh.health_check_timeout;
  std::string error;
  try {
    apply_databases(fresh.databases);
  } catch (const std::exception& e) {
    error = e.what();
  }
  // Connected clients of the pools that went, even after a failure.
  std::set<std::shared_ptr<pool>> orphaned;
  for (auto& [id, c] : clients_)
    if (c->pool_ && c->pool_->destroyed) orphaned.insert(c->pool_);
  for (auto& p : orphaned) rehome(p);
  if (!error.empty()) return error;
  cfg_.databases = std::move(fresh.databases);
  cfg_.admin_user = fresh.admin_user;
  cfg_.admin_password = fresh.admin_password;
  cfg_.query_wait_timeout = fresh.query_wait_timeout;
  cfg_.server_connect_timeout = fresh.server_connect_timeout;
  cfg_.gc_interval = fresh.gc_interval;
  cfg_.max_client_conn = fresh.max_client_conn;
  return {};
}

}  // namespace pooler
