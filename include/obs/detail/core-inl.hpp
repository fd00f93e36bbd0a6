// The out-of-line definitions of the core: what the light headers (the
// facade, the handles, the families) declare with OBS_INLINE. Included by
// every public core header in header-only mode; compiled once, by
// src/obs.cpp, in the obs::obs library.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "obs/detail/cell_arena.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/exemplar_store.hpp"
#include "obs/detail/family_state.hpp"
#include "obs/detail/gauge_cells.hpp"
#include "obs/detail/histogram_layout.hpp"
#include "obs/detail/lookup_cache.hpp"
#include "obs/detail/registration.hpp"
#include "obs/detail/registry_core.hpp"
#include "obs/detail/series_state.hpp"
#include "obs/detail/slot_table.hpp"
#include "obs/detail/snapshot_walk-inl.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/error.hpp"
#include "obs/counter.hpp"
#include "obs/histogram.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// Returns this thread's exclusive slot to the table when the thread exits.
struct slot_owner {
  std::size_t slot;
  ~slot_owner() {
    slot_table& table = slot_table::instance();
    table.release(slot);
    // Recording from a later thread_local destructor still works, through
    // the shared slot.
    tls_slot_offset = ~static_cast<std::intptr_t>(table.exclusive_slots() * page_cells);
  }
};

OBS_INLINE std::intptr_t assign_thread_slot() noexcept {
  slot_table& table = slot_table::instance();
  std::size_t slot = table.acquire();
  std::intptr_t offset = static_cast<std::intptr_t>(slot * page_cells);
  if (slot == table.exclusive_slots()) {
    offset = ~offset;
  } else {
    thread_local slot_owner owner{slot};
  }
  tls_slot_offset = offset;
  return offset;
}

OBS_INLINE std::size_t total_slots() noexcept { return slot_table::instance().total_slots(); }

OBS_INLINE written_slots slots_to_read() noexcept {
  const slot_table& table = slot_table::instance();
  return {table.high_water(), table.exclusive_slots()};
}

OBS_INLINE void retain_core(registry_core* core) noexcept { core->add_reference(); }

OBS_INLINE void release_core(registry_core* core) noexcept {
  if (core->drop_reference()) delete core;
}

// --- Gauges (gauge_cells.hpp) ---------------------------------------------------

OBS_INLINE void gauge_add_slow(series_cells* s, double v) noexcept {
  // Ordering: relaxed; an add that reads an older sequence than a racing
  // set's is an add before that set.
  std::uint64_t sequence = s->gauge_sequence.load(std::memory_order_relaxed);
  if (!(sequence & gauge_added))
    sequence = s->gauge_sequence.fetch_or(gauge_added, std::memory_order_relaxed) | gauge_added;
  const std::uint64_t epoch = gauge_epoch(sequence);
  const std::intptr_t offset = current_slot_offset();
  if (offset >= 0) {
    gauge_add_to_slot(s->cells + offset, epoch, v);
  } else {
    series_write_lock lock(s);
    gauge_add_to_slot(s->cells + ~offset, epoch, v);
  }
  gauge_touch(s);
}

OBS_INLINE void gauge_set_new_epoch(series_cells* s, double v) noexcept {
  // Ordering: a seqlock. Claiming the odd sequence comes before the base
  // (release on the base), the even one after it (release), so a reader that
  // saw the same even sequence before and after loading the base
  // (gauge_read) has the base of that sequence.
  std::uint64_t sequence = s->gauge_sequence.load(std::memory_order_relaxed);
  for (;;) {
    if (sequence % 2 == 1) {
      // Another set is in progress: this one takes effect just before that
      // one ends, and is overwritten by it. Waiting out its two stores makes
      // a read after this set returns see the winner's value; racing sets
      // then cost a load each, not a contended compare-exchange.
      // Ordering: relaxed; gauge_read acquires what the winner published.
      while (s->gauge_sequence.load(std::memory_order_relaxed) == sequence) {
      }
      break;
    }
    const std::uint64_t seen = sequence;
    if (s->gauge_sequence.compare_exchange_weak(sequence, sequence + 1, std::memory_order_relaxed)) {
      s->gauge_base.store(v, std::memory_order_release);
      s->gauge_sequence.store(sequence + 2, std::memory_order_release);
      break;
    }
    // A whole set began and ended since `seen`: this one takes effect just
    // before it ended. Otherwise (a spurious failure) try again.
    if (sequence != seen && sequence % 2 == 0) break;
  }
  gauge_touch(s);
}

OBS_INLINE double gauge_read(const series_cells* s) noexcept {
  std::uint64_t sequence;
  double base;
  for (;;) {
    // Ordering: acquire on both loads of the seqlock (see gauge_set).
    sequence = s->gauge_sequence.load(std::memory_order_acquire);
    base = s->gauge_base.load(std::memory_order_acquire);
    if (sequence % 2 == 0 && s->gauge_sequence.load(std::memory_order_relaxed) == sequence) break;
  }
  const std::uint64_t epoch = gauge_epoch(sequence);
  const written_slots slots = slots_to_read();
  double value = base;
  auto add_delta_of = [&](std::size_t slot) {
    const series_cells::cell* cells = s->cells + slot * page_cells;
    // Ordering: acquire on the epoch, release in gauge_add_to_slot.
    if (cells[gauge_epoch_cell].load(std::memory_order_acquire) == epoch)
      value += bits_double(cells[gauge_delta_cell].load(std::memory_order_relaxed));
  };
  for (std::size_t slot = 0; slot < slots.exclusive; ++slot) add_delta_of(slot);
  add_delta_of(slots.shared);
  return value;
}

/// Records any value into any histogram from any thread, or refuses it: the
/// general path the two faster ones fall back to (a value refused, a
/// thread's first record, the shared slot, a value the explicit lookup
/// cannot place, a native bucket's first value).
[[gnu::noinline]] inline void record_histogram_any(series_cells* s, series_cells::cell* cells,
                                                   const histogram_buckets* layout, double v) noexcept {
  const std::intptr_t offset = current_slot_offset();
  if (!(v >= layout->min_observation) || (layout->exponential && !record_native(s, layout, v, offset))) {
    // Ordering: relaxed; a statistic.
    s->refused->values.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (layout->classic) add_u64_at(cells + histogram_buckets::first_bucket_cell + layout->bucket_index(v), offset, 1);
  add_f64_at(cells + histogram_buckets::sum_cell, offset, v);
}

OBS_INLINE void record_histogram_slow(series_cells* s, series_cells::cell* cells, const histogram_buckets* layout,
                                      double v, std::uint64_t j) noexcept {
  // Every record of a native histogram comes here. Its common case, this
  // thread's own stripe and a bucket counted before, with explicit buckets
  // or without, checks all before it writes and calls nothing, so it needs
  // no stack frame: any other case is a tail call. An explicit-only layout
  // has no stripes, so the stripe check sends all of its values on too.
  const std::intptr_t offset = tls_slot_offset;
  const std::size_t stripe = static_cast<std::size_t>(offset) / page_cells;  // a slot < 0 comes out huge
  if (stripe >= layout->scheme.stripes || !(v >= layout->min_observation)) [[unlikely]]
    return record_histogram_any(s, cells, layout, v);
  exponential_scheme::cell* count = existing_count(s->exponential_stripes[stripe], layout->scheme.locate(v));
  if (!count) [[unlikely]] return record_histogram_any(s, cells, layout, v);
  series_cells::cell* slot = cells + offset;
  // This thread is the stripe's and the slot's only writer. A count grows
  // by one per record and cannot reach 2^64.
  if (layout->classic) {
    if (j >= layout->lookup_limit) [[unlikely]] return record_histogram_any(s, cells, layout, v);
    single_writer_increment(slot[histogram_buckets::first_bucket_cell + layout->bucket_at(v, j)]);
  }
  single_writer_increment(*count);
  single_writer_add_f64(slot[histogram_buckets::sum_cell], v);
}

/// Keeps exemplar `e` of value `v` in slot `slot` of `s`'s store, made with
/// `slot_count` slots (a ring if `ring`) by the series' first exemplar.
OBS_INLINE void keep_exemplar(series_cells* s, double v, std::size_t slot, std::uint32_t slot_count, bool ring,
                              const exemplar& e) noexcept {
  char encoded[exemplar_slot::text_capacity];
  const std::size_t size = encode_exemplar(e, encoded);
  // Ordering: acquire; pairs with install_once's release.
  exemplar_store* store = size == invalid_exemplar ? nullptr : s->exemplars.load(std::memory_order_acquire);
  if (!store && size != invalid_exemplar)
    store = install_once(
        s->exemplars, [&] { return exemplar_store::create(slot_count, ring); },
        [](exemplar_store* made) { exemplar_store::destroy(made); });
  if (!store) {
    // Ordering: relaxed; a statistic.
    s->refused->exemplars.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Ordering: relaxed; the ring only spreads writers over its slots.
  if (ring) slot = store->next.fetch_add(1, std::memory_order_relaxed) % store->slot_count;
  const double seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  store->slots()[slot].write(v, seconds, encoded, size);
}

OBS_INLINE void keep_counter_exemplar(series_cells* s, double v, const exemplar& e) noexcept {
  keep_exemplar(s, v, 0, 1, false, e);
}

OBS_INLINE void keep_histogram_exemplar(series_cells* s, double v, const exemplar& e) noexcept {
  const histogram_buckets* layout = s->layout;
  if (!(v >= layout->min_observation)) return;  // not recorded, so no exemplar of it either
  if (!layout->classic && static_cast<const histogram_layout*>(layout)->summary) {
    // A summary has no buckets to carry exemplars.
    // Ordering: relaxed; a statistic.
    s->refused->exemplars.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (layout->classic)
    keep_exemplar(s, v, layout->bucket_index(v), static_cast<std::uint32_t>(layout->bound_count + 1), false, e);
  else
    keep_exemplar(s, v, 0, exemplar_store::ring_slots, true, e);
}

OBS_INLINE void free_series(series_cells* cells) noexcept {
  series_state* s = state_of(cells);
  registry_core* core = s->core;
  if (s->cells) core->free_cells(s->cells, s->cell_count);
  series_state::destroy(s);
  release_core(core);
}

OBS_INLINE series_cells* unbound_series() noexcept {
  static series_cells* unbound = [] {
    static const histogram_layout* empty_layout = new histogram_layout(histogram_layout::explicit_buckets({}));
    static refusals refused_nowhere;
    auto* s = new series_cells;
    s->layout = empty_layout;
    s->refused = &refused_nowhere;
    // One page of cells for every slot, as a cell arena lays them out, and
    // as lazily committed.
    s->cells = allocate_zeroed_cells(total_slots() * page_cells);
    return s;
  }();
  return unbound;
}

/// Drops the references this thread's lookup cache holds when the thread
/// exits; the first fill of the cache creates it.
struct lookup_cache_owner {
  ~lookup_cache_owner() {
    for (lookup_cache::entry& e : tls_lookup_cache.entries) {
      if (e.series) release(e.series);
      e = {};
    }
  }
};

OBS_INLINE void own_lookup_cache() noexcept {
  thread_local lookup_cache_owner owner;
  (void)owner;
}

OBS_INLINE series_cells* find_series_slow(registry_core* core, family_state& family, std::uint64_t family_id,
                                          std::span<const std::string_view> given, std::uint64_t given_hash,
                                          lookup_cache::entry& e) {
  if (given.size() != family.keys.size())
    throw error(errc::label_keys_mismatch, "metric '" + family.name + "' takes " +
                                               std::to_string(family.keys.size()) + " label values, got " +
                                               std::to_string(given.size()));
  // Series are found by their sanitised values, the ones exported: two
  // spellings that export alike are one series.
  std::span<const std::string_view> values = given;
  std::uint64_t hash = given_hash;
  std::array<std::string, max_label_keys> sanitised;
  std::array<std::string_view, max_label_keys> sanitised_views;
  if (!std::all_of(given.begin(), given.end(), [](std::string_view v) { return is_valid_utf8(v); })) {
    for (std::size_t i = 0; i < given.size(); ++i) sanitised_views[i] = sanitised[i] = valid_utf8(given[i]);
    values = {sanitised_views.data(), given.size()};
    hash = hash_label_values(values);
  }
  std::unique_lock lock(family.mutex);
  series_state* found = family.find_locked(values, hash);
  if (!found) {
    // Not cached: once series are removed, new label sets get in again.
    if (family_state::is_overflow_label_set(values)) return core->overflow_locked(family);
    // A family without keys has one label set, the empty one, which is
    // also the overflow series': it never overflows.
    if (family.series.size() >= family.max_series && !family.keys.empty()) {
      if (family.overflow_sets.size() < max_remembered_overflow_sets) {
        if (family.overflow_sets.insert(hash).second) ++family.overflow_label_sets;
      } else {
        ++family.overflow_label_sets;
      }
      return core->overflow_locked(family);
    }
    found = core->create_series(family, values, hash);
    try {
      family.attach_locked(found);
    } catch (...) {
      release(found);
      throw;
    }
  }
  found->idle = false;
  own_lookup_cache();
  retain(found);
  if (e.series) release(e.series);
  e = {family_id, given_hash, found};
  return found;
}

OBS_INLINE std::string_view family_name(const family_state& family) noexcept { return family.name; }

OBS_INLINE std::span<const std::string_view> family_keys(const family_state& family) noexcept {
  return family.keys.span();
}

OBS_INLINE std::size_t remove_series(registry_core& core, std::string_view name,
                                     std::span<const label_view> labels, bool exact) {
  family_state* f = core.find_family(name);
  if (!f) return 0;
  // Index of each given label among the family's keys.
  std::array<std::size_t, max_label_keys> index;
  if (labels.size() > max_label_keys || (exact && labels.size() != f->keys.size())) return 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto k = std::find(f->keys.begin(), f->keys.end(), labels[i].name);
    if (k == f->keys.end()) return 0;
    index[i] = static_cast<std::size_t>(k - f->keys.begin());
  }
  // Series hold sanitised values; so must what they are compared with.
  std::array<std::string, max_label_keys> wanted;
  for (std::size_t i = 0; i < labels.size(); ++i) wanted[i] = valid_utf8(labels[i].value);
  std::lock_guard family_lock(f->mutex);
  std::vector<series_state*> doomed;
  f->series.for_each([&](series_state* s) {
    bool match = true;
    for (std::size_t i = 0; match && i < labels.size(); ++i) match = s->value_data[index[i]] == wanted[i];
    if (match) doomed.push_back(s);
  });
  for (series_state* s : doomed) f->detach_locked(s);
  return doomed.size();
}

OBS_INLINE registry_core& global_core() noexcept {
  static registry_core* global = new registry_core;
  return *global;
}

OBS_INLINE series_cells* register_series(value_kind kind, std::string_view name,
                                         std::span<const label_view> labels) noexcept {
  registry_core& core = global_core();
  try {
    return core.series(name, kind, labels);
  } catch (const std::exception& e) {
    core.report_registration_error(name, e);
    return unbound_series();
  }
}

OBS_INLINE family_registration register_family(value_kind kind, std::string_view name,
                                               std::span<const std::string_view> keys) noexcept {
  auto on = [&](registry_core& core) {
    family_state& f = core.family(name, kind, keys);
    return family_registration{&f, f.id, core_ref(&core)};
  };
  try {
    return on(global_core());
  } catch (const std::exception& e) {
    global_core().report_registration_error(name, e);
  }
  try {
    // The family keeps this core alive; no snapshot ever reads it.
    core_ref sink = core_ref::adopt(new registry_core);
    return on(*sink);
  } catch (...) {
    std::terminate();  // out of memory twice over: nothing sensible is left to do
  }
}

OBS_INLINE void describe_global(metric_type type, std::string_view name, std::string_view unit,
                                std::string_view help) {
  global_core().describe(type, name, unit, help);
}

}  // namespace detail
OBS_NAMESPACE_END
