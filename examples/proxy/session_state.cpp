#include "session_state.hpp"

#include <utility>

namespace proxy {

std::uint64_t scope_table::shared(const std::string& state) {
  constexpr std::size_t limit = 4096;
  if (auto it = ids_.find(state); it != ids_.end()) return it->second;
  if (ids_.size() >= limit) ids_.clear();
  ids_.emplace(state, fresh());
  return last_;
}

void session_state::startup_parameter(std::string_view name, std::string_view value) {
  // application_name changes no result, and differs between otherwise
  // identical clients.
  if (name == "application_name") return;
  settings_.insert_or_assign(std::string(name), std::string(value));
  scope_ = 0;
}

void session_state::reported(std::string_view name, std::string_view value) {
  if (name == "application_name") return;
  auto it = settings_.find(name);
  if (it != settings_.end() && it->second == value) return;
  settings_.insert_or_assign(std::string(name), std::string(value));
  if (private_) go_private();  // a new private scope: the state moved again
  else scope_ = 0;
}

void session_state::go_private() {
  private_ = true;
  scope_ = scopes_.fresh();
}

// A SET replaces an earlier SET of the same setting when only SETs of other
// single settings came between, so a client that sets statement_timeout
// before every query keeps one entry. Role changes interact with each other
// and with RESET ALL, which skips them: those entries stay in order.
void session_state::commit(set_statement s) {
  constexpr std::size_t history_limit = 16 * 1024;
  auto independent = [](const std::string& setting) {
    return !setting.empty() && setting != "role" && setting != "session_authorization";
  };
  if (independent(s.setting)) {
    for (auto it = history_.rbegin(); it != history_.rend() && independent(it->setting); ++it) {
      if (it->setting != s.setting) continue;
      history_bytes_ -= it->sql.size();
      history_.erase(std::next(it).base());
      break;
    }
  }
  history_bytes_ += s.sql.size();
  history_.push_back(std::move(s));
  // An unbounded history would make the scope's text unbounded too.
  if (history_bytes_ > history_limit) go_private();
}

void session_state::ran(const analysis& a, const side_effects& e, std::string_view sql) {
  // A private session's state is unknown, so anything but a read may have
  // moved it (DISCARD TEMP drops the temp table its results came from).
  if (e.hides_session_change || (private_ && a.type != analysis::kind::select)) go_private();
  if (a.sets_setting) pending_sets_.push_back({a.setting, std::string(sql)});
  // A savepoint rolled back, a chained commit or PREPARE TRANSACTION with
  // settings changed before it: which of them survive is not worth modelling.
  if (a.splits_transaction && !pending_sets_.empty()) split_ = true;
  discards_ |= a.discards_all;
  changes_defaults_ |= e.changes_defaults;
  for (const auto& w : a.writes) round_.written.push_back(w.name);
  round_.hidden_write |= e.hides_writes;
  round_.schema_changed |= e.changes_schema || e.changes_defaults;
}

void session_state::ran_unknown() {
  go_private();
  round_.hidden_write = true;
}

session_state::round_end session_state::ready(char status, bool failed, std::string_view tag) {
  if (status != 'I') return {};
  // A failed transaction answers COMMIT with ROLLBACK.
  const bool committed = !failed && tag != "ROLLBACK";
  if (split_) {
    go_private();
  } else if (committed && discards_) {
    history_.clear();
    history_bytes_ = 0;
    private_ = false;
    scope_ = 0;
  } else if (committed && !pending_sets_.empty()) {
    for (auto& s : pending_sets_) commit(std::move(s));
    if (private_) go_private();
    else scope_ = 0;
  }
  if (committed && changes_defaults_) scopes_.defaults_changed();
  pending_sets_.clear();
  split_ = discards_ = changes_defaults_ = false;
  return std::exchange(round_, {});
}

std::uint64_t session_state::scope() {
  if (scope_ == 0) {
    std::string state = std::to_string(defaults_);
    state.push_back('\0');
    for (const auto& [name, value] : settings_) state.append(name).append(1, '=').append(value).push_back('\0');
    for (const auto& s : history_) state.append(s.sql).push_back('\0');
    scope_ = scopes_.shared(state);
  }
  return scope_;
}

}  // namespace proxy
