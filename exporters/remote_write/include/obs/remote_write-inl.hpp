// The definitions of what obs/remote_write.hpp declares: the WriteRequest
// encoder (protozero), snappy compression, and the pusher's thread, which
// sends over Boost.Beast.
//
// Header-only, obs/remote_write.hpp includes this file; with
// OBS_COMPILED_LIB, exporters/remote_write/src/remote_write.cpp compiles it
// once into the obs::remote_write library.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <protozero/pbf_writer.hpp>
#include <protozero/types.hpp>
#include <protozero/varint.hpp>
#include <snappy.h>

#include "obs/counter.hpp"
#include "obs/detail/config.hpp"
#include "obs/detail/exposition_numbers.hpp"
#include "obs/detail/native_buckets.hpp"
#include "obs/error.hpp"
#include "obs/gauge.hpp"
#include "obs/registry.hpp"
#include "obs/remote_write.hpp"
#include "obs/snapshot.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

// Field numbers of prompb/remote.proto and prompb/types.proto.
namespace prompb {
enum write_request : protozero::pbf_tag_type { timeseries = 1, metadata = 3 };
enum time_series : protozero::pbf_tag_type { labels = 1, samples = 2, exemplars = 3, histograms = 4 };
enum label : protozero::pbf_tag_type { name = 1, value = 2 };
enum sample : protozero::pbf_tag_type { sample_value = 1, sample_timestamp = 2 };
enum exemplar : protozero::pbf_tag_type { exemplar_labels = 1, exemplar_value = 2, exemplar_timestamp = 3 };
enum histogram : protozero::pbf_tag_type {
  count_int = 1, sum = 3, schema = 4, zero_threshold = 5, zero_count_int = 6, negative_spans = 8,
  negative_deltas = 9, positive_spans = 11, positive_deltas = 12, histogram_timestamp = 15
};
enum metadata : protozero::pbf_tag_type { metadata_type = 1, family_name = 2, help = 4, unit = 5 };
// MetricMetadata.MetricType
enum metric_type_value : std::int32_t { counter = 1, gauge = 2, histogram_type = 3, summary = 5, info = 6 };
}  // namespace prompb

/// Length-delimited fields written whole, their length known before their
/// bytes, with protozero's varints: a protozero nested writer reserves room
/// for its length and moves the message back when the length needs less,
/// which, with each sample's labels sorted anew, was most of what a sample
/// cost. https://protobuf.dev/programming-guides/encoding/
namespace remote_write_wire {

/// The key of a length-delimited field.
constexpr char length_delimited_key(protozero::pbf_tag_type field) noexcept {
  return static_cast<char>((field << 3) | static_cast<std::uint32_t>(protozero::pbf_wire_type::length_delimited));
}

inline std::size_t varint_size(std::uint64_t v) noexcept {
  return static_cast<std::size_t>(protozero::length_of_varint(v));
}

inline char* put_varint(char* p, std::uint64_t v) noexcept { return p + protozero::add_varint_to_buffer(p, v); }

/// A double as fixed64: little-endian, whatever the machine's order.
inline char* put_fixed64(char* p, double v) noexcept {
  const auto bits = std::bit_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(bits >> (8 * i));
  return p;
}

inline char* put_bytes(char* p, std::string_view bytes) noexcept {
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());  // an empty view's data may be null
  return p + bytes.size();
}

/// The size of a Label field whose name and value take these many bytes.
inline std::size_t label_size(std::size_t name, std::size_t value) noexcept {
  const std::size_t label = 2 + varint_size(name) + name + varint_size(value) + value;
  return 1 + varint_size(label) + label;
}

/// Writes the Label field `field`: `name`, and `value` then `value_suffix`
/// as one string; returns its end.
inline char* put_label(char* p, protozero::pbf_tag_type field, std::string_view name, std::string_view value,
                       std::string_view value_suffix = {}) noexcept {
  const std::size_t value_size = value.size() + value_suffix.size();
  *p++ = length_delimited_key(field);
  p = put_varint(p, 2 + varint_size(name.size()) + name.size() + varint_size(value_size) + value_size);
  *p++ = length_delimited_key(prompb::name);
  p = put_varint(p, name.size());
  p = put_bytes(p, name);
  *p++ = length_delimited_key(prompb::value);
  p = put_varint(p, value_size);
  return put_bytes(put_bytes(p, value), value_suffix);
}

/// Appends what put_label writes to `out`.
inline void append_label(std::string& out, protozero::pbf_tag_type field, std::string_view name,
                         std::string_view value, std::string_view value_suffix = {}) {
  const std::size_t at = out.size();
  out.resize(at + label_size(name.size(), value.size() + value_suffix.size()));
  put_label(out.data() + at, field, name, value, value_suffix);
}

}  // namespace remote_write_wire

/// Builds WriteRequests series by series, starting a new request when the
/// next series would pass the sample limit.
///
/// A series' samples differ only in `__name__` (`x_bucket`, `x_sum`, ...),
/// one extra label (`le`, `quantile`) and the value, so the encoder sorts
/// and encodes a series' other labels (external ones included) once, then
/// writes each sample as copies of prepared bytes: the `__name__` fields
/// once per family, the `le` and `quantile` fields once per bucket layout.
class remote_write_encoder {
 public:
  explicit remote_write_encoder(const remote_write::encode_options& o) : o_(o) {
    // Every sample carries the same timestamp field (varint, wire type 0).
    timestamp_field_[0] = static_cast<char>(prompb::sample_timestamp << 3);
    timestamp_field_size_ = static_cast<std::size_t>(
        remote_write_wire::put_varint(timestamp_field_ + 1, static_cast<std::uint64_t>(o.timestamp_ms)) -
        timestamp_field_);
  }

  void add_family(const family_snapshot& f) {
    static constexpr std::string_view suffixes[] = {"", "_bucket", "_sum", "_count"};
    for (std::size_t i = 0; i < std::size(suffixes); ++i) {
      names_[i].clear();
      remote_write_wire::append_label(names_[i], prompb::labels, "__name__", f.name, suffixes[i]);
    }
    for (const series_snapshot& s : f.series) add_series(f, s);
    // Metadata goes with the request that holds the family's last series.
    protozero::pbf_writer request(current().bytes);
    protozero::pbf_writer m(request, prompb::metadata);
    m.add_enum(prompb::metadata_type, metadata_type(f.type));
    m.add_string(prompb::family_name, f.name.data(), f.name.size());
    if (!f.help.empty()) m.add_string(prompb::help, f.help.data(), f.help.size());
    if (!f.unit.empty()) m.add_string(prompb::unit, f.unit.data(), f.unit.size());
  }

  std::vector<remote_write::write_request> finish() && {
    if (!requests_.empty() && requests_.back().samples == 0 && requests_.back().bytes.empty()) requests_.pop_back();
    return std::move(requests_);
  }

 private:
  /// Which `__name__` field of the family's a sample takes.
  enum name_kind : std::size_t { plain, bucket, sum, count };
  /// A label of a sample, and where it comes from: the index of the
  /// series' label, then of the external label, or one of these two.
  static constexpr std::size_t name_index = std::size_t(-1), extra_index = std::size_t(-2);
  struct sorted_label {
    std::string_view name, value;
    std::size_t index;
  };

  static std::int32_t metadata_type(metric_type t) {
    switch (t) {
      case metric_type::counter: return prompb::counter;
      case metric_type::gauge: return prompb::gauge;
      case metric_type::histogram: return prompb::histogram_type;
      case metric_type::summary: return prompb::summary;
      case metric_type::info: return prompb::info;
    }
    return prompb::gauge;
  }

  remote_write::write_request& current() {
    if (requests_.empty()) requests_.emplace_back();
    return requests_.back();
  }

  /// The request to add `samples` more to: the current one, or a new one,
  /// with room for as many bytes as the last took.
  remote_write::write_request& room_for(std::size_t samples) {
    remote_write::write_request& r = current();
    if (r.samples > 0 && r.samples + samples > o_.max_samples_per_request) {
      const std::size_t expected = r.bytes.size() + r.bytes.size() / 8;
      requests_.emplace_back().bytes.reserve(expected);
    }
    return requests_.back();
  }

  void add_series(const family_snapshot& f, const series_snapshot& s) {
    const std::size_t series_samples = s.buckets.size() + s.quantiles.size() +
                                       (f.type == metric_type::histogram || f.type == metric_type::summary ? 2 : 1) +
                                       (o_.native_histograms && s.native ? 1 : 0);
    remote_write::write_request& r = room_for(series_samples);
    r.samples += series_samples;
    std::string& out = r.bytes;
    switch (f.type) {
      case metric_type::counter:
        sort_labels(s, {});
        put_sample(out, names_[plain], {}, s.value.as_double(), s.exemplars);
        return;
      case metric_type::gauge:
      case metric_type::info:
        sort_labels(s, {});
        put_sample(out, names_[plain], {}, s.value.as_double(), {});
        return;
      case metric_type::histogram: {
        sort_labels(s, "le");
        prepare_extra("le", s.buckets, [](const bucket_count& b) { return b.upper_bound; });
        std::size_t e = 0;  // exemplars ascend by value, as buckets do
        for (std::size_t i = 0; i < s.buckets.size(); ++i) {
          const std::size_t first = e;
          while (e < s.exemplars.size() && s.exemplars[e].value <= s.buckets[i].upper_bound) ++e;
          put_sample(out, names_[bucket], extra_field(i), static_cast<double>(s.buckets[i].cumulative_count),
                     s.exemplars.subspan(first, e - first));
        }
        if (o_.native_histograms && s.native) put_native(out, s);
        break;
      }
      case metric_type::summary:
        sort_labels(s, "quantile");
        prepare_extra("quantile", s.quantiles, [](const quantile_value& q) { return q.quantile; });
        for (std::size_t i = 0; i < s.quantiles.size(); ++i)
          put_sample(out, names_[plain], extra_field(i), s.quantiles[i].value, {});
        break;
    }
    put_sample(out, names_[sum], {}, s.sum, {});
    put_sample(out, names_[count], {}, static_cast<double>(s.count), {});
  }

  /// Encodes the labels of `s`'s samples but `__name__` and `extra_name`,
  /// sorted (the external labels it lacks included), into `labels_`, and
  /// notes where the two go.
  void sort_labels(const series_snapshot& s, std::string_view extra_name) {
    namespace wire = remote_write_wire;
    if (!same_label_names(s, extra_name)) sort_order(s, extra_name);
    std::size_t size = 0;
    for (const std::size_t i : order_) {
      if (i == name_index || i == extra_index) continue;
      const label_view l = label_at(s, i);
      size += wire::label_size(l.name.size(), l.value.size());
    }
    labels_.resize(size);
    char* const begin = labels_.data();
    char* p = begin;
    for (const std::size_t i : order_) {
      if (i == name_index) name_at_ = static_cast<std::size_t>(p - begin);
      else if (i == extra_index) extra_at_ = static_cast<std::size_t>(p - begin);
      else p = wire::put_label(p, prompb::labels, label_at(s, i).name, label_at(s, i).value);
    }
  }

  /// The label `order_` numbers `i`: the series' own, then the external ones.
  label_view label_at(const series_snapshot& s, std::size_t i) const {
    if (i < s.labels.size()) return s.labels[i];
    const auto& [name, value] = o_.external_labels[i - s.labels.size()];
    return {name, value};
  }

  /// Whether `s` has the label names of the series `order_` was sorted for:
  /// the order depends on the names alone, which a family's series share.
  bool same_label_names(const series_snapshot& s, std::string_view extra_name) const {
    if (!order_reusable_ || extra_name != order_extra_ || s.labels.size() != order_names_.size()) return false;
    for (std::size_t i = 0; i < s.labels.size(); ++i)
      if (s.labels[i].name != order_names_[i]) return false;
    return true;
  }

  /// Sorts the label names of `s`, `__name__`, `extra_name` and the external
  /// labels `s` lacks into `order_`.
  void sort_order(const series_snapshot& s, std::string_view extra_name) {
    sorted_.clear();
    sorted_.push_back({"__name__", {}, name_index});
    for (std::size_t i = 0; i < s.labels.size(); ++i) sorted_.push_back({s.labels[i].name, s.labels[i].value, i});
    if (!extra_name.empty()) sorted_.push_back({extra_name, {}, extra_index});
    for (std::size_t i = 0; i < o_.external_labels.size(); ++i) {
      const std::string_view name = o_.external_labels[i].first;
      if (std::none_of(s.labels.begin(), s.labels.end(), [&](const label_view& l) { return l.name == name; }))
        sorted_.push_back({name, o_.external_labels[i].second, s.labels.size() + i});
    }
    std::sort(sorted_.begin(), sorted_.end(), [](const sorted_label& a, const sorted_label& b) {
      return a.name != b.name ? a.name < b.name : a.value < b.value;
    });
    order_.clear();
    order_reusable_ = true;
    for (std::size_t i = 0; i < sorted_.size(); ++i) {
      order_.push_back(sorted_[i].index);
      // A name twice (no registry makes one) is ordered by value: not reusable.
      if (i > 0 && sorted_[i].name == sorted_[i - 1].name) order_reusable_ = false;
    }
    order_extra_ = extra_name;
    order_names_.clear();
    for (const label_view& l : s.labels) order_names_.push_back(l.name);
  }

  /// Encodes the `name` labels (`le`, `quantile`) of `items`, spelled as
  /// text 0.0.4 spells them, unless the last series had the same values: a
  /// family's series mostly share one bucket layout.
  template <class Item, class Value>
  void prepare_extra(std::string_view name, std::span<const Item> items, Value value) {
    bool same = extra_name_ == name && extra_values_.size() == items.size();
    // Bit for bit: -0 and 0 are spelled differently.
    for (std::size_t i = 0; same && i < items.size(); ++i)
      same = std::bit_cast<std::uint64_t>(value(items[i])) == extra_values_[i];
    if (same) return;
    extra_name_ = name;
    extra_values_.clear();
    extra_fields_.clear();
    extra_ends_.clear();
    char number[number_buffer_size];
    for (const Item& item : items) {
      const double v = value(item);
      extra_values_.push_back(std::bit_cast<std::uint64_t>(v));
      const std::string_view text(number, static_cast<std::size_t>(format_go_float(v, number) - number));
      remote_write_wire::append_label(extra_fields_, prompb::labels, name, text);
      extra_ends_.push_back(extra_fields_.size());
    }
  }

  std::string_view extra_field(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : extra_ends_[i - 1];
    return std::string_view(extra_fields_).substr(begin, extra_ends_[i] - begin);
  }

  /// Appends a TimeSeries of the series `sort_labels` prepared: its labels,
  /// with `name_field` and `extra_field` (none when empty) in their places,
  /// then room for `tail` bytes of its other fields, which the caller
  /// writes at the pointer returned.
  char* open_series(std::string& out, std::string_view name_field, std::string_view extra_field, std::size_t tail) {
    namespace wire = remote_write_wire;
    const std::size_t body = labels_.size() + name_field.size() + extra_field.size() + tail;
    const std::size_t at = out.size();
    out.resize(at + 1 + wire::varint_size(body) + body);
    char* p = out.data() + at;
    *p++ = wire::length_delimited_key(prompb::timeseries);
    p = wire::put_varint(p, body);
    const std::string_view labels = labels_;
    std::size_t done = 0;
    auto insert = [&](std::size_t where, std::string_view field) {
      p = wire::put_bytes(wire::put_bytes(p, labels.substr(done, where - done)), field);
      done = where;
    };
    if (extra_field.empty()) {
      insert(name_at_, name_field);
    } else if (name_at_ <= extra_at_) {
      insert(name_at_, name_field);
      insert(extra_at_, extra_field);
    } else {
      insert(extra_at_, extra_field);
      insert(name_at_, name_field);
    }
    return wire::put_bytes(p, labels.substr(done));
  }

  void put_sample(std::string& out, std::string_view name_field, std::string_view extra_field, double value,
                  std::span<const exemplar_snapshot> exemplars) {
    namespace wire = remote_write_wire;
    exemplars_.clear();
    if (!exemplars.empty()) {
      protozero::pbf_writer ts(exemplars_);
      for (const exemplar_snapshot& e : exemplars) {
        protozero::pbf_writer x(ts, prompb::exemplars);
        for (const label_view& l : e.labels) {
          protozero::pbf_writer label(x, prompb::exemplar_labels);
          label.add_string(prompb::name, l.name.data(), l.name.size());
          label.add_string(prompb::value, l.value.data(), l.value.size());
        }
        x.add_double(prompb::exemplar_value, e.value);
        x.add_int64(prompb::exemplar_timestamp,
                    e.timestamp ? static_cast<std::int64_t>(*e.timestamp * 1000) : o_.timestamp_ms);
      }
    }
    const std::size_t sample = 9 + timestamp_field_size_;  // value (key and fixed64), timestamp
    char* p = open_series(out, name_field, extra_field, 1 + wire::varint_size(sample) + sample + exemplars_.size());
    *p++ = wire::length_delimited_key(prompb::samples);
    p = wire::put_varint(p, sample);
    constexpr auto fixed64 = static_cast<std::uint32_t>(protozero::pbf_wire_type::fixed64);
    *p++ = static_cast<char>((prompb::sample_value << 3) | fixed64);
    p = wire::put_fixed64(p, value);
    p = wire::put_bytes(p, std::string_view(timestamp_field_, timestamp_field_size_));
    wire::put_bytes(p, exemplars_);
  }

  /// A native histogram, on the series named as the family.
  void put_native(std::string& out, const series_snapshot& s) {
    const native_histogram_snapshot& n = *s.native;
    tail_.clear();
    {
      protozero::pbf_writer ts(tail_);
      protozero::pbf_writer h(ts, prompb::histograms);
      h.add_uint64(prompb::count_int, s.count);
      h.add_double(prompb::sum, s.sum);
      h.add_sint32(prompb::schema, n.schema);
      h.add_double(prompb::zero_threshold, n.zero_threshold);
      h.add_uint64(prompb::zero_count_int, n.zero_count);
      put_native_buckets(h, prompb::negative_spans, prompb::negative_deltas, native_deltas::packed, n.negative_spans,
                         n.negative_counts);
      put_native_buckets(h, prompb::positive_spans, prompb::positive_deltas, native_deltas::packed, n.positive_spans,
                         n.positive_counts);
      h.add_int64(prompb::histogram_timestamp, o_.timestamp_ms);
    }
    remote_write_wire::put_bytes(open_series(out, names_[plain], {}, tail_.size()), tail_);
  }

  const remote_write::encode_options& o_;
  std::vector<remote_write::write_request> requests_;
  char timestamp_field_[11];  ///< key and varint of every sample's timestamp
  std::size_t timestamp_field_size_ = 0;
  std::string names_[4];  ///< the family's `__name__` fields, by name_kind

  // The order of the last sorted series' labels, by sort_order.
  std::vector<sorted_label> sorted_;
  std::vector<std::size_t> order_;  ///< indexes as sorted_label's
  std::vector<std::string_view> order_names_;  ///< its label names, in the snapshot
  std::string_view order_extra_;
  bool order_reusable_ = false;

  // The series being written, from sort_labels and prepare_extra.
  std::string labels_;  ///< its fixed labels' fields, in order
  std::size_t name_at_ = 0, extra_at_ = 0;  ///< where in labels_ the name and extra fields go
  std::string_view extra_name_;  ///< "le" or "quantile" (literals), or none yet
  std::vector<std::uint64_t> extra_values_;  ///< the values extra_fields_ spell, as bits
  std::string extra_fields_;
  std::vector<std::size_t> extra_ends_;

  // Scratch of one sample.
  std::string exemplars_, tail_;
};

}  // namespace detail

namespace remote_write {

OBS_INLINE std::vector<write_request> encode(const snapshot& s, const encode_options& options) {
  detail::remote_write_encoder encoder(options);
  for (const family_snapshot& f : s.families()) encoder.add_family(f);
  return std::move(encoder).finish();
}

OBS_INLINE std::string compress(std::string_view bytes) {
  std::string out;
  snappy::Compress(bytes.data(), bytes.size(), &out);
  return out;
}

namespace detail_push {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using clock = std::chrono::steady_clock;

/// Where a pusher sends: `http[s]://host[:port][/path]` taken apart.
struct endpoint {
  std::string host, port, target;
  bool tls = false;
  std::string display;  ///< the url, for logs and the `endpoint` label
};

inline endpoint parse_url(std::string_view url) {
  auto invalid = [&](const char* why) {
    return error(errc::invalid_argument, "remote_write url '" + std::string(url) + "': " + why);
  };
  const bool tls = url.starts_with("https://");
  if (!tls && !url.starts_with("http://")) throw invalid("expected http[s]://host[:port][/path]");
  std::string_view rest = url.substr(tls ? 8 : 7);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  endpoint e;
  e.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) throw invalid("credentials go in basic_auth_user/password");
  std::string_view host = authority, port = tls ? "443" : "80";
  if (authority.starts_with('[')) {  // [IPv6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw invalid("unclosed '['");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw invalid("expected ':' after ']'");
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw invalid("no host");
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw invalid("the port is not a number");
  e.host = std::string(host);
  e.port = std::string(port);
  e.tls = tls;
  e.display = std::string(url);
  return e;
}

/// A compressed WriteRequest waiting to be sent.
struct batch {
  std::string body;
  std::size_t samples;
};

enum class outcome { sent, refused, retry };

}  // namespace detail_push

struct pusher::state {
  using clock = detail_push::clock;

  state(registry& r, options opts)
      : reg(r), o(std::move(opts)), ep(detail_push::parse_url(o.url)),
        sent(counter_of(r, "obs_remote_write_samples_sent_total", "Samples the receiver accepted.")),
        failed(counter_of(r, "obs_remote_write_samples_failed_total",
                          "Samples the receiver refused (4xx but 429); not retried.")),
        dropped(counter_of(r, "obs_remote_write_samples_dropped_total",
                           "Samples dropped, oldest first, from a full queue or at the shutdown deadline.")),
        retries(counter_of(r, "obs_remote_write_retries_total", "Requests sent again after a 5xx, a 429 or no answer.")),
        queue_bytes_gauge(gauge_of(r, "obs_remote_write_queue_bytes", "bytes", "Compressed bytes waiting to be sent.")),
        queue_samples_gauge(gauge_of(r, "obs_remote_write_queue_samples", "", "Samples waiting to be sent.")),
        last_success(gauge_of(r, "obs_remote_write_last_success_timestamp_seconds", "seconds",
                              "When the receiver last accepted a request, in seconds since the Unix epoch.")),
        rng(std::random_device{}()), tls_context(boost::asio::ssl::context::tls_client) {
    if (ep.tls) {
      // The receiver's certificate must chain to `ca_file`, or to the
      // system's authorities, and name the url's host.
      tls_context.set_verify_mode(boost::asio::ssl::verify_peer);
      if (o.ca_file.empty()) tls_context.set_default_verify_paths();
      else tls_context.load_verify_file(o.ca_file);
    }
    if (o.interval.count() <= 0 || o.max_samples_per_request == 0 || o.min_backoff.count() <= 0 ||
        o.max_backoff < o.min_backoff)
      throw error(errc::invalid_argument, "remote_write: interval, max_samples_per_request and backoffs must be positive");
  }

  counter counter_of(registry& r, std::string_view name, std::string_view help) {
    r.describe_counter(name, "", help);
    const label_view l{"endpoint", ep.display};
    return r.counter(name, std::span<const label_view>(&l, 1));
  }
  gauge gauge_of(registry& r, std::string_view name, std::string_view unit, std::string_view help) {
    r.describe_gauge(name, unit, help);
    const label_view l{"endpoint", ep.display};
    return r.gauge(name, std::span<const label_view>(&l, 1));
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  /// Snapshots the registry into the queue, dropping the oldest requests
  /// beyond its bounds.
  void enqueue_snapshot() {
    const snapshot snap = reg.snapshot();
    const encode_options eo{o.external_labels, now_ms(), o.native_histograms, o.max_samples_per_request};
    for (write_request& r : encode(snap, eo)) {
      detail_push::batch b{compress(r.bytes), r.samples};
      queue_bytes += b.body.size();
      queue_samples += b.samples;
      queue.push_back(std::move(b));
    }
    while (!queue.empty() && (queue_bytes > o.max_queue_bytes || queue_samples > o.max_queue_samples)) {
      dropped.increment(queue.front().samples);
      pop();
    }
    update_gauges();
  }

  void pop() {
    queue_bytes -= queue.front().body.size();
    queue_samples -= queue.front().samples;
    queue.pop_front();
  }

  void update_gauges() {
    queue_bytes_gauge.set(static_cast<double>(queue_bytes));
    queue_samples_gauge.set(static_cast<double>(queue_samples));
  }

  /// Runs an asynchronous operation to its end (or the stream's timeout).
  template <class Start>
  boost::system::error_code run(Start start) {
    boost::system::error_code result = boost::asio::error::would_block;
    start([&](boost::system::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  /// Sends the queue's first request once, within `timeout`.
  detail_push::outcome send(std::chrono::milliseconds timeout) {
    namespace bhttp = detail_push::bhttp;
    const detail_push::batch& b = queue.front();
    bhttp::request<bhttp::string_body> req(bhttp::verb::post, ep.target, 11);
    req.set(bhttp::field::host, ep.host);
    req.set(bhttp::field::user_agent, "obs-remote-write");
    req.set(bhttp::field::content_type, "application/x-protobuf");
    req.set(bhttp::field::content_encoding, "snappy");
    req.set("X-Prometheus-Remote-Write-Version", "0.1.0");
    if (!o.bearer_token.empty()) req.set(bhttp::field::authorization, "Bearer " + o.bearer_token);
    else if (!o.basic_auth_user.empty()) req.set(bhttp::field::authorization, "Basic " + basic_credentials());
    req.body() = b.body;
    req.prepare_payload();
    boost::system::error_code ec;
    if (!stream && !tls_stream) {
      if (const std::string why = connect(timeout); !why.empty()) return failure("connect", why);
    }
    lowest_layer().expires_after(timeout);
    ec = run([&](auto handler) {
      if (tls_stream) bhttp::async_write(*tls_stream, req, handler);
      else bhttp::async_write(*stream, req, handler);
    });
    if (ec) return failure("write", ec.message());
    bhttp::response<bhttp::string_body> res;
    buffer.clear();
    ec = run([&](auto handler) {
      if (tls_stream) bhttp::async_read(*tls_stream, buffer, res, handler);
      else bhttp::async_read(*stream, buffer, res, handler);
    });
    if (ec) return failure("read", ec.message());
    if (!res.keep_alive()) close();
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300) return detail_push::outcome::sent;
    const std::string body = res.body().substr(0, 200);
    if (status == 429 || status >= 500) return failure("status " + std::to_string(status), body);
    std::fprintf(stderr, "obs remote_write %s: refused with %u, %zu samples not retried: %s\n", ep.display.c_str(),
                 status, b.samples, body.c_str());
    return detail_push::outcome::refused;
  }

  boost::beast::tcp_stream& lowest_layer() { return tls_stream ? boost::beast::get_lowest_layer(*tls_stream) : *stream; }

  void close() {
    stream.reset();
    tls_stream.reset();
  }

  /// Connects (and, for https, shakes hands); empty, or why it failed.
  std::string connect(std::chrono::milliseconds timeout) {
    boost::system::error_code ec;
    detail_push::asio::ip::tcp::resolver resolver(io);
    const auto addresses = resolver.resolve(ep.host, ep.port, ec);
    if (ec) return ec.message();
    if (!ep.tls) {
      stream.emplace(io);
      stream->expires_after(timeout);
      ec = run([&](auto handler) { stream->async_connect(addresses, handler); });
      if (ec) close();
      return ec ? ec.message() : std::string();
    }
    tls_stream.emplace(io, tls_context);
    // Server Name Indication, and the name the certificate must carry.
    if (!SSL_set_tlsext_host_name(tls_stream->native_handle(), ep.host.c_str())) {
      close();
      return "cannot set the TLS server name";
    }
    tls_stream->set_verify_callback(boost::asio::ssl::host_name_verification(ep.host));
    lowest_layer().expires_after(timeout);
    ec = run([&](auto handler) { lowest_layer().async_connect(addresses, handler); });
    if (!ec) {
      lowest_layer().expires_after(timeout);
      ec = run([&](auto handler) { tls_stream->async_handshake(boost::asio::ssl::stream_base::client, handler); });
    }
    if (ec) {
      close();
      return ec.message();
    }
    return {};
  }

  detail_push::outcome failure(const std::string& what, const std::string& detail) {
    close();
    // One line per failing streak, not per retry.
    if (!failing) std::fprintf(stderr, "obs remote_write %s: %s: %s; retrying\n", ep.display.c_str(), what.c_str(), detail.c_str());
    failing = true;
    return detail_push::outcome::retry;
  }

  std::string basic_credentials() const {
    namespace base64 = boost::beast::detail::base64;
    const std::string plain = o.basic_auth_user + ":" + o.basic_auth_password;
    std::string out(base64::encoded_size(plain.size()), '\0');
    out.resize(base64::encode(out.data(), plain.data(), plain.size()));
    return out;
  }

  /// A wait drawn from [wait / 2, wait], so that many pushers that
  /// failed together do not retry together.
  std::chrono::milliseconds jittered(std::chrono::milliseconds wait) {
    std::uniform_int_distribution<std::int64_t> d(wait.count() / 2, wait.count());
    return std::chrono::milliseconds(d(rng));
  }

  /// Sends queued requests until the queue is empty, a retry is due later,
  /// or `until` passes. Returns when the next retry is due, if one is.
  ///
  /// The first request is always tried, with the full timeout, unless
  /// `deadline` says `until` bounds every request (shutdown): a snapshot that
  /// takes longer than the interval must not keep the queue from draining.
  std::optional<clock::time_point> send_queue(clock::time_point until, bool deadline) {
    for (bool first = true; !queue.empty() && ((first && !deadline) || clock::now() < until); first = false) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
      const auto timeout =
          first && !deadline ? o.timeout : std::min(o.timeout, std::max(left, std::chrono::milliseconds(1)));
      switch (send(timeout)) {
        case detail_push::outcome::sent:
          sent.increment(queue.front().samples);
          last_success.set(static_cast<double>(now_ms()) / 1000);
          failing = false;
          backoff = o.min_backoff;
          pop();
          break;
        case detail_push::outcome::refused:
          failed.increment(queue.front().samples);
          pop();
          break;
        case detail_push::outcome::retry: {
          retries.increment();
          const auto wait = jittered(backoff);
          backoff = std::min(backoff * 2, o.max_backoff);
          update_gauges();
          return clock::now() + wait;
        }
      }
    }
    update_gauges();
    return std::nullopt;
  }

  void loop() {
    clock::time_point next_push = clock::now();
    std::optional<clock::time_point> retry_at;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        const clock::time_point wake = retry_at ? std::min(*retry_at, next_push) : next_push;
        wakeup.wait_until(lock, wake, [&] { return stopping || push_requested; });
        if (stopping) break;
        if (push_requested || clock::now() >= next_push) {
          push_requested = false;
          lock.unlock();
          enqueue_snapshot();
          next_push = std::max(next_push + o.interval, clock::now());
        }
      }
      if (retry_at && clock::now() < *retry_at) continue;
      // The next snapshot is due at next_push: send until then.
      retry_at = send_queue(next_push, false);
    }
    // Once more, then what is queued, within the deadline.
    const clock::time_point deadline = clock::now() + o.shutdown_deadline;
    enqueue_snapshot();
    while (!queue.empty() && clock::now() < deadline) {
      if (const std::optional<clock::time_point> again = send_queue(deadline, true))
        std::this_thread::sleep_until(std::min(*again, deadline));
    }
    for (; !queue.empty(); pop()) dropped.increment(queue.front().samples);
    update_gauges();
  }

  registry& reg;
  const options o;
  const detail_push::endpoint ep;
  counter sent, failed, dropped, retries;
  gauge queue_bytes_gauge, queue_samples_gauge, last_success;
  std::mt19937_64 rng;

  // The pusher thread's alone.
  std::deque<detail_push::batch> queue;
  std::size_t queue_bytes = 0, queue_samples = 0;
  std::chrono::milliseconds backoff = o.min_backoff;
  bool failing = false;
  boost::asio::io_context io;
  boost::asio::ssl::context tls_context;
  std::optional<boost::beast::tcp_stream> stream;  ///< http
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream;  ///< https
  boost::beast::flat_buffer buffer;

  // Shared with the owner.
  std::mutex mutex;
  std::condition_variable wakeup;
  bool stopping = false, push_requested = false;
  std::thread thread;
};

OBS_INLINE pusher::pusher(registry& reg, options o) : state_(std::make_unique<state>(reg, std::move(o))) {
  state_->thread = std::thread([s = state_.get()] { s->loop(); });
}

OBS_INLINE pusher::~pusher() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wakeup.notify_one();
  state_->thread.join();
}

OBS_INLINE void pusher::push_now() {
  {
    std::lock_guard lock(state_->mutex);
    state_->push_requested = true;
  }
  state_->wakeup.notify_one();
}

}  // namespace remote_write
OBS_NAMESPACE_END
