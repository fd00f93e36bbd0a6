// detail::registry_core: the storage and rules behind an obs::registry: its
// families, the validation every registration goes through, the creation and
// freeing of series, descriptions, configuration, callbacks and collectors.
//
// obs::registry (registry.hpp) is the public API over it and forwards to the
// methods below; snapshots are taken by take_snapshot (snapshot_walk-inl.hpp),
// the one friend. Nothing here knows the handle types.
//
// Thread safety: the state is private and every method takes the locks it
// needs. `mutex_` guards the maps; each family guards its own series
// (family_state.hpp), and is locked after `mutex_` where both are;
// `callback_mutex_` is held while any callback or collector runs, and to add
// or remove one. Methods named `_locked` expect the caller to hold the lock
// they name.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/buckets.hpp"
#include "obs/detail/cell_arena.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/core_ref.hpp"
#include "obs/detail/exposed_names.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/gauge_cells.hpp"
#include "obs/detail/lookup_cache.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/slot_table.hpp"
#include "obs/detail/string_list.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/error.hpp"
#include "obs/histogram_config.hpp"
#include "obs/label.hpp"
#include "obs/metric_type.hpp"
#include "obs/names.hpp"

OBS_NAMESPACE_BEGIN

class snapshot;
class snapshot_builder;

namespace detail {

/// What describe_*() recorded for a name.
struct description {
  metric_type type;
  std::string unit;
  std::string help;
};

/// The registry's shared state; kept alive by the registry and by every
/// family handle, callback registration, snapshot and series (core_ref.hpp),
/// so all of them may outlive the registry object.
class registry_core {
 public:
  /// The families obs itself adds to snapshots; their names are claimed.
  static constexpr std::string_view cardinality_overflow_metric = "obs_cardinality_overflow_total";
  static constexpr std::string_view rejected_values_metric = "obs_rejected_values_total";
  static constexpr std::string_view rejected_exemplars_metric = "obs_rejected_exemplars_total";
  static constexpr std::string_view collect_errors_metric = "obs_collect_errors_total";
  static constexpr std::string_view registration_errors_metric = "obs_registration_errors_total";

  registry_core() {
    for (std::string_view self : {cardinality_overflow_metric, rejected_values_metric, rejected_exemplars_metric,
                                  collect_errors_metric, registration_errors_metric})
      claim_locked(self, metric_type::counter);
  }

  static std::uint64_t next_family_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    // Ordering: relaxed; only uniqueness matters.
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  /// The family called `name`, created if needed; validates everything.
  family_state& family(std::string_view name, value_kind kind,
                       std::span<const std::string_view> keys) {
    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    if (it != families_.end()) {
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
    f->keys = string_list(keys);
    f->max_series = cardinality_limit_locked(name);
    if (kind == value_kind::histogram) {
      const histogram_config* config = histogram_config_locked(name);
      const std::size_t stripes = std::min<std::size_t>(4, slot_table::instance().exclusive_slots());
      if (config && config->is_high_resolution())
        f->layout = histogram_layout::high_resolution(config->native_options().schema, config->min_octave(),
                                                      config->max_octave(), config->quantiles(), stripes);
      else if (config && config->is_native())
        f->layout = histogram_layout::explicit_buckets(config->bounds())
                        .with_exponential(config->native_options().schema, config->min_octave(),
                                          config->max_octave(), stripes);
      else
        f->layout = histogram_layout::explicit_buckets(config ? config->bounds() : default_buckets());
      f->layout.max_buckets = config ? config->native_options().max_buckets : 0;
    }
    if (auto d = descriptions_.find(name); d != descriptions_.end() && !same_type(d->second->type, f->type()))
      throw error(errc::type_mismatch, "metric '" + f->name + "' was described as a " +
                                           std::string(to_string(d->second->type)) + "; it cannot be a " +
                                           std::string(kind_name(kind)));
    if (const std::string* other = exposed_conflict_locked(name, f->type()))
      throw error(errc::name_conflict, "metric '" + f->name + "' (" + std::string(to_string(f->type())) +
                                           ") would expose sample names that metric '" + *other +
                                           "' already exposes");
    claim_locked(name, f->type());
    return *families_.emplace(f->name, std::move(f)).first->second;
  }

  /// A new series of `f` with these (valid UTF-8) values; it holds a
  /// reference to this core, which free_series drops.
  series_state* create_series(family_state& f, std::span<const std::string_view> values, std::uint64_t hash) {
    std::unique_ptr<series_state, series_state::destroyer> s(series_state::create(values));
    s->kind = f.kind;
    s->family_id = f.id;
    s->hash = hash;
    s->layout = &f.layout;
    s->refused = &f.refused;
    if (f.kind == value_kind::counter || f.kind == value_kind::float_counter) s->cell_count = 1;
    if (f.kind == value_kind::gauge) s->cell_count = gauge_cell_count;
    if (f.kind == value_kind::histogram) s->cell_count = static_cast<std::uint32_t>(f.layout.cell_count());
    if (f.layout.exponential)
      s->exponential_stripes = new std::atomic<exponential_stripe*>[f.layout.scheme.stripes + 1]();
    if (s->cell_count) s->cells = arena_.allocate(s->cell_count);
    s->created_seconds = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    s->last_change_ns = steady_ns();
    s->core = this;
    retain_core(this);
    return s.release();
  }

  /// The overflow series of `f`, created on first use; caller holds f.mutex.
  series_state* overflow_locked(family_state& f) {
    if (!f.overflow) {
      std::array<std::string_view, max_label_keys> values;
      values.fill(overflow_label_value);
      std::span<const std::string_view> set(values.data(), f.keys.size());
      f.overflow = create_series(f, set, hash_label_values(set));
    }
    return f.overflow;
  }

  /// The series `name{labels}` of kind `kind`, created (with its family) if
  /// needed; validates everything and throws obs::error. Valid until this
  /// thread's next lookup, as find_series.
  series_state* series(std::string_view name, value_kind kind, std::span<const label_view> labels) {
    if (labels.size() > max_label_keys)
      throw error(errc::invalid_argument, "metric '" + std::string(name) + "' has more than 32 labels");
    std::array<std::string_view, max_label_keys> keys;
    for (std::size_t i = 0; i < labels.size(); ++i) keys[i] = labels[i].name;
    family_state& f = family(name, kind, {keys.data(), labels.size()});
    // The values in the family's key order.
    std::array<std::string_view, max_label_keys> values;
    for (std::size_t i = 0; i < f.keys.size(); ++i)
      for (const label_view& l : labels)
        if (l.name == f.keys[i]) values[i] = l.value;
    return state_of(find_series(this, f, f.id, {values.data(), labels.size()}));
  }

  /// HELP text and unit for `name`; validates both.
  void describe(metric_type type, std::string_view name, std::string_view unit, std::string_view help) {
    if (!is_valid_metric_name(name))
      throw error(errc::invalid_metric_name, "invalid metric name '" + std::string(name) + "'");
    if (!unit.empty()) {
      std::string suffix = "_" + std::string(unit);
      bool ok = is_valid_unit(unit) && (name.ends_with(suffix) || (type == metric_type::counter && name.ends_with(suffix + "_total")));
      if (!ok)
        throw error(errc::invalid_unit, "unit '" + std::string(unit) + "' must be [a-z0-9_]+ and end the name '" + std::string(name) + "'");
    }
    std::lock_guard lock(mutex_);
    if (auto it = families_.find(name); it != families_.end() && !same_type(type, it->second->type()))
      throw error(errc::type_mismatch, "metric '" + std::string(name) + "' is registered as " + std::string(to_string(it->second->type())));
    descriptions_[std::string(name)] = std::make_shared<const description>(
        description{type, std::string(unit), valid_utf8(help)});
  }

  /// Counts a macro site's refused registration in
  /// `obs_registration_errors_total{metric}` and reports it on stderr.
  void report_registration_error(std::string_view name, const std::exception& e) noexcept {
    try {
      std::lock_guard lock(mutex_);
      auto it = registration_errors_.find(name);
      if (it == registration_errors_.end()) it = registration_errors_.emplace(std::string(name), 0).first;
      ++it->second;
    } catch (...) {
      // Out of memory: the stderr line below still tells.
    }
    std::fprintf(stderr, "obs: metric site '%.*s' records nowhere: %s\n", static_cast<int>(name.size()),
                 name.data(), e.what());
  }

  // --- Configuration ---------------------------------------------------------

  /// Bucketing for histograms whose name `m` matches; throws
  /// errc::already_configured if such a histogram exists.
  void add_histogram_rule(const matcher& m, histogram_config config) {
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_)
      if (f->kind == value_kind::histogram && m.matches(name))
        throw error(errc::already_configured,
                    "histogram '" + name + "' exists already; configure buckets before first use");
    histogram_rules_.emplace_back(m, std::move(config));
  }

  /// The cardinality limit of metrics no rule matches, applied to every family.
  void set_default_cardinality_limit(std::size_t limit) {
    std::lock_guard lock(mutex_);
    default_cardinality_limit_ = limit;
    apply_cardinality_locked();
  }

  /// The cardinality limit of metrics whose name `m` matches.
  void add_cardinality_rule(const matcher& m, std::size_t limit) {
    std::lock_guard lock(mutex_);
    cardinality_rules_.emplace_back(m, limit);
    apply_cardinality_locked();
  }

  void set_idle_timeout(std::chrono::nanoseconds timeout) {
    std::lock_guard lock(mutex_);
    idle_timeout_ = timeout;
  }

  // --- Callbacks and collectors ------------------------------------------------

  /// Makes `read` the source of series `s` of family `name`, which keeps a
  /// reference to `s`; throws errc::duplicate_callback if it has one.
  void attach_callback(series_state* s, std::string_view name, std::function<double()> read) {
    std::lock_guard lock(callback_mutex_);
    if (!callbacks_.emplace(s, std::move(read)).second)
      throw error(errc::duplicate_callback, "metric '" + std::string(name) +
                                                "' already has a callback for these labels; reset it first");
    retain(s);
    // Ordering: relaxed; the function itself is read under callback_mutex_.
    s->has_callback.store(true, std::memory_order_relaxed);
  }

  /// Undoes attach_callback: the callback goes, and so does its series.
  void detach_callback(series_state* s, std::string_view name) noexcept {
    {
      std::lock_guard lock(callback_mutex_);
      callbacks_.erase(s);
    }
    if (family_state* f = find_family(name)) {
      std::lock_guard family_lock(f->mutex);
      if (!s->detached.load(std::memory_order_relaxed)) f->detach_locked(s);
    }
    release(s);
  }

  /// Adds a collector; returns the id remove_collector takes.
  std::uint64_t add_collector(std::string name, std::function<void(snapshot_builder&)> collect) {
    std::lock_guard lock(callback_mutex_);
    const std::uint64_t id = next_collector_id_++;
    collectors_.emplace(id, collector{std::move(name), std::move(collect)});
    return id;
  }

  void remove_collector(std::uint64_t id) noexcept {
    std::lock_guard lock(callback_mutex_);
    collectors_.erase(id);
  }

  // --- Lifecycle ---------------------------------------------------------------

  /// The family called `name`, or nullptr. Families are never removed, so
  /// the pointer stays valid as long as the core.
  family_state* find_family(std::string_view name) noexcept {
    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    return it == families_.end() ? nullptr : it->second.get();
  }

  /// Detaches every series of every family (what destroying the registry
  /// does); handles stay valid.
  void detach_all() noexcept {
    std::lock_guard lock(mutex_);
    for (auto& [name, f] : families_) {
      std::lock_guard family_lock(f->mutex);
      f->detach_all_locked();
      if (f->overflow) {
        // Ordering: release, as in detach_locked.
        f->overflow->detached.store(true, std::memory_order_release);
        release(std::exchange(f->overflow, nullptr));
      }
    }
  }

  /// Returns a series' cells to the arena; they are zeroed when handed out
  /// again.
  void free_cells(series_cells::cell* cells, std::size_t count) noexcept {
    try {
      arena_.release(cells, count);
    } catch (...) {
      // Out of memory for the free list: the cells stay reserved, nothing breaks.
    }
  }

  /// Reference counting, for core_ref (retain_core, release_core).
  void add_reference() noexcept {
    // Ordering: relaxed; taking a reference needs no ordering, only the count.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// True if that was the last reference.
  bool drop_reference() noexcept {
    // Ordering: acq_rel; every holder's writes happen-before the delete.
    return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
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

  static std::string joined(const string_list& keys) {
    std::string out = "(";
    for (std::string_view k : keys) (out += out.size() > 1 ? ", " : "") += k;
    return out + ")";
  }

 private:
  friend class snapshot_walk;

  struct collector {
    std::string name;
    std::function<void(snapshot_builder&)> collect;
    std::uint64_t errors = 0;  ///< snapshots it threw in or emitted invalid data
  };

  /// References (core_ref); the core is deleted with the last.
  std::atomic<std::size_t> refs_{1};
  cell_arena arena_;

  // Guards everything below except the families' own contents.
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<family_state>, std::less<>> families_;
  std::map<std::string, std::shared_ptr<const description>, std::less<>> descriptions_;
  std::vector<std::pair<matcher, histogram_config>> histogram_rules_;
  std::vector<std::pair<matcher, std::size_t>> cardinality_rules_;
  std::size_t default_cardinality_limit_ = 10000;
  std::chrono::nanoseconds idle_timeout_{0};
  /// Every name a family occupies in some exposition, and the family's name.
  std::map<std::string, std::string, std::less<>> exposed_;
  /// Macro sites whose registration was refused, by metric name.
  std::map<std::string, std::uint64_t, std::less<>> registration_errors_;

  // Held while any callback or collector runs, and to add or remove one.
  std::mutex callback_mutex_;
  std::map<const series_state*, std::function<double()>> callbacks_;
  std::map<std::uint64_t, collector> collectors_;
  std::uint64_t next_collector_id_ = 0;

  /// The family whose exposed names meet those of `name` as `type`, if any.
  const std::string* exposed_conflict_locked(std::string_view name, metric_type type) const {
    for (const std::string& n : exposed_names(name, type))
      if (auto it = exposed_.find(n); it != exposed_.end()) return &it->second;
    return nullptr;
  }
  void claim_locked(std::string_view name, metric_type type) {
    for (const std::string& n : exposed_names(name, type)) exposed_.emplace(n, std::string(name));
  }

  /// Applies the cardinality rules to every family; caller holds `mutex_`.
  void apply_cardinality_locked() {
    for (auto& [name, f] : families_) {
      std::lock_guard family_lock(f->mutex);
      f->max_series = cardinality_limit_locked(name);
    }
  }

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
    return best_match(histogram_rules_, name);
  }

  std::size_t cardinality_limit_locked(std::string_view name) const {
    const std::size_t* limit = best_match(cardinality_rules_, name);
    return limit ? *limit : default_cardinality_limit_;
  }
};

/// A snapshot of every family of `core`; what registry::snapshot returns.
/// Locks each family briefly; recording goes on meanwhile.
OBS_INLINE obs::snapshot take_snapshot(registry_core& core);

/// Detaches the series of family `name` whose labels include all of
/// `labels` (and no others when `exact`); returns how many. What
/// registry::remove and remove_matching do.
OBS_INLINE std::size_t remove_series(registry_core& core, std::string_view name,
                                     std::span<const label_view> labels, bool exact);

/// The global registry's core. Never destroyed, so handles cached in
/// function-local statics stay valid through static destruction.
OBS_INLINE registry_core& global_core() noexcept;

}  // namespace detail
OBS_NAMESPACE_END
