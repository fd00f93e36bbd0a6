// detail::take_snapshot (declared in registry_core.hpp): the walk over a
// registry that makes an obs::snapshot. take_snapshot is its table of
// contents; detail::snapshot_walk holds what the steps share:
//
//   1. the families and the settings, read under the core's lock;
//   2. each family under its own lock: each series' activity for idle
//      expiry (track_activity), its value read by kind (emit), the overflow
//      series, then the callbacks' series outside that lock (call_callbacks);
//   3. the collectors, each kept all or nothing (run_collectors);
//   4. obs's own families: obs_cardinality_overflow_total and the rest
//      (add_own_families).
//
// Series are pinned (retained) until the snapshot dies: their label strings
// are borrowed, not copied. Part of core-inl.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/exemplar_store.hpp"
#include "obs/detail/exposed_names.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/gauge_cells.hpp"
#include "obs/detail/native_counts.hpp"
#include "obs/detail/registry_core.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/snapshot_check.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class snapshot_walk {
  struct family_entry {
    family_state* family;
    std::shared_ptr<const description> described;  ///< help and unit, if described
  };
  struct pin_release {
    void operator()(std::vector<series_state*>* v) const noexcept {
      for (series_state* s : *v) release(s);
      delete v;
    }
  };
  using counts_by_name = std::vector<std::pair<std::string_view, std::uint64_t>>;

 public:
  /// Step 1: the families, their descriptions and the settings, under the
  /// core's lock, which nothing below takes again but to check names.
  explicit snapshot_walk(registry_core& core) : core_(core), pinned_(new std::vector<series_state*>, pin_release{}) {
    std::size_t series_estimate = 0;
    {
      std::lock_guard lock(core.mutex_);
      families_.reserve(core.families_.size());
      for (auto& [name, f] : core.families_) {
        auto d = core.descriptions_.find(name);
        families_.push_back({f.get(), d == core.descriptions_.end() ? nullptr : d->second});
        // Ordering: relaxed; only an estimate.
        series_estimate += f->series_count.load(std::memory_order_relaxed) + 1;
      }
      idle_timeout_ = core.idle_timeout_;
      registration_errors_.assign(core.registration_errors_.begin(), core.registration_errors_.end());
    }
    b_.reserve(series_estimate, series_estimate * 2, series_estimate * 4);
    pinned_->reserve(series_estimate);
  }

  /// Step 2, for every family.
  void read_families() {
    for (const family_entry& entry : families_) read_family(entry);
  }

  /// Step 3: the collectors, each checked and kept all or nothing.
  void run_collectors() {
    std::lock_guard lock(core_.callback_mutex_);
    if (core_.collectors_.empty()) return;
    b_.set_strings(snapshot_builder::strings::copied);
    std::set<std::string, std::less<>> claimed;  // names earlier collectors' families expose
    for (auto& [id, c] : core_.collectors_) {
      const snapshot_builder::mark before = b_.position();
      bool ok = true;
      try {
        c.collect(b_);
      } catch (...) {
        ok = false;
      }
      std::vector<std::string> names;
      if (ok) {
        b_.visit_since(before, [&](const family_snapshot& f) {
          if (!ok) return;
          ok = check_family(f).empty();
          for (const std::string& n : exposed_names(f.name, f.type)) {
            if (!ok) break;
            std::lock_guard core_lock(core_.mutex_);
            ok = !core_.exposed_.contains(n) && !claimed.contains(n) &&
                 std::find(names.begin(), names.end(), n) == names.end();
            names.push_back(n);
          }
        });
      }
      if (ok) {
        claimed.insert(names.begin(), names.end());
      } else {
        b_.rollback(before);
        ++c.errors;
      }
      if (c.errors) collector_errors_.emplace_back(c.name, c.errors);
    }
    b_.set_strings(snapshot_builder::strings::borrowed);
  }

  /// Step 4: obs's own families, strings copied, since some outlive nothing here.
  void add_own_families() {
    b_.set_strings(snapshot_builder::strings::copied);
    own_family(registry_core::cardinality_overflow_metric,
               "Label sets a metric's cardinality limit sent to its overflow series.", "metric", overflowed_);
    own_family(registry_core::rejected_values_metric,
               "Recorded values a metric's type cannot hold (NaN, or negative into a counter-like value), not "
               "recorded.",
               "metric", rejected_);
    own_family(registry_core::rejected_exemplars_metric,
               "Exemplars not kept: invalid label names, labels longer than 128 code points, or a summary.",
               "metric", rejected_exemplars_);
    std::vector<std::pair<std::string_view, std::uint64_t>> failures(collect_errors_.begin(), collect_errors_.end());
    for (const auto& [name, n] : collector_errors_) failures.emplace_back(name, n);
    own_family(registry_core::collect_errors_metric,
               "Snapshots in which a callback or collector threw or produced invalid data, left out.", "source",
               failures);
    own_family(registry_core::registration_errors_metric,
               "OBS_* macro sites whose registration was refused; they record nowhere.", "metric",
               registration_errors_);
  }

  /// The snapshot, keeping alive what it borrows: the pinned series, the
  /// descriptions and the core.
  obs::snapshot finish() && {
    b_.keep_alive(std::move(pinned_));
    for (const family_entry& entry : families_)
      if (entry.described) b_.keep_alive(entry.described);
    retain_core(&core_);
    b_.keep_alive(std::shared_ptr<const void>(&core_, [](registry_core* c) { release_core(c); }));
    return std::move(b_).build();
  }

 private:
  /// Step 2 for one family: its series under its lock, then its callbacks.
  void read_family(const family_entry& entry) {
    family_state& f = *entry.family;
    b_.add_family(f.name, f.type(), entry.described ? std::string_view(entry.described->help) : "",
                  entry.described ? std::string_view(entry.described->unit) : "");
    callbacks_.clear();
    {
      std::lock_guard lock(f.mutex);
      std::vector<series_state*> freed;
      for (series_state* s : f.sorted_locked()) {
        // Ordering: relaxed; see attach_callback.
        if (s->has_callback.load(std::memory_order_relaxed)) {
          pin(s);
          callbacks_.push_back(s);
          continue;
        }
        if (!track_activity(*s)) {
          // Ordering: acquire; a reference dropped elsewhere happened-before.
          if (s->refs.load(std::memory_order_acquire) == 1) freed.push_back(s);
          continue;
        }
        emit(f, *s);
        pin(s);
      }
      if (callbacks_.empty() && !f.overflow) b_.series_already_sorted();
      if (f.overflow) {
        emit(f, *f.overflow);
        pin(f.overflow);
      }
      for (series_state* s : freed) f.detach_locked(s);
      if (f.overflow_label_sets > 0) overflowed_.emplace_back(f.name, f.overflow_label_sets);
    }
    if (!callbacks_.empty()) call_callbacks(f);
    // Ordering: relaxed; statistics.
    if (std::uint64_t n = f.refused.values.load(std::memory_order_relaxed)) rejected_.emplace_back(f.name, n);
    if (std::uint64_t n = f.refused.exemplars.load(std::memory_order_relaxed))
      rejected_exemplars_.emplace_back(f.name, n);
    if (std::uint64_t n = f.callback_errors.load(std::memory_order_relaxed)) collect_errors_.emplace_back(f.name, n);
  }

  void pin(series_state* s) {
    retain(s);
    pinned_->push_back(s);
  }

  /// Idle expiry: a series unchanged for `idle_timeout` turns idle and
  /// leaves snapshots; recorded into again, it comes back with its values.
  /// False if the series is idle (and is left out). The caller frees an idle
  /// series nothing else references (no handle, no lookup cache): no one can
  /// record into it any more, and a later lookup starts it afresh. Caller
  /// holds the family's lock.
  bool track_activity(series_state& s) {
    const std::uint64_t print = fingerprint(s);
    if (print != s.last_fingerprint) {
      s.last_fingerprint = print;
      s.last_change_ns = now_ns_;
      s.idle = false;
      return true;
    }
    const bool expired = idle_timeout_.count() > 0 && s.kind != value_kind::info &&
                         now_ns_ - s.last_change_ns > idle_timeout_.count();
    if (s.idle || expired) s.idle = true;
    return !s.idle;
  }

  /// What changes whenever a series is recorded into; idle expiry compares it
  /// between snapshots. A gauge's writes are seen through its touched flag,
  /// since a gauge set to the same value is active too.
  static std::uint64_t fingerprint(series_state& s) {
    switch (s.kind) {
      case value_kind::counter: return sum_u64(s.cells);
      case value_kind::float_counter: return double_bits(sum_f64(s.cells));
      case value_kind::gauge: {
        // Ordering: relaxed; a write racing this read counts as activity now or at the next snapshot.
        if (s.touched.load(std::memory_order_relaxed)) {
          s.touched.store(false, std::memory_order_relaxed);
          return ~s.last_fingerprint;  // differs from the last one, whatever the value
        }
        return double_bits(gauge_read(&s));
      }
      case value_kind::histogram: {
        std::uint64_t total = 0;
        if (s.layout->exponential) {
          total = exponential_total(s.exponential_stripes, s.layout->scheme);
        } else {
          for (std::size_t i = 0; i <= s.layout->bound_count; ++i)
            total += sum_u64(s.cells + histogram_buckets::first_bucket_cell + i);
        }
        return total ^ double_bits(sum_f64(s.cells + histogram_buckets::sum_cell));
      }
      case value_kind::info: return 1;
    }
    return 0;
  }

  /// A series' labels, from its family's keys and its values; the builder
  /// copies the views, so one buffer serves every series.
  std::span<const label_view> labels_of(const family_state& f, const series_state& s) {
    for (std::size_t i = 0; i < s.value_count; ++i) label_buffer_[i] = {f.keys[i], s.value_data[i]};
    return {label_buffer_.data(), s.value_count};
  }

  /// Adds the series' value, read as its kind stores it.
  void emit(const family_state& f, series_state& s) {
    const std::span<const label_view> labels = labels_of(f, s);
    switch (s.kind) {
      case value_kind::counter:
        b_.add_series(labels, number::integer(sum_u64(s.cells)), s.created_seconds);
        return add_exemplars_of(s, {});
      case value_kind::float_counter:
        b_.add_series(labels, number::floating(sum_f64(s.cells)), s.created_seconds);
        return add_exemplars_of(s, {});
      case value_kind::gauge: b_.add_series(labels, number::floating(gauge_read(&s))); return;
      case value_kind::info: b_.add_series(labels, number::integer(1)); return;
      case value_kind::histogram:
        if (f.layout.summary) return emit_summary(f.layout, s, labels);
        if (f.layout.exponential) return emit_native(f.layout, s, labels);
        return emit_histogram(f.layout, s, labels);
    }
  }

  /// An explicit histogram: cumulative bucket counts, sum and count.
  void emit_histogram(const histogram_layout& layout, const series_state& s, std::span<const label_view> labels) {
    std::uint64_t total = 0;
    buckets_.clear();
    for (std::size_t i = 0; i <= layout.bounds.size(); ++i) {
      total += sum_u64(s.cells + histogram_buckets::first_bucket_cell + i);
      const double bound = i < layout.bounds.size() ? layout.bounds[i] : std::numeric_limits<double>::infinity();
      buckets_.push_back({bound, total});
    }
    b_.add_histogram_series(labels, buckets_, sum_f64(s.cells + histogram_buckets::sum_cell), total,
                            s.created_seconds);
    add_exemplars_of(s, buckets_);
  }

  /// The exemplars of the series just added, if any: those of a ring (a
  /// histogram with native buckets only) ascending by value, the latest
  /// per bucket of `buckets`.
  void add_exemplars_of(const series_state& s, std::span<const bucket_count> buckets) {
    // Ordering: acquire; pairs with install_once's release.
    const exemplar_store* store = s.exemplars.load(std::memory_order_acquire);
    if (!store) return;
    exemplar_texts_.resize(store->slot_count);
    exemplar_labels_.clear();
    exemplar_labels_.reserve(store->slot_count * exemplar::max_labels);
    exemplars_.clear();
    for (std::uint32_t i = 0; i < store->slot_count; ++i) {
      double value, seconds;
      std::size_t size;
      char* text = exemplar_texts_[i].data();
      if (!store->slots()[i].read(value, seconds, text, size)) continue;
      const std::size_t first = exemplar_labels_.size();
      for (std::size_t at = 0; at < size;) {
        const std::string_view name(text + at);
        const std::string_view label_value(text + at + name.size() + 1);
        exemplar_labels_.push_back({name, label_value});
        at += name.size() + label_value.size() + 2;
      }
      exemplars_.push_back({std::span<const label_view>(exemplar_labels_).subspan(first), value, seconds});
    }
    if (store->ring) {
      auto bucket_of = [&](double v) {
        return std::lower_bound(buckets.begin(), buckets.end(), v,
                                [](const bucket_count& b, double x) { return b.upper_bound < x; }) - buckets.begin();
      };
      // The latest per bucket, then ascending by value.
      std::sort(exemplars_.begin(), exemplars_.end(), [&](const exemplar_snapshot& a, const exemplar_snapshot& b) {
        return bucket_of(a.value) != bucket_of(b.value) ? a.value < b.value : a.timestamp > b.timestamp;
      });
      exemplars_.erase(std::unique(exemplars_.begin(), exemplars_.end(),
                                   [&](const exemplar_snapshot& a, const exemplar_snapshot& b) {
                                     return bucket_of(a.value) == bucket_of(b.value);
                                   }),
                       exemplars_.end());
    }
    b_.set_strings(snapshot_builder::strings::copied);
    b_.add_exemplars(exemplars_);
    b_.set_strings(snapshot_builder::strings::borrowed);
  }

  /// A high-resolution histogram, exported as a summary: its quantiles from
  /// the native buckets of every stripe.
  void emit_summary(const histogram_layout& layout, const series_state& s, std::span<const label_view> labels) {
    native_.read(s.exponential_stripes, layout.scheme);
    quantiles_.clear();
    for (double q : layout.quantiles) quantiles_.push_back({q, native_.quantile(q)});
    b_.add_summary_series(labels, quantiles_, sum_f64(s.cells + histogram_buckets::sum_cell), native_.total(),
                          s.created_seconds);
  }

  /// A native histogram: its native buckets, at most max_buckets of them,
  /// and its explicit buckets, or else classic buckets at powers of two.
  void emit_native(const histogram_layout& layout, const series_state& s, std::span<const label_view> labels) {
    native_.read(s.exponential_stripes, layout.scheme);
    std::uint64_t total = native_.total();
    if (layout.classic) {
      buckets_.clear();
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= layout.bounds.size(); ++i) {
        cumulative += sum_u64(s.cells + histogram_buckets::first_bucket_cell + i);
        const double bound = i < layout.bounds.size() ? layout.bounds[i] : std::numeric_limits<double>::infinity();
        buckets_.push_back({bound, cumulative});
      }
      // Both counts are torn reads of the same values; the classic one is the count.
      total = std::min(total, cumulative);
      buckets_.back().cumulative_count = total;
    } else {
      native_.classic_buckets(layout.scheme.zero_threshold, buckets_);
    }
    native_.coarsen(layout.export_schema, layout.max_buckets);
    native_histogram_snapshot native;
    native_.to_snapshot(layout.scheme.zero_threshold, native, native_spans_, native_bucket_counts_);
    b_.add_native_histogram_series(labels, native, buckets_, sum_f64(s.cells + histogram_buckets::sum_cell), total,
                                   s.created_seconds);
    add_exemplars_of(s, buckets_);
  }

  /// The values of `f`'s callback series, outside the family's lock: a
  /// callback may take locks of its own. One that throws, or returns what its
  /// type cannot hold, costs its own series, not the scrape.
  void call_callbacks(family_state& f) {
    std::lock_guard lock(core_.callback_mutex_);
    for (series_state* s : callbacks_) {
      auto it = core_.callbacks_.find(s);
      if (it == core_.callbacks_.end()) continue;
      double v;
      try {
        v = it->second();
      } catch (...) {
        // Ordering: relaxed; a statistic.
        f.callback_errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (f.kind == value_kind::float_counter && !(v >= 0)) {
        // Ordering: relaxed; a statistic.
        f.refused.values.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      b_.add_series(labels_of(f, *s), number::floating(v));
    }
  }

  /// One of obs's own counter families, one series per source.
  template <class Counts>
  void own_family(std::string_view name, std::string_view help, std::string_view label, const Counts& counts) {
    if (counts.empty()) return;
    b_.add_family(name, metric_type::counter, help);
    for (const auto& [source, n] : counts) {
      const label_view l{label, source};
      b_.add_series({&l, 1}, number::integer(n));
    }
  }

  registry_core& core_;
  snapshot_builder b_{snapshot_builder::strings::borrowed};
  std::shared_ptr<std::vector<series_state*>> pinned_;
  std::vector<family_entry> families_;
  std::chrono::nanoseconds idle_timeout_{0};
  std::vector<std::pair<std::string, std::uint64_t>> registration_errors_;
  const std::int64_t now_ns_ = registry_core::steady_ns();

  // Per-family scratch, reused.
  std::vector<series_state*> callbacks_;
  std::array<label_view, max_label_keys> label_buffer_;
  std::vector<bucket_count> buckets_;
  std::vector<quantile_value> quantiles_;
  native_counts native_;
  std::vector<std::array<char, exemplar_slot::text_capacity>> exemplar_texts_;
  std::vector<label_view> exemplar_labels_;
  std::vector<exemplar_snapshot> exemplars_;
  std::vector<bucket_span> native_spans_;
  std::vector<std::uint64_t> native_bucket_counts_;

  // For obs's own families, by metric: label sets sent to overflow, values
  // refused, callbacks and collectors that failed.
  counts_by_name overflowed_, rejected_, rejected_exemplars_, collect_errors_;
  std::vector<std::pair<std::string, std::uint64_t>> collector_errors_;
};

OBS_INLINE obs::snapshot take_snapshot(registry_core& core) {
  snapshot_walk walk(core);
  walk.read_families();
  walk.run_collectors();
  walk.add_own_families();
  return std::move(walk).finish();
}

}  // namespace detail
OBS_NAMESPACE_END
