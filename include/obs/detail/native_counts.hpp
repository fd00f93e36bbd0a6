// detail::native_counts: the counts of an exponential histogram series
// (exponential_buckets.hpp), summed over its stripes, as snapshots export
// them: native buckets and spans, coarser schemas, the classic buckets a text
// exposition shows, and the quantiles of a high-resolution histogram.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "obs/detail/config.hpp"
#include "obs/detail/exponential_buckets.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class native_counts {
 public:
  /// A populated bucket: its native index at the current schema, its count.
  using bucket = std::pair<std::int64_t, std::uint64_t>;

  /// Reads a series' stripes (`scheme.stripes + 1` pointers, any null).
  void read(const std::atomic<exponential_stripe*>* stripes, const exponential_scheme& scheme) {
    schema_ = scheme.schema;
    zero_ = 0;
    positive_.clear();
    negative_.clear();
    const std::size_t octaves = scheme.octaves();
    page_.assign(scheme.octave_buckets, 0);
    for (std::size_t page = 0; page < 2 * octaves; ++page) {
      std::fill(page_.begin(), page_.end(), 0);
      bool seen = false;
      for (std::size_t k = 0; k <= scheme.stripes; ++k) {
        // Ordering: acquire; pairs with install_once's release.
        exponential_stripe* s = stripes[k].load(std::memory_order_acquire);
        if (!s) continue;
        if (page == 0) zero_ += s->zero.load(std::memory_order_relaxed);  // Ordering: relaxed; may be torn.
        const exponential_stripe::cell* counts = s->pages()[page].load(std::memory_order_acquire);
        if (!counts) continue;
        seen = true;
        // Ordering: relaxed; a snapshot may be torn across buckets.
        for (std::size_t b = 0; b < page_.size(); ++b) page_[b] += counts[b].load(std::memory_order_relaxed);
      }
      if (!seen) continue;
      const std::int64_t octave = scheme.min_octave + static_cast<std::int64_t>(page % octaves);
      std::vector<bucket>& side = page < octaves ? positive_ : negative_;
      for (std::size_t b = 0; b < page_.size(); ++b)
        if (page_[b]) side.emplace_back((octave << scheme.schema) + static_cast<std::int64_t>(b) + 1, page_[b]);
    }
  }

  int schema() const noexcept { return schema_; }
  std::uint64_t zero_count() const noexcept { return zero_; }
  std::span<const bucket> positive() const noexcept { return positive_; }
  std::span<const bucket> negative() const noexcept { return negative_; }
  std::uint64_t total() const noexcept {
    std::uint64_t n = zero_;
    for (const bucket& b : positive_) n += b.second;
    for (const bucket& b : negative_) n += b.second;
    return n;
  }

  /// Halves the resolution until the schema is at most `schema` and at most
  /// `max_buckets` buckets are populated (or the schema is -4, the coarsest):
  /// bucket i of schema s - 1 is buckets 2i - 1 and 2i of schema s merged.
  void coarsen(int schema, std::size_t max_buckets) {
    while (schema_ > -4 && (schema_ > schema || positive_.size() + negative_.size() > max_buckets)) {
      halve(positive_);
      halve(negative_);
      --schema_;
    }
  }

  /// Fills `native` with the buckets read, as spans into `spans` and
  /// `counts`, which must stay alive as long as `native` is read.
  void to_snapshot(double zero_threshold, native_histogram_snapshot& native, std::vector<bucket_span>& spans,
                   std::vector<std::uint64_t>& counts) const {
    spans.clear();
    counts.clear();
    const std::size_t positive_spans = add_spans(positive_, spans, counts);
    add_spans(negative_, spans, counts);
    native.schema = schema_;
    native.zero_threshold = zero_threshold;
    native.zero_count = zero_;
    native.positive_spans = std::span<const bucket_span>(spans).first(positive_spans);
    native.negative_spans = std::span<const bucket_span>(spans).subspan(positive_spans);
    native.positive_counts = std::span<const std::uint64_t>(counts).first(positive_.size());
    native.negative_counts = std::span<const std::uint64_t>(counts).subspan(positive_.size());
  }

  /// Classic buckets for formats without native ones, exact as read (call
  /// it before coarsen): `zero_threshold` (the negatives and the zero
  /// bucket), every power of two from the lowest to the highest populated
  /// octave's end, then +Inf.
  void classic_buckets(double zero_threshold, std::vector<bucket_count>& out) const {
    out.clear();
    std::uint64_t cumulative = zero_;
    for (const bucket& b : negative_) cumulative += b.second;
    out.push_back({zero_threshold, cumulative});
    std::int64_t octave = positive_.empty() ? 0 : (positive_.front().first - 1) >> schema_;
    for (const bucket& b : positive_) {
      const std::int64_t its_octave = (b.first - 1) >> schema_;  // (2^o, 2^(o+1)]
      for (; octave < its_octave; ++octave) out.push_back({std::ldexp(1.0, static_cast<int>(octave) + 1), cumulative});
      cumulative += b.second;
    }
    if (!positive_.empty()) out.push_back({std::ldexp(1.0, static_cast<int>(octave) + 1), cumulative});
    out.push_back({std::numeric_limits<double>::infinity(), cumulative});
  }

  /// Quantile `q` of the non-negative values read, by nearest rank: the
  /// midpoint of the bucket holding it (0 for the zero bucket); NaN if none.
  double quantile(double q) const noexcept {
    const std::uint64_t total = this->total();
    if (total == 0) return std::numeric_limits<double>::quiet_NaN();
    const auto rank = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))), 1);
    std::uint64_t seen = zero_;
    if (seen >= rank) return 0;
    const double per_octave = std::ldexp(1.0, schema_);
    for (const bucket& b : positive_) {
      seen += b.second;
      if (seen >= rank) {
        const double upper = std::exp2(static_cast<double>(b.first) / per_octave);
        const double lower = std::exp2(static_cast<double>(b.first - 1) / per_octave);
        return (lower + upper) / 2;
      }
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

 private:
  static void halve(std::vector<bucket>& side) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < side.size(); ++i) {
      const std::int64_t index = (side[i].first + 1) >> 1;  // ceil(i / 2), for negative i too
      if (out > 0 && side[out - 1].first == index) side[out - 1].second += side[i].second;
      else side[out++] = {index, side[i].second};
    }
    side.resize(out);
  }

  static std::size_t add_spans(const std::vector<bucket>& side, std::vector<bucket_span>& spans,
                               std::vector<std::uint64_t>& counts) {
    const std::size_t first = spans.size();
    std::int64_t next = 0;  // the index after the previous span
    for (std::size_t i = 0; i < side.size(); ++i) {
      const std::int64_t index = side[i].first;
      if (i == 0 || index != next) spans.push_back({static_cast<std::int32_t>(i == 0 ? index : index - next), 0});
      ++spans.back().length;
      next = index + 1;
      counts.push_back(side[i].second);
    }
    return spans.size() - first;
  }

  int schema_ = 0;
  std::uint64_t zero_ = 0;
  std::vector<bucket> positive_, negative_;
  std::vector<std::uint64_t> page_;
};

}  // namespace detail
OBS_NAMESPACE_END
