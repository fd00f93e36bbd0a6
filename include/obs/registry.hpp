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

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/buckets.hpp"
#include "obs/counter.hpp"
#include "obs/detail/cell_arena.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/exposed_names.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/slot_table.hpp"
#include "obs/detail/snapshot_check.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/error.hpp"
#include "obs/family.hpp"
#include "obs/gauge.hpp"
#include "obs/histogram.hpp"
#include "obs/histogram_config.hpp"
#include "obs/names.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN

namespace detail {
class registry_core;
}

/// Keeps a callback metric or a collector registered; unregisters it when
/// destroyed or reset. Once reset() returns, the callback is never called
/// again, so it may capture objects that die right after. Move-only.
///
/// Do not destroy a registration from inside its own callback: that waits for
/// the callback to finish.
class [[nodiscard("keep the registration alive: it unregisters when destroyed")]] callback_registration {
 public:
  callback_registration() noexcept = default;
  callback_registration(callback_registration&& other) noexcept
      : unregister_(std::exchange(other.unregister_, nullptr)) {}
  callback_registration& operator=(callback_registration&& other) noexcept {
    if (this != &other) {
      reset();
      unregister_ = std::exchange(other.unregister_, nullptr);
    }
    return *this;
  }
  callback_registration(const callback_registration&) = delete;
  callback_registration& operator=(const callback_registration&) = delete;
  ~callback_registration() { reset(); }

  /// Unregisters now.
  void reset() noexcept {
    if (unregister_) std::exchange(unregister_, nullptr)();
  }

 private:
  friend class registry;
  explicit callback_registration(std::function<void()> unregister) noexcept
      : unregister_(std::move(unregister)) {}
  std::function<void()> unregister_;
};

namespace detail {

/// What describe_*() recorded for a name.
struct description {
  metric_type type;
  std::string unit;
  std::string help;
};

/// The registry's shared state; kept alive by the registry and by every
/// series (so handles outlive a registry safely).
class registry_core final : public series_factory,
                            public std::enable_shared_from_this<registry_core> {
 public:
  cell_arena arena;

  // Guards everything below except the families' own contents.
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<family_state>, std::less<>> families;
  std::map<std::string, std::shared_ptr<const description>, std::less<>> descriptions;
  std::vector<std::pair<matcher, histogram_config>> histogram_rules;
  std::vector<std::pair<matcher, std::size_t>> cardinality_rules;
  std::size_t default_cardinality_limit = 10000;
  std::chrono::nanoseconds idle_timeout{0};

  /// Every name a family occupies in some exposition, and the family's name.
  std::map<std::string, std::string, std::less<>> exposed;
  /// Macro sites whose registration was refused, by metric name.
  std::map<std::string, std::uint64_t, std::less<>> registration_errors;

  struct collector {
    std::string name;
    std::function<void(snapshot_builder&)> collect;
    std::uint64_t errors = 0;  ///< snapshots it threw in or emitted invalid data
  };

  // Held while any callback or collector runs, and to unregister one.
  std::mutex callback_mutex;
  std::map<const series_state*, std::function<double()>> callbacks;
  std::map<std::uint64_t, collector> collectors;
  std::uint64_t next_collector_id = 0;

  /// The families obs itself adds to snapshots; their names are claimed.
  static constexpr std::string_view cardinality_overflow_metric = "obs_cardinality_overflow_total";
  static constexpr std::string_view rejected_values_metric = "obs_rejected_values_total";
  static constexpr std::string_view collect_errors_metric = "obs_collect_errors_total";
  static constexpr std::string_view registration_errors_metric = "obs_registration_errors_total";

  registry_core() {
    for (std::string_view self : {cardinality_overflow_metric, rejected_values_metric, collect_errors_metric,
                                  registration_errors_metric})
      claim_locked(self, metric_type::counter);
  }

  /// The family whose exposed names meet those of `name` as `type`, if any.
  const std::string* exposed_conflict_locked(std::string_view name, metric_type type) const {
    for (const std::string& n : exposed_names(name, type))
      if (auto it = exposed.find(n); it != exposed.end()) return &it->second;
    return nullptr;
  }
  void claim_locked(std::string_view name, metric_type type) {
    for (const std::string& n : exposed_names(name, type)) exposed.emplace(n, std::string(name));
  }

  static std::uint64_t next_family_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    // Ordering: relaxed; only uniqueness matters.
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  /// The family called `name`, created if needed; validates everything.
  family_state& family(std::string_view name, value_kind kind,
                       std::span<const std::string_view> keys) {
    std::lock_guard lock(mutex);
    auto it = families.find(name);
    if (it != families.end()) {
      family_state& f = *it->second;
      if (f.kind != kind)
        throw error(errc::type_mismatch, "metric '" + f.name + "' is registered as a " +
                                             std::string(kind_name(f.kind)) + "; it cannot also be a " +
                                             std::string(kind_name(kind)));
      // Same keys in any order: each of the family's keys given exactly once.
      bool same = f.keys.size() == keys.size();
      for (std::size_t i = 0; same && i < f.keys.size(); ++i)
        same = std::count(keys.begin(), keys.end(), f.keys[i]) == 1;
      if (!same) throw error(errc::label_keys_mismatch, "metric '" + f.name + "' has label keys " + joined(f.keys));
      return f;
    }
    if (!is_valid_metric_name(name))
      throw error(errc::invalid_metric_name, "invalid metric name '" + std::string(name) + "'");
    if (keys.size() > max_label_keys)
      throw error(errc::invalid_argument, "metric '" + std::string(name) + "' has more than 32 label keys");
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!is_valid_label_name(keys[i]))
        throw error(errc::invalid_label_name, "invalid label name '" + std::string(keys[i]) + "' on metric '" + std::string(name) + "'");
      if (kind == value_kind::histogram && is_reserved_histogram_label(keys[i]))
        throw error(errc::reserved_label_name, "label '" + std::string(keys[i]) + "' is reserved on histogram '" + std::string(name) + "'");
      if (std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(i), keys[i]) != keys.begin() + static_cast<std::ptrdiff_t>(i))
        throw error(errc::duplicate_label_name, "label '" + std::string(keys[i]) + "' given twice on metric '" + std::string(name) + "'");
    }
    auto f = std::make_unique<family_state>();
    f->id = next_family_id();
    f->name = std::string(name);
    f->kind = kind;
    f->keys.assign(keys.begin(), keys.end());
    f->factory = this;
    f->max_series = cardinality_limit_locked(name);
    if (kind == value_kind::histogram) {
      const histogram_config* config = histogram_config_locked(name);
      if (config && config->is_high_resolution())
        f->layout = histogram_layout::high_resolution_range(
            config->min_exponent(), config->max_exponent(), config->quantiles(),
            std::min<std::size_t>(4, slot_table::instance().exclusive_slots()));
      else
        f->layout = histogram_layout::explicit_buckets(config ? config->bounds() : default_buckets());
    }
    if (auto d = descriptions.find(name); d != descriptions.end() && !same_type(d->second->type, f->type()))
      throw error(errc::type_mismatch, "metric '" + f->name + "' was described as a " +
                                           std::string(to_string(d->second->type)) + "; it cannot be a " +
                                           std::string(kind_name(kind)));
    if (const std::string* other = exposed_conflict_locked(name, f->type()))
      throw error(errc::name_conflict, "metric '" + f->name + "' (" + std::string(to_string(f->type())) +
                                           ") would expose sample names that metric '" + *other +
                                           "' already exposes");
    claim_locked(name, f->type());
    return *families.emplace(f->name, std::move(f)).first->second;
  }

  series_state* create(family_state& f, std::span<const std::string_view> values,
                       std::uint64_t hash) override {
    auto s = std::make_unique<series_state>();
    s->kind = f.kind;
    s->family_id = f.id;
    s->hash = hash;
    s->values.assign(values.begin(), values.end());  // already valid UTF-8
    s->layout = &f.layout;
    s->rejected_values = &f.rejected_values;
    if (f.kind == value_kind::counter || f.kind == value_kind::float_counter) s->cell_count = 1;
    if (f.kind == value_kind::histogram) s->cell_count = f.layout.cell_count();
    if (s->cell_count) s->cells = arena.allocate(s->cell_count);
    if (f.layout.high_resolution)
      s->high_resolution_buckets = std::make_unique<series_state::cell[]>(f.layout.high_resolution_cells());
    s->created_seconds = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    s->last_change_ns = steady_ns();
    s->destroy = &destroy_series;
    s->owner = this;
    s->keep_owner = shared_from_this();
    return s.release();
  }

  static void destroy_series(series_state* s) noexcept {
    auto* core = static_cast<registry_core*>(s->owner);
    try {
      if (s->cells) core->arena.release(s->cells, s->cell_count);
    } catch (...) {
      // Out of memory for the free list: the cells stay reserved, nothing breaks.
    }
    std::shared_ptr<const void> keep = std::move(s->keep_owner);
    delete s;
  }

  static std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static bool same_type(metric_type described, metric_type actual) noexcept {
    // A high-resolution histogram exports as a summary but is described as a histogram.
    return described == actual || (described == metric_type::histogram && actual == metric_type::summary);
  }

  static std::string_view kind_name(value_kind kind) noexcept {
    switch (kind) {
      case value_kind::counter: return "counter";
      case value_kind::float_counter: return "float counter";
      case value_kind::gauge: return "gauge";
      case value_kind::histogram: return "histogram";
      case value_kind::info: return "info metric";
    }
    return "metric";
  }

  static std::string joined(const std::vector<std::string>& keys) {
    std::string out = "(";
    for (const std::string& k : keys) out += (out.size() > 1 ? ", " : "") + k;
    return out + ")";
  }

 private:
  template <class Rules>
  static auto best_match(const Rules& rules, std::string_view name) -> decltype(&rules.front().second) {
    decltype(&rules.front().second) best = nullptr;
    std::size_t best_rank = 0;
    for (const auto& [m, value] : rules) {
      if (m.matches(name) && (!best || m.specificity() >= best_rank)) {
        best = &value;
        best_rank = m.specificity();
      }
    }
    return best;
  }

  const histogram_config* histogram_config_locked(std::string_view name) const {
    return best_match(histogram_rules, name);
  }

 public:
  std::size_t cardinality_limit_locked(std::string_view name) const {
    const std::size_t* limit = best_match(cardinality_rules, name);
    return limit ? *limit : default_cardinality_limit;
  }
};

}  // namespace detail

/// See the header comment.
class registry {
 public:
  registry() : core_(std::make_shared<detail::registry_core>()) {}
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Detaches every series; handles stay valid.
  ~registry() {
    std::lock_guard lock(core_->mutex);
    for (auto& [name, f] : core_->families) {
      std::lock_guard family_lock(f->mutex);
      while (!f->series.empty()) f->detach_locked(f->series.begin()->second);
      if (f->overflow) {
        f->overflow->detached.store(true, std::memory_order_release);
        detail::release(std::exchange(f->overflow, nullptr));
      }
    }
  }

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
    return {&core_->family(name, detail::value_kind::counter, as_span(keys)), core_};
  }
  obs::float_counter_family float_counter_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::float_counter, as_span(keys)), core_};
  }
  obs::gauge_family gauge_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::gauge, as_span(keys)), core_};
  }
  obs::histogram_family histogram_family(std::string_view name, std::initializer_list<std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::histogram, as_span(keys)), core_};
  }
  /// The families above, with keys from a span (what the OBS_*_FAMILY macros use).
  obs::counter_family counter_family(std::string_view name, std::span<const std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::counter, keys), core_};
  }
  obs::float_counter_family float_counter_family(std::string_view name, std::span<const std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::float_counter, keys), core_};
  }
  obs::gauge_family gauge_family(std::string_view name, std::span<const std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::gauge, keys), core_};
  }
  obs::histogram_family histogram_family(std::string_view name, std::span<const std::string_view> keys) {
    return {&core_->family(name, detail::value_kind::histogram, keys), core_};
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
    std::lock_guard lock(core_->callback_mutex);
    std::uint64_t id = core_->next_collector_id++;
    core_->collectors.emplace(id, detail::registry_core::collector{detail::valid_utf8(name), std::move(collect)});
    return callback_registration([core = core_, id] {
      std::lock_guard unregister_lock(core->callback_mutex);
      core->collectors.erase(id);
    });
  }
  /// As above, named "collector" in obs_collect_errors_total.
  [[nodiscard]] callback_registration add_collector(std::function<void(snapshot_builder&)> collect) {
    return add_collector("collector", std::move(collect));
  }

  /// Counts a macro site's refused registration in
  /// `obs_registration_errors_total{metric}` and reports it once on stderr;
  /// what OBS_* macros do instead of throwing.
  void report_registration_error(std::string_view name, const std::exception& e) noexcept {
    try {
      std::lock_guard lock(core_->mutex);
      auto it = core_->registration_errors.find(name);
      if (it == core_->registration_errors.end()) it = core_->registration_errors.emplace(std::string(name), 0).first;
      ++it->second;
    } catch (...) {
      // Out of memory: the stderr line below still tells.
    }
    std::fprintf(stderr, "obs: metric site '%.*s' records nowhere: %s\n", static_cast<int>(name.size()),
                 name.data(), e.what());
  }

  // --- Metadata and configuration ------------------------------------------

  /// HELP text and unit for counter `name`. `unit` may be empty; when given it
  /// must end the name (before `_total`), e.g. "bytes" for `sent_bytes_total`.
  void describe_counter(std::string_view name, std::string_view unit, std::string_view help) {
    describe(metric_type::counter, name, unit, help);
  }
  void describe_gauge(std::string_view name, std::string_view unit, std::string_view help) {
    describe(metric_type::gauge, name, unit, help);
  }
  void describe_histogram(std::string_view name, std::string_view unit, std::string_view help) {
    describe(metric_type::histogram, name, unit, help);
  }
  /// HELP text for info metric `name` (info metrics have no unit).
  void describe_info(std::string_view name, std::string_view help) {
    describe(metric_type::info, name, {}, help);
  }

  /// Bucketing for histograms whose name `m` matches. Must come before the
  /// first histogram of such a name, else throws errc::already_configured.
  void set_histogram_config(const matcher& m, histogram_config config) {
    std::lock_guard lock(core_->mutex);
    for (const auto& [name, f] : core_->families)
      if (f->kind == detail::value_kind::histogram && m.matches(name))
        throw error(errc::already_configured, "histogram '" + name + "' exists already; configure buckets before first use");
    core_->histogram_rules.emplace_back(m, std::move(config));
  }

  /// Explicit bucket bounds for histograms whose name `m` matches.
  void set_buckets_for_metric(const matcher& m, std::vector<double> bounds) {
    set_histogram_config(m, histogram_config::explicit_buckets(std::move(bounds)));
  }

  /// At most `limit` series per metric (default 10,000). Label sets beyond it
  /// record into one overflow series whose label values are all
  /// `__overflow__`; `obs_cardinality_overflow_total{metric}` counts them.
  void set_cardinality_limit(std::size_t limit) {
    std::lock_guard lock(core_->mutex);
    core_->default_cardinality_limit = limit;
    apply_cardinality_locked();
  }
  /// As above, for metrics whose name `m` matches.
  void set_cardinality_limit(const matcher& m, std::size_t limit) {
    std::lock_guard lock(core_->mutex);
    core_->cardinality_rules.emplace_back(m, limit);
    apply_cardinality_locked();
  }

  /// Hides series that nothing recorded into for `timeout`, checked at each
  /// snapshot; zero (the default) keeps every series shown. A hidden series
  /// comes back with its values when anything records into it again (a
  /// literal call site, a held handle, a lookup); one nothing references any
  /// more is freed, and a later lookup starts it at zero. Info and callback
  /// series never expire.
  void set_idle_timeout(std::chrono::nanoseconds timeout) {
    std::lock_guard lock(core_->mutex);
    core_->idle_timeout = timeout;
  }

  // --- Series lifecycle ----------------------------------------------------

  /// Removes the series `name{labels}`; returns whether it existed.
  bool remove(std::string_view name, std::initializer_list<label_view> labels) {
    std::size_t removed = remove_if(name, as_span(labels), true);
    return removed > 0;
  }

  /// Removes every series of `name` whose labels include all of `labels`
  /// (e.g. every series of a destroyed pool); returns how many.
  std::size_t remove_matching(std::string_view name, std::initializer_list<label_view> labels) {
    return remove_if(name, as_span(labels), false);
  }

  // --- Reading -------------------------------------------------------------

  /// A consistent-per-series copy of every metric, for exporters. Locks each
  /// family briefly; recording goes on meanwhile.
  obs::snapshot snapshot();

 private:
  template <class T>
  static std::span<const T> as_span(std::initializer_list<T> list) noexcept {
    return {list.begin(), list.size()};
  }

  static constexpr std::size_t max_labels = detail::max_label_keys;

  detail::series_state* series(std::string_view name, detail::value_kind kind, std::span<const label_view> labels) {
    if (labels.size() > max_labels)
      throw error(errc::invalid_argument, "metric '" + std::string(name) + "' has more than 32 labels");
    std::array<std::string_view, max_labels> keys;
    for (std::size_t i = 0; i < labels.size(); ++i) keys[i] = labels[i].name;
    detail::family_state& f = core_->family(name, kind, {keys.data(), labels.size()});
    std::array<std::string_view, max_labels> values;
    order_values(f, labels, values);
    return f.find_or_create({values.data(), labels.size()});
  }

  // Puts label values in the family's key order.
  static void order_values(const detail::family_state& f, std::span<const label_view> labels,
                           std::array<std::string_view, max_labels>& values) {
    for (std::size_t i = 0; i < f.keys.size(); ++i)
      for (const label_view& l : labels)
        if (l.name == f.keys[i]) values[i] = l.value;
  }

  callback_registration attach_callback(std::string_view name, detail::value_kind kind,
                                        std::span<const label_view> labels, std::function<double()> read) {
    detail::series_state* s = series(name, kind, labels);
    {
      std::lock_guard lock(core_->callback_mutex);
      if (!core_->callbacks.emplace(s, std::move(read)).second)
        throw error(errc::duplicate_callback, "metric '" + std::string(name) +
                                                  "' already has a callback for these labels; reset it first");
      detail::retain(s);
      // Ordering: relaxed; the function itself is read under callback_mutex.
      s->has_callback.store(true, std::memory_order_relaxed);
    }
    return callback_registration([core = core_, s, name = std::string(name)] {
      {
        std::lock_guard lock(core->callback_mutex);
        core->callbacks.erase(s);
      }
      {
        std::lock_guard lock(core->mutex);
        auto it = core->families.find(name);
        std::lock_guard family_lock(it->second->mutex);
        if (!s->detached.load(std::memory_order_relaxed)) it->second->detach_locked(s);
      }
      detail::release(s);
    });
  }

  void describe(metric_type type, std::string_view name, std::string_view unit, std::string_view help) {
    if (!is_valid_metric_name(name))
      throw error(errc::invalid_metric_name, "invalid metric name '" + std::string(name) + "'");
    if (!unit.empty()) {
      std::string suffix = "_" + std::string(unit);
      bool ok = is_valid_unit(unit) && (name.ends_with(suffix) || (type == metric_type::counter && name.ends_with(suffix + "_total")));
      if (!ok)
        throw error(errc::invalid_unit, "unit '" + std::string(unit) + "' must be [a-z0-9_]+ and end the name '" + std::string(name) + "'");
    }
    std::lock_guard lock(core_->mutex);
    if (auto it = core_->families.find(name); it != core_->families.end() &&
                                              !detail::registry_core::same_type(type, it->second->type()))
      throw error(errc::type_mismatch, "metric '" + std::string(name) + "' is registered as " + std::string(to_string(it->second->type())));
    core_->descriptions[std::string(name)] = std::make_shared<const detail::description>(
        detail::description{type, std::string(unit), detail::valid_utf8(help)});
  }

  void apply_cardinality_locked() {
    for (auto& [name, f] : core_->families) {
      std::lock_guard family_lock(f->mutex);
      f->max_series = core_->cardinality_limit_locked(name);
    }
  }

  std::size_t remove_if(std::string_view name, std::span<const label_view> labels, bool exact) {
    detail::family_state* f = nullptr;
    {
      std::lock_guard lock(core_->mutex);
      auto it = core_->families.find(name);
      if (it == core_->families.end()) return 0;
      f = it->second.get();
    }
    // Index of each given label among the family's keys.
    std::array<std::size_t, max_labels> index;
    if (labels.size() > max_labels || (exact && labels.size() != f->keys.size())) return 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      auto k = std::find(f->keys.begin(), f->keys.end(), labels[i].name);
      if (k == f->keys.end()) return 0;
      index[i] = static_cast<std::size_t>(k - f->keys.begin());
    }
    // Series hold sanitised values; so must what they are compared with.
    std::array<std::string, max_labels> wanted;
    for (std::size_t i = 0; i < labels.size(); ++i) wanted[i] = detail::valid_utf8(labels[i].value);
    std::lock_guard family_lock(f->mutex);
    std::vector<detail::series_state*> doomed;
    for (const auto& [hash, s] : f->series) {
      bool match = true;
      for (std::size_t i = 0; match && i < labels.size(); ++i) match = s->values[index[i]] == wanted[i];
      if (match) doomed.push_back(s);
    }
    for (detail::series_state* s : doomed) f->detach_locked(s);
    return doomed.size();
  }

  std::shared_ptr<detail::registry_core> core_;
};

inline obs::snapshot registry::snapshot() {
  using detail::value_kind;
  struct family_entry {
    detail::family_state* family;
    std::shared_ptr<const detail::description> description;
  };
  std::vector<family_entry> families;
  std::chrono::nanoseconds idle_timeout;
  std::size_t series_estimate = 0;
  std::vector<std::pair<std::string, std::uint64_t>> registration_errors;
  {
    std::lock_guard lock(core_->mutex);
    families.reserve(core_->families.size());
    for (auto& [name, f] : core_->families) {
      auto d = core_->descriptions.find(name);
      families.push_back({f.get(), d == core_->descriptions.end() ? nullptr : d->second});
      series_estimate += f->series_count.load(std::memory_order_relaxed) + 1;
    }
    idle_timeout = core_->idle_timeout;
    registration_errors.assign(core_->registration_errors.begin(), core_->registration_errors.end());
  }

  snapshot_builder b(snapshot_builder::strings::borrowed);
  b.reserve(series_estimate, series_estimate * 2, series_estimate * 4);
  // Every series read is pinned until the snapshot dies: its labels are borrowed.
  struct pin_release {
    void operator()(std::vector<detail::series_state*>* v) const noexcept {
      for (detail::series_state* s : *v) detail::release(s);
      delete v;
    }
  };
  std::shared_ptr<std::vector<detail::series_state*>> pinned(new std::vector<detail::series_state*>, pin_release{});
  pinned->reserve(series_estimate);
  std::vector<detail::series_state*> callbacks;
  std::vector<bucket_count> buckets;
  std::vector<quantile_value> quantiles;
  std::vector<std::uint64_t> counts;
  const std::int64_t now_ns = detail::registry_core::steady_ns();
  // A series' labels, built from its family's keys and its values; the
  // builder copies the views, so one buffer serves every series.
  std::array<label_view, detail::max_label_keys> label_buffer;
  auto label_views = [](const detail::family_state& f, const detail::series_state& s,
                        std::array<label_view, detail::max_label_keys>& buffer) {
    for (std::size_t i = 0; i < s.values.size(); ++i) buffer[i] = {f.keys[i], s.values[i]};
    return std::span<const label_view>(buffer.data(), s.values.size());
  };

  // What changes whenever a series is recorded into; idle expiry compares it
  // between snapshots. A gauge's writes are seen through its touched flag,
  // since a gauge set to the same value is active too.
  auto fingerprint = [](const detail::family_state& f, detail::series_state& s) -> std::uint64_t {
    switch (s.kind) {
      case value_kind::counter: return detail::sum_u64(s.cells);
      case value_kind::float_counter: return detail::double_bits(detail::sum_f64(s.cells));
      case value_kind::gauge: {
        // Ordering: relaxed; a write racing this read counts as activity now or at the next snapshot.
        if (s.touched.load(std::memory_order_relaxed)) {
          s.touched.store(false, std::memory_order_relaxed);
          return ~s.last_fingerprint;  // differs from the last one, whatever the value
        }
        return detail::double_bits(s.gauge_value.load(std::memory_order_relaxed));
      }
      case value_kind::histogram: {
        std::uint64_t total = 0;
        if (f.layout.high_resolution) {
          for (std::size_t i = 0; i < f.layout.high_resolution_cells(); ++i)
            total += s.high_resolution_buckets[i].load(std::memory_order_relaxed);
        } else {
          for (std::size_t i = 0; i <= f.layout.bounds.size(); ++i) total += detail::sum_u64(s.cells + i);
        }
        return total ^ detail::double_bits(detail::sum_f64(s.cells + f.layout.sum_cell()));
      }
      case value_kind::info: return 1;
    }
    return 0;
  };

  auto emit = [&](detail::family_state& f, detail::series_state& s) {
    std::span<const label_view> labels = label_views(f, s, label_buffer);
    switch (s.kind) {
      case value_kind::counter: b.add_series(labels, number::integer(detail::sum_u64(s.cells)), s.created_seconds); return;
      case value_kind::float_counter:
        b.add_series(labels, number::floating(detail::sum_f64(s.cells)), s.created_seconds);
        return;
      case value_kind::gauge: b.add_series(labels, number::floating(s.gauge_value.load(std::memory_order_relaxed))); return;
      case value_kind::info: b.add_series(labels, number::integer(1)); return;
      case value_kind::histogram: break;
    }
    const detail::histogram_layout& layout = f.layout;
    double sum = detail::sum_f64(s.cells + layout.sum_cell());
    std::uint64_t total = 0;
    if (!layout.high_resolution) {
      buckets.clear();
      for (std::size_t i = 0; i <= layout.bounds.size(); ++i) {
        total += detail::sum_u64(s.cells + i);
        double bound = i < layout.bounds.size() ? layout.bounds[i] : std::numeric_limits<double>::infinity();
        buckets.push_back({bound, total});
      }
      b.add_histogram_series(labels, buckets, sum, total, s.created_seconds);
      return;
    }
    const std::size_t n = layout.high_resolution_buckets();
    counts.assign(n, 0);
    for (std::size_t stripe = 0; stripe <= layout.stripes; ++stripe)
      for (std::size_t i = 0; i < n; ++i)
        // Ordering: relaxed; a snapshot may be torn across buckets.
        counts[i] += s.high_resolution_buckets[stripe * n + i].load(std::memory_order_relaxed);
    for (std::uint64_t c : counts) total += c;
    quantiles.clear();
    for (double q : layout.quantiles) {
      double value = std::numeric_limits<double>::quiet_NaN();
      if (total > 0) {
        // Nearest rank: the smallest value with at least q * total at or below it.
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
        rank = std::max<std::uint64_t>(rank, 1);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
          seen += counts[i];
          if (seen >= rank) {
            value = layout.high_resolution_value(i);
            break;
          }
        }
      }
      quantiles.push_back({q, value});
    }
    b.add_summary_series(labels, quantiles, sum, total, s.created_seconds);
  };

  // Idle expiry: a series unchanged for `idle_timeout` turns idle and leaves
  // snapshots; recorded into again, it comes back with its values. An idle
  // series nothing else references (no handle, no lookup cache) is freed: no
  // one can record into it any more, and a later lookup starts it afresh.
  auto expires = [&](const detail::series_state& s) {
    return idle_timeout.count() > 0 && s.kind != value_kind::info && now_ns - s.last_change_ns > idle_timeout.count();
  };

  // obs's own families, by metric: label sets sent to overflow, values
  // refused, callbacks that failed.
  std::vector<std::pair<std::string_view, std::uint64_t>> overflowed, rejected, collect_errors;
  for (const family_entry& entry : families) {
    detail::family_state& f = *entry.family;
    std::string_view help = entry.description ? std::string_view(entry.description->help) : std::string_view();
    std::string_view unit = entry.description ? std::string_view(entry.description->unit) : std::string_view();
    b.add_family(f.name, f.type(), help, unit);
    callbacks.clear();
    {
      std::lock_guard lock(f.mutex);
      std::vector<detail::series_state*> freed;
      for (detail::series_state* s : f.sorted_locked()) {
        // Ordering: relaxed; see attach_callback.
        if (s->has_callback.load(std::memory_order_relaxed)) {
          detail::retain(s);
          pinned->push_back(s);
          callbacks.push_back(s);
          continue;
        }
        std::uint64_t print = fingerprint(f, *s);
        if (print != s->last_fingerprint) {
          s->last_fingerprint = print;
          s->last_change_ns = now_ns;
          s->idle = false;
        } else if (s->idle || expires(*s)) {
          s->idle = true;
          // Ordering: acquire; a reference dropped elsewhere happened-before.
          if (s->refs.load(std::memory_order_acquire) == 1) freed.push_back(s);
          continue;
        }
        emit(f, *s);
        detail::retain(s);
        pinned->push_back(s);
      }
      if (callbacks.empty() && !f.overflow) b.series_already_sorted();
      if (f.overflow) {
        emit(f, *f.overflow);
        detail::retain(f.overflow);
        pinned->push_back(f.overflow);
      }
      for (detail::series_state* s : freed) f.detach_locked(s);
      if (f.overflow_label_sets > 0) overflowed.emplace_back(f.name, f.overflow_label_sets);
    }
    if (!callbacks.empty()) {
      std::lock_guard lock(core_->callback_mutex);
      for (detail::series_state* s : callbacks) {
        auto it = core_->callbacks.find(s);
        if (it == core_->callbacks.end()) continue;
        double v;
        try {
          v = it->second();
        } catch (...) {
          // One failing callback costs its own series, not the scrape.
          f.callback_errors.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (f.kind == value_kind::float_counter && !(v >= 0)) {
          f.rejected_values.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        b.add_series(label_views(f, *s, label_buffer), number::floating(v));
      }
    }
    // Ordering: relaxed; statistics.
    if (std::uint64_t n = f.rejected_values.load(std::memory_order_relaxed)) rejected.emplace_back(f.name, n);
    if (std::uint64_t n = f.callback_errors.load(std::memory_order_relaxed)) collect_errors.emplace_back(f.name, n);
  }

  // Collectors, each checked and kept all or nothing.
  std::vector<std::pair<std::string, std::uint64_t>> collector_errors;
  {
    std::lock_guard lock(core_->callback_mutex);
    if (!core_->collectors.empty()) {
      b.set_strings(snapshot_builder::strings::copied);
      std::set<std::string, std::less<>> claimed;  // names earlier collectors' families expose
      for (auto& [id, c] : core_->collectors) {
        const snapshot_builder::mark before = b.position();
        bool ok = true;
        try {
          c.collect(b);
        } catch (...) {
          ok = false;
        }
        std::vector<std::string> names;
        if (ok) {
          b.visit_since(before, [&](const family_snapshot& f) {
            if (!ok) return;
            ok = detail::check_family(f).empty();
            for (const std::string& n : detail::exposed_names(f.name, f.type)) {
              if (!ok) break;
              std::lock_guard core_lock(core_->mutex);
              ok = !core_->exposed.contains(n) && !claimed.contains(n) &&
                   std::find(names.begin(), names.end(), n) == names.end();
              names.push_back(n);
            }
          });
        }
        if (ok) {
          claimed.insert(names.begin(), names.end());
        } else {
          b.rollback(before);
          ++c.errors;
        }
        if (c.errors) collector_errors.emplace_back(c.name, c.errors);
      }
      b.set_strings(snapshot_builder::strings::borrowed);
    }
  }

  // obs's own families: strings copied, since some outlive nothing here.
  b.set_strings(snapshot_builder::strings::copied);
  auto self_family = [&](std::string_view name, std::string_view help, std::string_view label,
                         const auto& counts_by_name) {
    if (counts_by_name.empty()) return;
    b.add_family(name, metric_type::counter, help);
    for (const auto& [source, n] : counts_by_name) {
      label_view l{label, source};
      b.add_series({&l, 1}, number::integer(n));
    }
  };
  self_family(detail::registry_core::cardinality_overflow_metric,
              "Label sets a metric's cardinality limit sent to its overflow series.", "metric", overflowed);
  self_family(detail::registry_core::rejected_values_metric,
              "Recorded values a metric's type cannot hold (NaN, or negative into a counter-like value), not recorded.",
              "metric", rejected);
  std::vector<std::pair<std::string_view, std::uint64_t>> failures(collect_errors.begin(), collect_errors.end());
  for (const auto& [name, n] : collector_errors) failures.emplace_back(name, n);
  self_family(detail::registry_core::collect_errors_metric,
              "Snapshots in which a callback or collector threw or produced invalid data, left out.", "source",
              failures);
  self_family(detail::registry_core::registration_errors_metric,
              "OBS_* macro sites whose registration was refused; they record nowhere.", "metric",
              registration_errors);

  b.keep_alive(std::move(pinned));
  for (const family_entry& entry : families)
    if (entry.description) b.keep_alive(entry.description);
  b.keep_alive(core_);
  return std::move(b).build();
}

/// The process-wide registry the OBS_* macros record into. Never destroyed,
/// so handles cached in function-local statics stay valid through static
/// destruction.
inline registry& global_registry() {
  static registry* global = new registry;
  return *global;
}

OBS_NAMESPACE_END
