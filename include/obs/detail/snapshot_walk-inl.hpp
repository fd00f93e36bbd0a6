// The definition of detail::take_snapshot (registry_core.hpp): the walk over
// a registry's families that makes an obs::snapshot, with idle expiry,
// callbacks, collectors and obs's own families (obs_cardinality_overflow_total
// and the rest). Part of core-inl.hpp.
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
#include "obs/detail/exposed_names.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/gauge_cells.hpp"
#include "obs/detail/registry_core.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/snapshot_check.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

OBS_INLINE obs::snapshot take_snapshot(registry_core& core) {
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
    std::lock_guard lock(core.mutex);
    families.reserve(core.families.size());
    for (auto& [name, f] : core.families) {
      auto d = core.descriptions.find(name);
      families.push_back({f.get(), d == core.descriptions.end() ? nullptr : d->second});
      series_estimate += f->series_count.load(std::memory_order_relaxed) + 1;
    }
    idle_timeout = core.idle_timeout;
    registration_errors.assign(core.registration_errors.begin(), core.registration_errors.end());
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
    for (std::size_t i = 0; i < s.value_count; ++i) buffer[i] = {f.keys[i], s.value_data[i]};
    return std::span<const label_view>(buffer.data(), s.value_count);
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
        return detail::double_bits(detail::gauge_read(&s));
      }
      case value_kind::histogram: {
        std::uint64_t total = 0;
        if (f.layout.high_resolution) {
          for (std::size_t i = 0; i < f.layout.high_resolution_cells(); ++i)
            total += s.high_resolution_buckets[i].load(std::memory_order_relaxed);
        } else {
          for (std::size_t i = 0; i <= f.layout.bounds.size(); ++i)
            total += detail::sum_u64(s.cells + detail::histogram_buckets::first_bucket_cell + i);
        }
        return total ^ detail::double_bits(detail::sum_f64(s.cells + detail::histogram_buckets::sum_cell));
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
      case value_kind::gauge: b.add_series(labels, number::floating(detail::gauge_read(&s))); return;
      case value_kind::info: b.add_series(labels, number::integer(1)); return;
      case value_kind::histogram: break;
    }
    const detail::histogram_layout& layout = f.layout;
    double sum = detail::sum_f64(s.cells + detail::histogram_buckets::sum_cell);
    std::uint64_t total = 0;
    if (!layout.high_resolution) {
      buckets.clear();
      for (std::size_t i = 0; i <= layout.bounds.size(); ++i) {
        total += detail::sum_u64(s.cells + detail::histogram_buckets::first_bucket_cell + i);
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
    for (double q : layout.quantiles) quantiles.push_back({q, layout.high_resolution_quantile(counts, total, q)});
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
      std::lock_guard lock(core.callback_mutex);
      for (detail::series_state* s : callbacks) {
        auto it = core.callbacks.find(s);
        if (it == core.callbacks.end()) continue;
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
    std::lock_guard lock(core.callback_mutex);
    if (!core.collectors.empty()) {
      b.set_strings(snapshot_builder::strings::copied);
      std::set<std::string, std::less<>> claimed;  // names earlier collectors' families expose
      for (auto& [id, c] : core.collectors) {
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
              std::lock_guard core_lock(core.mutex);
              ok = !core.exposed.contains(n) && !claimed.contains(n) &&
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
  retain_core(&core);
  b.keep_alive(std::shared_ptr<const void>(&core, [](registry_core* c) { release_core(c); }));
  return std::move(b).build();
}

}  // namespace detail
OBS_NAMESPACE_END
