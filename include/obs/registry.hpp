// obs::registry: owns every metric family and series, hands out handles to
// record into, and takes snapshots for exporters.
//
// Most programs use the one process-wide registry, `obs::global_registry()`,
// which the OBS_* macros record into. Tests and libraries that want isolation
// make their own `obs::registry` and use its methods directly:
//
//   obs::registry reg;
//   obs::counter hits = reg.counter("pg_doorman_auth_query_cache_hits_total", {{"database", "mydb"}});
//   hits.increment();
//   obs::snapshot snap = reg.snapshot();  // hand to any exporter
//
// Registration (counter(), gauge(), ..., the families) validates names and
// label keys and throws obs::error on a bad one; it may allocate and lock.
// Recording through the handles it returns never does either.
//
// Thread safety: every method may be called from any thread. Series are
// reference counted: removing one (remove(), remove_matching()) takes it out
// of later snapshots, while handles to it stay valid; idle expiry only hides
// a series until it is recorded into again. A registry
// may be destroyed while handles to its series live on; they keep its storage
// alive and record into detached series.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/buckets.hpp"
#include "obs/callback_registration.hpp"
#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/core_ref.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/registry_core.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/error.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"
#include "obs/histogram_config.hpp"
#include "obs/names.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN

/// See the header comment.
class registry {
 public:
  registry() : core_(detail::core_ref::adopt(new detail::registry_core)) {}
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Detaches every series; handles stay valid.
  ~registry() { core_->detach_all(); }

  // --- Series with labels given as key/value pairs -------------------------

  /// The u64 counter series `name{labels}`, created at zero if new.
  ///
  ///   reg.counter("pgcache_queries_total", {{"status", "cache_hit"}}).increment();
  obs::counter counter(std::string_view name, std::initializer_list<label_view> labels = {}) {
    return obs::counter(counter_ref(series(name, detail::value_kind::counter, as_span(labels))));
  }
  obs::counter counter(std::string_view name, std::span<const label_view> labels) {
    return obs::counter(counter_ref(series(name, detail::value_kind::counter, labels)));
  }

  /// The floating-point counter series `name{labels}` (e.g. `*_seconds_total`).
  obs::float_counter float_counter(std::string_view name, std::initializer_list<label_view> labels = {}) {
    return obs::float_counter(float_counter_ref(series(name, detail::value_kind::float_counter, as_span(labels))));
  }
  obs::float_counter float_counter(std::string_view name, std::span<const label_view> labels) {
    return obs::float_counter(float_counter_ref(series(name, detail::value_kind::float_counter, labels)));
  }

  /// The gauge series `name{labels}`, created at zero if new.
  obs::gauge gauge(std::string_view name, std::initializer_list<label_view> labels = {}) {
    return obs::gauge(gauge_ref(series(name, detail::value_kind::gauge, as_span(labels))));
  }
  obs::gauge gauge(std::string_view name, std::span<const label_view> labels) {
    return obs::gauge(gauge_ref(series(name, detail::value_kind::gauge, labels)));
  }

  /// The histogram series `name{labels}`; its buckets come from
  /// set_histogram_config (default: obs::default_buckets()).
  obs::histogram histogram(std::string_view name, std::initializer_list<label_view> labels = {}) {
    return obs::histogram(histogram_ref(series(name, detail::value_kind::histogram, as_span(labels))));
  }
  obs::histogram histogram(std::string_view name, std::span<const label_view> labels) {
    return obs::histogram(histogram_ref(series(name, detail::value_kind::histogram, labels)));
  }

  /// Sets the info metric `name{labels} 1`, e.g. `obs_build_info{version="0.1.0"}`.
  void info(std::string_view name, std::initializer_list<label_view> labels) {
    series(name, detail::value_kind::info, as_span(labels));
  }

  // --- Families with fixed label keys and runtime values -------------------

  /// A counter with label keys `keys`; record with `.with(values...)`.
  obs::counter_family counter_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return make_family<obs::counter_family>(detail::value_kind::counter, name, as_span(keys));
  }
  obs::float_counter_family float_counter_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return make_family<obs::float_counter_family>(detail::value_kind::float_counter, name, as_span(keys));
  }
  obs::gauge_family gauge_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return make_family<obs::gauge_family>(detail::value_kind::gauge, name, as_span(keys));
  }
  obs::histogram_family histogram_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return make_family<obs::histogram_family>(detail::value_kind::histogram, name, as_span(keys));
  }
  /// The families above, with keys from a span (what the OBS_*_FAMILY macros use).
  obs::counter_family counter_family(std::string_view name, std::span<const std::string_view> keys) {
    return make_family<obs::counter_family>(detail::value_kind::counter, name, keys);
  }
  obs::float_counter_family float_counter_family(std::string_view name, std::span<const std::string_view> keys) {
    return make_family<obs::float_counter_family>(detail::value_kind::float_counter, name, keys);
  }
  obs::gauge_family gauge_family(std::string_view name, std::span<const std::string_view> keys) {
    return make_family<obs::gauge_family>(detail::value_kind::gauge, name, keys);
  }
  obs::histogram_family histogram_family(std::string_view name, std::span<const std::string_view> keys) {
    return make_family<obs::histogram_family>(detail::value_kind::histogram, name, keys);
  }

  // --- Values computed at snapshot time -------------------------------------

  /// A gauge series whose value is `read()`, called at each snapshot (pool
  /// sizes, queue depths). Keep the registration alive as long as `read` is
  /// safe to call.
  ///
  ///   auto reg_idle = reg.gauge_callback("db_pool_connections",
  ///       {{"service", "auth"}, {"state", "idle"}}, [&pool] { return pool.idle(); });
  [[nodiscard]] callback_registration gauge_callback(std::string_view name, std::initializer_list<label_view> labels,
                                                     std::function<double()> read) {
    return attach_callback(name, detail::value_kind::gauge, as_span(labels), std::move(read));
  }

  /// A counter series whose total is `read()` at each snapshot (for totals
  /// another component keeps, e.g. bytes a socket library counted).
  [[nodiscard]] callback_registration counter_callback(std::string_view name, std::initializer_list<label_view> labels,
                                                       std::function<double()> read) {
    return attach_callback(name, detail::value_kind::float_counter, as_span(labels), std::move(read));
  }

  /// Adds families of your own to every snapshot: `collect` gets the builder
  /// (strings are copied) and adds whole families with names of their own.
  ///
  /// What a collector adds is checked like everything else the registry
  /// exports (detail/snapshot_check.hpp): valid names and labels, names no
  /// other family exposes, values its type can hold. A collector that throws
  /// or adds anything invalid adds nothing to that snapshot, and
  /// `obs_collect_errors_total{source="<name>"}` counts it; the rest of the
  /// snapshot is unaffected.
  [[nodiscard]] callback_registration add_collector(std::string_view name,
                                                    std::function<void(snapshot_builder&)> collect) {
    const std::uint64_t id = core_->add_collector(detail::valid_utf8(name), std::move(collect));
    return callback_registration([core = core_, id] { core->remove_collector(id); });
  }
  /// As above, named "collector" in obs_collect_errors_total.
  [[nodiscard]] callback_registration add_collector(std::function<void(snapshot_builder&)> collect) {
    return add_collector("collector", std::move(collect));
  }

  /// Counts a macro site's refused registration in
  /// `obs_registration_errors_total{metric}` and reports it once on stderr;
  /// what OBS_* macros do instead of throwing.
  void report_registration_error(std::string_view name, const std::exception& e) noexcept {
    core_->report_registration_error(name, e);
  }

  // --- Metadata and configuration ------------------------------------------

  /// HELP text and unit for counter `name`. `unit` may be empty; when given it
  /// must end the name (before `_total`), e.g. "bytes" for `sent_bytes_total`.
  void describe_counter(std::string_view name, std::string_view unit, std::string_view help) {
    core_->describe(metric_type::counter, name, unit, help);
  }
  void describe_gauge(std::string_view name, std::string_view unit, std::string_view help) {
    core_->describe(metric_type::gauge, name, unit, help);
  }
  void describe_histogram(std::string_view name, std::string_view unit, std::string_view help) {
    core_->describe(metric_type::histogram, name, unit, help);
  }
  /// HELP text for info metric `name` (info metrics have no unit).
  void describe_info(std::string_view name, std::string_view help) {
    core_->describe(metric_type::info, name, {}, help);
  }

  /// Bucketing for histograms whose name `m` matches. Must come before the
  /// first histogram of such a name, else throws errc::already_configured.
  void set_histogram_config(const matcher& m, histogram_config config) {
    core_->add_histogram_rule(m, std::move(config));
  }

  /// Explicit bucket bounds for histograms whose name `m` matches.
  void set_buckets_for_metric(const matcher& m, std::vector<double> bounds) {
    set_histogram_config(m, histogram_config::explicit_buckets(std::move(bounds)));
  }

  /// At most `limit` series per metric (default 10,000). Label sets beyond it
  /// record into one overflow series whose label values are all
  /// `__overflow__`; `obs_cardinality_overflow_total{metric}` counts them.
  void set_cardinality_limit(std::size_t limit) { core_->set_default_cardinality_limit(limit); }
  /// As above, for metrics whose name `m` matches.
  void set_cardinality_limit(const matcher& m, std::size_t limit) { core_->add_cardinality_rule(m, limit); }

  /// Hides series that nothing recorded into for `timeout`, checked at each
  /// snapshot; zero (the default) keeps every series shown. A hidden series
  /// comes back with its values when anything records into it again (a
  /// literal call site, a held handle, a lookup); one nothing references any
  /// more is freed, and a later lookup starts it at zero. Info and callback
  /// series never expire.
  void set_idle_timeout(std::chrono::nanoseconds timeout) { core_->set_idle_timeout(timeout); }

  // --- Series lifecycle ----------------------------------------------------

  /// Removes the series `name{labels}`; returns whether it existed.
  bool remove(std::string_view name, std::initializer_list<label_view> labels) {
    return detail::remove_series(*core_, name, as_span(labels), true) > 0;
  }

  /// Removes every series of `name` whose labels include all of `labels`
  /// (e.g. every series of a destroyed pool); returns how many.
  std::size_t remove_matching(std::string_view name, std::initializer_list<label_view> labels) {
    return detail::remove_series(*core_, name, as_span(labels), false);
  }

  // --- Reading -------------------------------------------------------------

  /// A consistent-per-series copy of every metric, for exporters. Locks each
  /// family briefly; recording goes on meanwhile.
  obs::snapshot snapshot() { return detail::take_snapshot(*core_); }

 private:
  template <class T>
  static std::span<const T> as_span(std::initializer_list<T> list) noexcept {
    return {list.begin(), list.size()};
  }

  /// The global registry, over the global core (see global_registry()).
  explicit registry(detail::core_ref core) noexcept : core_(std::move(core)) {}
  friend registry& global_registry();

  detail::series_state* series(std::string_view name, detail::value_kind kind, std::span<const label_view> labels) {
    return core_->series(name, kind, labels);
  }

  template <class Family>
  Family make_family(detail::value_kind kind, std::string_view name, std::span<const std::string_view> keys) {
    detail::family_state& f = core_->family(name, kind, keys);
    return Family(&f, f.id, core_);
  }

  callback_registration attach_callback(std::string_view name, detail::value_kind kind,
                                        std::span<const label_view> labels, std::function<double()> read) {
    detail::series_state* s = series(name, kind, labels);
    core_->attach_callback(s, name, std::move(read));
    return callback_registration([core = core_, s, name = std::string(name)] { core->detach_callback(s, name); });
  }

  detail::core_ref core_;
};

/// The process-wide registry the OBS_* macros record into. Never destroyed,
/// so handles cached in function-local statics stay valid through static
/// destruction.
inline registry& global_registry() {
  static registry* global = new registry(detail::core_ref(&detail::global_core()));
  return *global;
}

OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/detail/core-inl.hpp"
#endif
