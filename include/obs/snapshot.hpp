// obs::snapshot: a point-in-time, plain-data copy of every metric in a
// registry, and obs::snapshot_builder, which makes one.
//
// A snapshot is what every exporter reads. It never touches live atomics, so an
// exporter is a pure function `snapshot -> bytes`, and a golden test can build
// a snapshot by hand and pin the output down. To write a new exporter, walk
// `families()`; nothing else in obs needs to change:
//
//   for (const obs::family_snapshot& f : snap.families())
//     for (const obs::series_snapshot& s : f.series)
//       emit(f.name, s.labels, s.value.as_double());
//
// Order is deterministic: families sorted by name, series within a family
// sorted by label values (in the family's label-key order).
//
// Thread safety: a snapshot is immutable once built and may be read from any
// number of threads. Every string_view and span in it points into memory the
// snapshot owns or keeps alive, valid until the snapshot is destroyed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/utf8.hpp"
#include "obs/label.hpp"
#include "obs/metric_type.hpp"

OBS_NAMESPACE_BEGIN

/// A sample value: either an exact unsigned integer (u64 counters) or a double.
///
/// Integer counters stay exact past 2^53, which a double alone could not.
class number {
 public:
  constexpr number() noexcept = default;
  /// An exact integer value.
  static constexpr number integer(std::uint64_t v) noexcept {
    number n;
    n.integer_ = v;
    n.is_integer_ = true;
    return n;
  }
  /// A floating-point value (may be NaN or infinite).
  static constexpr number floating(double v) noexcept {
    number n;
    n.floating_ = v;
    return n;
  }
  constexpr bool is_integer() const noexcept { return is_integer_; }
  /// The integer value; meaningful only when is_integer().
  constexpr std::uint64_t as_integer() const noexcept { return integer_; }
  /// The value as a double (integers above 2^53 round).
  constexpr double as_double() const noexcept {
    return is_integer_ ? static_cast<double>(integer_) : floating_;
  }

 private:
  std::uint64_t integer_ = 0;
  double floating_ = 0;
  bool is_integer_ = false;
};

/// One histogram bucket: the count of observations `<= upper_bound`.
/// Counts are cumulative, as both exposition formats want them.
struct bucket_count {
  double upper_bound;
  std::uint64_t cumulative_count;
};

/// One summary quantile: `quantile` in [0, 1] and its estimated value.
struct quantile_value {
  double quantile;
  double value;
};

/// A run of consecutive native-histogram buckets, as Prometheus's
/// `BucketSpan`: the first span's `offset` is the index of its first bucket,
/// a later span's the gap after the previous span; `length` buckets follow.
struct bucket_span {
  std::int32_t offset;
  std::uint32_t length;
};

/// A native (sparse, exponential) histogram as Prometheus defines it
/// (https://prometheus.io/docs/specs/native_histograms/): with
/// `base = 2^(2^-schema)`, positive bucket `i` counts values in
/// `(base^(i-1), base^i]`, negative bucket `i` the same range negated, and the
/// zero bucket values with `|v| <= zero_threshold`. Counts are per bucket
/// (neither cumulative nor deltas); `*_counts` holds one per bucket of the
/// spans, in order.
struct native_histogram_snapshot {
  std::int32_t schema = 0;
  double zero_threshold = 0;
  std::uint64_t zero_count = 0;
  std::span<const bucket_span> positive_spans;
  std::span<const std::uint64_t> positive_counts;
  std::span<const bucket_span> negative_spans;
  std::span<const std::uint64_t> negative_counts;
};

/// An exemplar: one recorded value with the labels that say where it came
/// from (a `trace_id`), for OpenMetrics and protobuf expositions.
struct exemplar_snapshot {
  std::span<const label_view> labels;
  double value = 0;
  /// When it was recorded, in seconds since the Unix epoch; empty when unknown.
  std::optional<double> timestamp;
};

/// One series (one label set) of a family, with its values.
///
/// Which fields mean something depends on the family's type:
/// - counter, gauge, info: `value`;
/// - histogram: `buckets` (ascending, the last one is `+Inf` and equals
///   `count`), `sum`, `count`, and `native` when the histogram is native;
/// - summary: `quantiles` (ascending), `sum`, `count`.
/// Counters and histograms may carry `exemplars`: a counter at most one, a
/// histogram at most one per bucket, ascending by value; an exporter places
/// each on the first bucket whose upper bound is at or above its value.
struct series_snapshot {
  std::span<const label_view> labels;
  number value;
  std::span<const bucket_count> buckets;
  std::span<const quantile_value> quantiles;
  std::span<const exemplar_snapshot> exemplars;
  /// The native buckets of a native histogram; nullptr otherwise.
  const native_histogram_snapshot* native = nullptr;
  double sum = 0;
  std::uint64_t count = 0;
  /// When the series was created, in seconds since the Unix epoch, for
  /// OpenMetrics `_created` lines. Empty when unknown (hand-built, callbacks).
  std::optional<double> created;
};

/// One metric family: a name, its metadata and all of its series.
struct family_snapshot {
  /// The metric name as registered, e.g. `http_requests_total`. Exporters
  /// derive format-specific names (OpenMetrics drops `_total` and `_info` from
  /// the family name in its metadata lines).
  std::string_view name;
  std::string_view help;  ///< may be empty
  std::string_view unit;  ///< e.g. "seconds"; may be empty
  metric_type type = metric_type::gauge;
  std::span<const series_snapshot> series;
};

/// An immutable, self-contained copy of a registry's metrics at one moment.
class snapshot {
 public:
  snapshot() = default;
  snapshot(snapshot&&) noexcept = default;
  snapshot& operator=(snapshot&&) noexcept = default;
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;

  /// All families, sorted by name.
  std::span<const family_snapshot> families() const& noexcept { return families_; }
  // Views into a temporary snapshot would dangle: keep the snapshot in a variable.
  std::span<const family_snapshot> families() const&& = delete;

  /// The family called `name`, or nullptr. A binary search.
  const family_snapshot* find(std::string_view name) const&& = delete;
  const family_snapshot* find(std::string_view name) const& noexcept {
    auto lo = families_.begin();
    auto hi = families_.end();
    while (lo < hi) {
      auto mid = lo + (hi - lo) / 2;
      if (mid->name < name) lo = mid + 1;
      else hi = mid;
    }
    return lo != families_.end() && lo->name == name ? &*lo : nullptr;
  }

 private:
  friend class snapshot_builder;

  std::vector<family_snapshot> families_;
  std::vector<series_snapshot> series_;
  std::vector<label_view> labels_;
  std::vector<bucket_count> buckets_;
  std::vector<quantile_value> quantiles_;
  std::vector<exemplar_snapshot> exemplars_;
  std::vector<native_histogram_snapshot> natives_;
  std::vector<bucket_span> native_spans_;
  std::vector<std::uint64_t> native_counts_;
  std::vector<std::unique_ptr<char[]>> owned_strings_;
  std::vector<std::shared_ptr<const void>> keep_alive_;
};

/// Builds a snapshot one family and one series at a time.
///
/// Registries use it, and so do tests and custom collectors that need a
/// snapshot by hand:
///
///   obs::snapshot_builder b;
///   b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
///   b.add_series({{"queue", "mail"}}, obs::number::integer(3));
///   obs::snapshot s = std::move(b).build();
///
/// Strings passed in are copied (invalid UTF-8 becoming U+FFFD), unless the caller promises to keep them alive
/// (`borrowed`) for as long as the snapshot lives, e.g. by `keep_alive`.
/// Families may be added in any order; `build()` sorts them by name and their
/// series by label values.
class snapshot_builder {
 public:
  /// Whether a string argument is copied into the snapshot or referenced.
  enum class strings : std::uint8_t { copied, borrowed };

  explicit snapshot_builder(strings mode = strings::copied) : mode_(mode) {}

  /// Changes how later string arguments are kept.
  void set_strings(strings mode) noexcept { mode_ = mode; }

  /// Reserves room for about this many series, labels and buckets in total.
  void reserve(std::size_t series, std::size_t labels, std::size_t buckets) {
    s_.series_.reserve(series);
    s_.labels_.reserve(labels);
    s_.buckets_.reserve(buckets);
  }

  /// Starts a new family; the series added next belong to it.
  void add_family(std::string_view name, metric_type type, std::string_view help = {},
                  std::string_view unit = {}) {
    family_ranges_.push_back({s_.series_.size(), 0, false});
    s_.families_.push_back({keep(name), keep(help), keep(unit), type, {}});
  }

  /// Adds a counter, gauge or info series to the current family.
  void add_series(std::span<const label_view> labels, number value,
                  std::optional<double> created = std::nullopt) {
    series_snapshot& s = begin_series(labels);
    s.value = value;
    s.created = created;
  }
  void add_series(std::initializer_list<label_view> labels, number value,
                  std::optional<double> created = std::nullopt) {
    add_series(std::span<const label_view>(labels.begin(), labels.size()), value, created);
  }

  /// Adds a histogram series. `buckets` are cumulative and ascending; a final
  /// `+Inf` bucket holding `count` is appended when missing.
  void add_histogram_series(std::span<const label_view> labels,
                            std::span<const bucket_count> buckets, double sum,
                            std::uint64_t count,
                            std::optional<double> created = std::nullopt);
  void add_histogram_series(std::initializer_list<label_view> labels,
                            std::initializer_list<bucket_count> buckets, double sum,
                            std::uint64_t count,
                            std::optional<double> created = std::nullopt) {
    add_histogram_series(std::span<const label_view>(labels.begin(), labels.size()),
                         std::span<const bucket_count>(buckets.begin(), buckets.size()), sum,
                         count, created);
  }

  /// Adds a summary series with its quantiles (ascending by quantile).
  void add_summary_series(std::span<const label_view> labels,
                          std::span<const quantile_value> quantiles, double sum,
                          std::uint64_t count,
                          std::optional<double> created = std::nullopt);
  void add_summary_series(std::initializer_list<label_view> labels,
                          std::initializer_list<quantile_value> quantiles, double sum,
                          std::uint64_t count,
                          std::optional<double> created = std::nullopt) {
    add_summary_series(std::span<const label_view>(labels.begin(), labels.size()),
                       std::span<const quantile_value>(quantiles.begin(), quantiles.size()),
                       sum, count, created);
  }

  /// Adds a native histogram series: `native`'s spans and counts are copied;
  /// `buckets` are its classic buckets (cumulative, ascending), which may be
  /// empty: text formats then show only the `+Inf` bucket, as Prometheus
  /// clients do.
  void add_native_histogram_series(std::span<const label_view> labels, const native_histogram_snapshot& native,
                                   std::span<const bucket_count> buckets, double sum, std::uint64_t count,
                                   std::optional<double> created = std::nullopt);

  /// Attaches exemplars (copied) to the series added last, a counter or a
  /// histogram; see series_snapshot for their order.
  void add_exemplars(std::span<const exemplar_snapshot> exemplars);
  void add_exemplars(std::initializer_list<exemplar_snapshot> exemplars) {
    add_exemplars(std::span<const exemplar_snapshot>(exemplars.begin(), exemplars.size()));
  }

  /// Promises that the current family's series were added in label order,
  /// so build() need not sort them (registries keep that order cached).
  void series_already_sorted() noexcept { family_ranges_.back().sorted = true; }

  /// How far the builder has got, for rollback and visit_since.
  struct mark {
    std::size_t families, series, labels, buckets, quantiles, exemplars, natives, native_spans, native_counts;
  };
  mark position() const noexcept {
    return {s_.families_.size(),      s_.series_.size(),       s_.labels_.size(),
            s_.buckets_.size(),       s_.quantiles_.size(),    s_.exemplars_.size(),
            s_.natives_.size(),       s_.native_spans_.size(), s_.native_counts_.size()};
  }

  /// Drops every family and series added since `m` (a collector that failed).
  void rollback(const mark& m) {
    s_.families_.resize(m.families);
    s_.series_.resize(m.series);
    s_.labels_.resize(m.labels);
    s_.buckets_.resize(m.buckets);
    s_.quantiles_.resize(m.quantiles);
    s_.exemplars_.resize(m.exemplars);
    exemplar_ranges_.resize(m.exemplars);
    s_.natives_.resize(m.natives);
    native_ranges_.resize(m.natives);
    s_.native_spans_.resize(m.native_spans);
    s_.native_counts_.resize(m.native_counts);
    family_ranges_.resize(m.families);
    ranges_.resize(m.series);
  }

  /// Calls `visit(const family_snapshot&)` for each family added since `m`,
  /// as the snapshot will hold it but with series not yet sorted.
  template <class Visit>
  void visit_since(const mark& m, Visit visit) {
    fix_shared_spans();
    std::vector<series_snapshot> series;
    for (std::size_t i = m.families; i < s_.families_.size(); ++i) {
      const family_range& r = family_ranges_[i];
      series.assign(s_.series_.begin() + static_cast<std::ptrdiff_t>(r.series_begin),
                    s_.series_.begin() + static_cast<std::ptrdiff_t>(r.series_begin + r.series_size));
      for (std::size_t k = 0; k < r.series_size; ++k) fix_spans(series[k], ranges_[r.series_begin + k]);
      family_snapshot f = s_.families_[i];
      f.series = series;
      visit(f);
    }
  }

  /// Keeps `owner` alive as long as the snapshot, for borrowed strings.
  void keep_alive(std::shared_ptr<const void> owner) { s_.keep_alive_.push_back(std::move(owner)); }

  /// Finishes: sorts, fixes up spans, and hands the snapshot over.
  snapshot build() &&;

 private:
  struct series_ranges {
    std::size_t labels_begin, labels_size;
    std::size_t buckets_begin, buckets_size;
    std::size_t quantiles_begin, quantiles_size;
    std::size_t exemplars_begin = 0, exemplars_size = 0;
    std::size_t native = no_native;
  };
  static constexpr std::size_t no_native = static_cast<std::size_t>(-1);
  // Where an exemplar's labels and a native histogram's spans and counts lie
  // in the snapshot's vectors, which may reallocate until build().
  struct exemplar_range {
    std::size_t labels_begin, labels_size;
  };
  struct native_range {
    std::size_t spans_begin, positive_spans, negative_spans;
    std::size_t counts_begin, positive_counts, negative_counts;
  };
  struct family_range {
    std::size_t series_begin, series_size;
    bool sorted = false;
  };

  // A copied string is made valid UTF-8 on the way in, so that whatever a
  // collector or a hand-built snapshot passes, the exposition is UTF-8.
  std::string_view keep(std::string_view text) {
    if (mode_ == strings::borrowed || text.empty()) return text;
    std::string fixed;
    if (!detail::is_valid_utf8(text)) text = fixed = detail::valid_utf8(text);
    auto copy = std::make_unique<char[]>(text.size());
    std::copy(text.begin(), text.end(), copy.get());
    std::string_view view(copy.get(), text.size());
    s_.owned_strings_.push_back(std::move(copy));
    return view;
  }

  void fix_spans(series_snapshot& s, const series_ranges& r) const noexcept {
    s.labels = {s_.labels_.data() + r.labels_begin, r.labels_size};
    s.buckets = {s_.buckets_.data() + r.buckets_begin, r.buckets_size};
    s.quantiles = {s_.quantiles_.data() + r.quantiles_begin, r.quantiles_size};
    s.exemplars = {s_.exemplars_.data() + r.exemplars_begin, r.exemplars_size};
    s.native = r.native == no_native ? nullptr : &s_.natives_[r.native];
  }

  // Points exemplars and native histograms into the final vectors.
  void fix_shared_spans() noexcept {
    for (std::size_t i = 0; i < s_.exemplars_.size(); ++i)
      s_.exemplars_[i].labels = {s_.labels_.data() + exemplar_ranges_[i].labels_begin, exemplar_ranges_[i].labels_size};
    for (std::size_t i = 0; i < s_.natives_.size(); ++i) {
      const native_range& r = native_ranges_[i];
      native_histogram_snapshot& n = s_.natives_[i];
      n.positive_spans = {s_.native_spans_.data() + r.spans_begin, r.positive_spans};
      n.negative_spans = {s_.native_spans_.data() + r.spans_begin + r.positive_spans, r.negative_spans};
      n.positive_counts = {s_.native_counts_.data() + r.counts_begin, r.positive_counts};
      n.negative_counts = {s_.native_counts_.data() + r.counts_begin + r.positive_counts, r.negative_counts};
    }
  }

  series_snapshot& begin_series(std::span<const label_view> labels) {
    if (family_ranges_.empty()) add_family("unnamed", metric_type::gauge);
    series_ranges r{s_.labels_.size(), labels.size(), s_.buckets_.size(), 0,
                    s_.quantiles_.size(), 0, s_.exemplars_.size(), 0, no_native};
    for (const label_view& l : labels) s_.labels_.push_back({keep(l.name), keep(l.value)});
    ranges_.push_back(r);
    ++family_ranges_.back().series_size;
    return s_.series_.emplace_back();
  }

  strings mode_;
  snapshot s_;
  std::vector<series_ranges> ranges_;
  std::vector<exemplar_range> exemplar_ranges_;
  std::vector<native_range> native_ranges_;
  std::vector<family_range> family_ranges_;
};

inline void snapshot_builder::add_histogram_series(std::span<const label_view> labels,
                                                   std::span<const bucket_count> buckets,
                                                   double sum, std::uint64_t count,
                                                   std::optional<double> created) {
  series_snapshot& s = begin_series(labels);
  s.sum = sum;
  s.count = count;
  s.created = created;
  series_ranges& r = ranges_.back();
  s_.buckets_.insert(s_.buckets_.end(), buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().upper_bound != std::numeric_limits<double>::infinity())
    s_.buckets_.push_back({std::numeric_limits<double>::infinity(), count});
  r.buckets_size = s_.buckets_.size() - r.buckets_begin;
}

inline void snapshot_builder::add_summary_series(std::span<const label_view> labels,
                                                 std::span<const quantile_value> quantiles,
                                                 double sum, std::uint64_t count,
                                                 std::optional<double> created) {
  series_snapshot& s = begin_series(labels);
  s.sum = sum;
  s.count = count;
  s.created = created;
  series_ranges& r = ranges_.back();
  s_.quantiles_.insert(s_.quantiles_.end(), quantiles.begin(), quantiles.end());
  r.quantiles_size = quantiles.size();
}

inline void snapshot_builder::add_native_histogram_series(std::span<const label_view> labels,
                                                          const native_histogram_snapshot& native,
                                                          std::span<const bucket_count> buckets, double sum,
                                                          std::uint64_t count, std::optional<double> created) {
  add_histogram_series(labels, buckets, sum, count, created);
  native_range r{s_.native_spans_.size(), native.positive_spans.size(), native.negative_spans.size(),
                 s_.native_counts_.size(), native.positive_counts.size(), native.negative_counts.size()};
  s_.native_spans_.insert(s_.native_spans_.end(), native.positive_spans.begin(), native.positive_spans.end());
  s_.native_spans_.insert(s_.native_spans_.end(), native.negative_spans.begin(), native.negative_spans.end());
  s_.native_counts_.insert(s_.native_counts_.end(), native.positive_counts.begin(), native.positive_counts.end());
  s_.native_counts_.insert(s_.native_counts_.end(), native.negative_counts.begin(), native.negative_counts.end());
  ranges_.back().native = s_.natives_.size();
  s_.natives_.push_back({native.schema, native.zero_threshold, native.zero_count, {}, {}, {}, {}});
  native_ranges_.push_back(r);
}

inline void snapshot_builder::add_exemplars(std::span<const exemplar_snapshot> exemplars) {
  series_ranges& r = ranges_.back();
  if (r.exemplars_size == 0) r.exemplars_begin = s_.exemplars_.size();
  for (const exemplar_snapshot& e : exemplars) {
    exemplar_ranges_.push_back({s_.labels_.size(), e.labels.size()});
    for (const label_view& l : e.labels) s_.labels_.push_back({keep(l.name), keep(l.value)});
    s_.exemplars_.push_back({{}, e.value, e.timestamp});
  }
  r.exemplars_size = s_.exemplars_.size() - r.exemplars_begin;
}

inline snapshot snapshot_builder::build() && {
  // Spans are fixed up only now: until here the vectors may still reallocate.
  fix_shared_spans();
  for (std::size_t i = 0; i < s_.series_.size(); ++i) fix_spans(s_.series_[i], ranges_[i]);
  auto label_less = [](const series_snapshot& a, const series_snapshot& b) {
    return std::lexicographical_compare(
        a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end(),
        [](const label_view& x, const label_view& y) {
          return x.name != y.name ? x.name < y.name : x.value < y.value;
        });
  };
  for (std::size_t i = 0; i < s_.families_.size(); ++i) {
    const family_range& r = family_ranges_[i];
    auto first = s_.series_.begin() + static_cast<std::ptrdiff_t>(r.series_begin);
    if (!r.sorted) std::sort(first, first + static_cast<std::ptrdiff_t>(r.series_size), label_less);
    s_.families_[i].series = {s_.series_.data() + r.series_begin, r.series_size};
  }
  std::stable_sort(s_.families_.begin(), s_.families_.end(),
                   [](const family_snapshot& a, const family_snapshot& b) { return a.name < b.name; });
  return std::move(s_);
}

OBS_NAMESPACE_END
