// What a client session's results depend on, and with whom it may share them.
//
// A cached result may be shared only between sessions that would resolve
// every name, type, setting and policy in it identically. The proxy knows a
// session's state while it is made of its startup parameters, the settings
// PostgreSQL reports (ParameterStatus) and the SET/RESET statements it
// committed: sessions in the same known state share one scope. Anything the
// proxy cannot follow (set_config(), temporary objects, user functions, DO,
// CALL, a SET that a savepoint partly undid) makes the state unknown: from
// then on the session's scope is private, and a new private scope begins
// with every statement but a read, since any may change its state again.
// DISCARD ALL makes the session as new.
//
// Thread safety: none; a session_state and its scope_table belong to the
// proxy's I/O thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "classifier.hpp"

namespace proxy {

/// Numbers for scopes, so that a cache key carries eight bytes instead of
/// every setting. A shared scope gets one number per distinct state; a
/// private scope a number no other gets. Numbers are never reused: a full
/// table starts over, and entries under old numbers age out of the cache.
class scope_table {
 public:
  /// The number of the shared scope described by `state`.
  std::uint64_t shared(const std::string& state);
  /// A number nobody has had.
  std::uint64_t fresh() noexcept { return ++last_; }

  /// Sessions start with other settings from now on (ALTER ROLE ... SET,
  /// ALTER DATABASE ... SET, ALTER SYSTEM): a session started before shares
  /// nothing with one started after.
  void defaults_changed() noexcept { ++defaults_; }
  std::uint64_t defaults() const noexcept { return defaults_; }

 private:
  std::unordered_map<std::string, std::uint64_t> ids_;
  std::uint64_t last_ = 0;
  std::uint64_t defaults_ = 0;
};

class session_state {
 public:
  explicit session_state(scope_table& scopes) : scopes_(scopes), defaults_(scopes.defaults()) {}

  /// A StartupMessage parameter (user, database, options...).
  void startup_parameter(std::string_view name, std::string_view value);
  /// A ParameterStatus: PostgreSQL reports a setting's new value.
  void reported(std::string_view name, std::string_view value);

  /// A statement ran in the current round (the messages up to the next
  /// ReadyForQuery), whatever its outcome.
  void ran(const analysis& a, const side_effects& e, std::string_view sql);
  /// The client ran something the proxy cannot see into (a FunctionCall,
  /// a prepared statement it never saw parsed).
  void ran_unknown();

  /// What the end of a round means for the cache.
  struct round_end {
    std::vector<std::string> written;  ///< tables named as written: invalidate them now
    bool hidden_write = false;         ///< rows of unnamed tables may have changed
    bool schema_changed = false;       ///< clear every result and catalog fact
  };
  /// ReadyForQuery with `status` ('I', 'T', 'E'); `failed` when the round
  /// had an ErrorResponse; `tag` the last CommandComplete's. Settings of a
  /// transaction count from its end: kept on COMMIT, gone on ROLLBACK.
  round_end ready(char status, bool failed, std::string_view tag);

  /// The scope number for cache keys.
  std::uint64_t scope();
  /// Whether the session still shares results with others.
  bool shares() const noexcept { return !private_; }

 private:
  // A committed SET/RESET: the setting it changes (empty when several or
  // unknown) and its text.
  struct set_statement {
    std::string setting;
    std::string sql;
  };

  void go_private();
  void commit(set_statement s);

  scope_table& scopes_;
  std::uint64_t defaults_;
  std::map<std::string, std::string, std::less<>> settings_;  // startup parameters and reported settings
  std::vector<set_statement> history_;  // committed SET/RESET statements, in order
  std::size_t history_bytes_ = 0;
  bool private_ = false;
  std::uint64_t scope_ = 0;             // 0: to be computed
  // The transaction in progress.
  std::vector<set_statement> pending_sets_;
  bool split_ = false;                  // its settings are neither all kept nor all undone
  bool discards_ = false;
  bool changes_defaults_ = false;
  round_end round_;
};

}  // namespace proxy
