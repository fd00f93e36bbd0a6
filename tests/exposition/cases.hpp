// Hand-built snapshots shared by the exporter golden tests and the
// exposition corpus that promtool and the OpenMetrics parser check, so the
// real tools see exactly the inputs the golden tests pin down.
#pragma once

#include <clocale>
#include <cmath>
#include <cstdint>
#include <limits>
#include <locale>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "obs/snapshot.hpp"

namespace obs_test {

inline constexpr double inf = std::numeric_limits<double>::infinity();
inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// Quotes, backslashes, newlines and multi-byte UTF-8 in help and labels.
inline obs::snapshot escaping() {
  obs::snapshot_builder b;
  b.add_family("escape_value", obs::metric_type::gauge,
               "Path \"C:\\tmp\" with\nnewline; Gr\xC3\xB6\xC3\x9F" "e \xE2\x9C\x93");
  b.add_series({{"path", "C:\\dir\\\"q\"\nend"}, {"word", "\xE6\x97\xA5\xE6\x9C\xAC \xC3\xBC"}},
               obs::number::integer(1));
  b.add_series({{"path", "plain"}, {"word", ""}}, obs::number::floating(0.5));
  return std::move(b).build();
}

/// +Inf, -Inf, NaN and ordinary doubles as gauge values.
inline obs::snapshot special_values() {
  obs::snapshot_builder b;
  b.add_family("probe_value", obs::metric_type::gauge, "Odd values.");
  b.add_series({{"case", "a_pos_inf"}}, obs::number::floating(inf));
  b.add_series({{"case", "b_neg_inf"}}, obs::number::floating(-inf));
  b.add_series({{"case", "c_nan"}}, obs::number::floating(nan));
  b.add_series({{"case", "d_tenth"}}, obs::number::floating(0.1));
  b.add_series({{"case", "e_negative"}}, obs::number::floating(-2.5));
  b.add_series({{"case", "f_huge"}}, obs::number::floating(1e22));
  b.add_series({{"case", "g_tiny"}}, obs::number::floating(1.5e-7));
  b.add_series({{"case", "h_whole"}}, obs::number::floating(3.0));
  return std::move(b).build();
}

/// Two histogram series with a unit, odd bounds and `_created`.
inline obs::snapshot histogram() {
  obs::snapshot_builder b;
  b.add_family("request_duration_seconds", obs::metric_type::histogram, "Request latency.",
               "seconds");
  // Added POST first: the snapshot sorts series by label value.
  b.add_histogram_series({{"method", "POST"}}, {{0.005, 0}, {0.1, 1}, {1, 1}, {1e6, 2}}, 2.5, 2,
                         1700000000.25);
  b.add_histogram_series({{"method", "GET"}}, {{0.005, 1}, {0.1, 3}, {1, 4}, {1e6, 4}}, 1.75, 5,
                         1700000000.0);
  return std::move(b).build();
}

/// Negative bucket bounds: OpenMetrics leaves out `_sum` and `_count`.
inline obs::snapshot negative_buckets() {
  obs::snapshot_builder b;
  b.add_family("temperature_celsius", obs::metric_type::histogram, "Readings.", "celsius");
  b.add_histogram_series({}, {{-10, 1}, {0, 2}, {10, 3}}, -12.5, 3);
  return std::move(b).build();
}

/// Integers a double cannot hold.
inline obs::snapshot big_integers() {
  obs::snapshot_builder b;
  b.add_family("sent_bytes_total", obs::metric_type::counter, "Bytes sent.", "bytes");
  b.add_series({{"peer", "a"}}, obs::number::integer((std::uint64_t{1} << 53) + 1));
  b.add_series({{"peer", "b"}}, obs::number::integer(std::numeric_limits<std::uint64_t>::max()));
  return std::move(b).build();
}

/// A family that has metadata but no series yet.
inline obs::snapshot no_series() {
  obs::snapshot_builder b;
  b.add_family("queue_depth", obs::metric_type::gauge, "Jobs waiting.");
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({}, obs::number::integer(7));
  return std::move(b).build();
}

/// A summary with quantiles, and one without labels.
inline obs::snapshot summary() {
  obs::snapshot_builder b;
  b.add_family("rpc_latency_seconds", obs::metric_type::summary, "RPC latency.", "seconds");
  b.add_summary_series({{"service", "auth"}}, {{0.5, 0.012}, {0.9, 0.05}, {0.99, 0.25}}, 17.5,
                       1000, 1600000000.5);
  b.add_summary_series({}, {{0.5, 1}}, 3, 3);
  return std::move(b).build();
}

/// An info family (labels carry the data, the value is 1) and a plain gauge
/// with a unit.
inline obs::snapshot info_and_units() {
  obs::snapshot_builder b;
  b.add_family("build_info", obs::metric_type::info, "Build facts.");
  b.add_series({{"revision", "abc123"}, {"version", "1.2.3"}}, obs::number::integer(1));
  b.add_family("heap_bytes", obs::metric_type::gauge, "Heap in use.", "bytes");
  b.add_series({}, obs::number::integer(4096));
  // The unit is not the name's suffix: no UNIT line may be written.
  b.add_family("uptime", obs::metric_type::gauge, "Time since start.", "seconds");
  b.add_series({}, obs::number::floating(12.5));
  return std::move(b).build();
}

/// Counters with `_created`, one registered without `_total`. Prometheus
/// 0.0.4 writes names as registered, which promtool's lint would flag, so
/// this case is checked against OpenMetrics only.
inline obs::snapshot counters_created() {
  obs::snapshot_builder b;
  b.add_family("events", obs::metric_type::counter, "Events seen.");
  b.add_series({{"kind", "x"}}, obs::number::integer(4), 1700000000.5);
  b.add_family("processed_bytes_total", obs::metric_type::counter, "Bytes processed.", "bytes");
  b.add_series({}, obs::number::integer(1024), 1700000001.0);
  b.add_series({{"stage", "b"}}, obs::number::floating(2.5));
  return std::move(b).build();
}

/// Exemplars: on a counter, and on classic histogram buckets, one of them
/// the `+Inf` bucket, with and without a timestamp.
inline obs::snapshot exemplars() {
  obs::snapshot_builder b;
  b.add_family("orders_total", obs::metric_type::counter, "Orders taken.");
  const obs::label_view trace[] = {{"trace_id", "abc\"1\\"}};
  b.add_series({{"shop", "east"}}, obs::number::integer(3));
  b.add_exemplars({{trace, 1, 1700000000.5}});
  b.add_series({{"shop", "west"}}, obs::number::integer(0));
  b.add_family("order_value_dollars", obs::metric_type::histogram, "Order values.");
  const obs::label_view small[] = {{"trace_id", "s1"}};
  const obs::label_view big[] = {{"trace_id", "b2"}, {"user", "u"}};
  b.add_histogram_series({}, {{1, 1}, {10, 1}, {100, 3}}, 270.25, 4);
  b.add_exemplars({{small, 0.25, std::nullopt}, {big, 120, 1700000001.0}});
  return std::move(b).build();
}

/// A native histogram (schema 3, the values 2^(k/8)): negative and positive
/// buckets in two spans each, a zero bucket, classic buckets beside it, an
/// exemplar; and one with no observations and a zero threshold of 0.
inline obs::snapshot native_histogram() {
  obs::snapshot_builder b;
  b.add_family("rpc_duration_seconds", obs::metric_type::histogram, "RPC durations.", "seconds");
  // Positive buckets 1, 2 and 5, 6 (values 2^(1/8), 2^(2/8), 2^(5/8),
  // 2^(6/8)), negative buckets 0 and 3 (values -1, -2^(3/8)).
  const obs::bucket_span positive_spans[] = {{1, 2}, {2, 2}};
  const std::uint64_t positive_counts[] = {2, 1, 0, 4};
  const obs::bucket_span negative_spans[] = {{0, 1}, {2, 1}};
  const std::uint64_t negative_counts[] = {3, 1};
  obs::native_histogram_snapshot native;
  native.schema = 3;
  native.zero_threshold = 0.001;
  native.zero_count = 2;
  native.positive_spans = positive_spans;
  native.positive_counts = positive_counts;
  native.negative_spans = negative_spans;
  native.negative_counts = negative_counts;
  const obs::bucket_count classic[] = {{0, 6}, {1, 6}, {2, 13}};
  const obs::label_view auth[] = {{"service", "auth"}};
  b.add_native_histogram_series(auth, native, classic, 5.75, 13);
  const obs::label_view trace[] = {{"trace_id", "f00d"}};
  b.add_exemplars({{trace, 1.5, 1700000002.25}});
  obs::native_histogram_snapshot empty;
  const obs::label_view idle[] = {{"service", "idle"}};
  b.add_native_histogram_series(idle, empty, {}, 0, 0);
  return std::move(b).build();
}

/// Many families of every type, with varied labels and values.
inline obs::snapshot big_varied() {
  obs::snapshot_builder b;
  for (int f = 0; f < 40; ++f) {
    const std::string id = std::to_string(f);
    switch (f % 5) {
      case 0:
        b.add_family("varied_" + id + "_total", obs::metric_type::counter, "Counter " + id + ".");
        for (int s = 0; s < 25; ++s)
          b.add_series({{"shard", std::to_string(s)}, {"zone", s % 2 ? "east\n\"1\"" : "west\\2"}},
                       obs::number::integer(std::uint64_t{1} << (s + 39)), 1.6e9 + s);
        break;
      case 1:
        b.add_family("varied_" + id + "_celsius", obs::metric_type::gauge, "Gauge " + id + ".",
                     "celsius");
        for (int s = 0; s < 25; ++s)
          b.add_series({{"sensor", "s" + std::to_string(s)}},
                       obs::number::floating(s == 3 ? nan : (s - 12) * 1234.5678 / 7));
        break;
      case 2: {
        b.add_family("varied_" + id + "_seconds", obs::metric_type::histogram,
                     "Histogram " + id + ".", "seconds");
        for (int s = 0; s < 10; ++s) {
          std::vector<obs::bucket_count> buckets;
          std::uint64_t cumulative = 0;
          double bound = 1e-5;
          for (int k = 0; k < 12; ++k, bound *= 10) {
            cumulative += static_cast<std::uint64_t>(k * s);
            buckets.push_back({bound, cumulative});
          }
          const std::string route = "/api/v" + std::to_string(s);
          const obs::label_view labels[] = {{"route", route}};
          b.add_histogram_series(labels, buckets, cumulative * 0.125, cumulative + 1,
                                 1.7e9 + 0.5 * s);
        }
        break;
      }
      case 3:
        b.add_family("varied_" + id + "_bytes", obs::metric_type::summary, "Summary " + id + ".",
                     "bytes");
        for (int s = 0; s < 10; ++s) {
          const std::string name = "\xC3\xA9t\xC3\xA9 " + std::to_string(s);
          const obs::label_view labels[] = {{"name", name}};
          const obs::quantile_value quantiles[] = {
              {0.5, 100.0 * s}, {0.95, 150.25 * s}, {0.999, 1e7 * s}};
          b.add_summary_series(labels, quantiles, 1e9 * s, 7 * s);
        }
        break;
      case 4:
        b.add_family("varied_" + id + "_info", obs::metric_type::info, "Info " + id + ".");
        b.add_series({{"commit", "c" + id}}, obs::number::integer(1));
        break;
    }
  }
  return std::move(b).build();
}

/// The benchmark's shape: 10,000 counter series and 1,000 histogram series
/// of 12 buckets, in 110 families.
inline obs::snapshot large() {
  obs::snapshot_builder b;
  b.reserve(11000, 22000, 13000);
  for (int f = 0; f < 100; ++f) {
    b.add_family("large_" + std::to_string(f) + "_total", obs::metric_type::counter, "Work done.");
    for (int s = 0; s < 100; ++s)
      b.add_series({{"worker", std::to_string(s)}, {"pool", "default"}},
                   obs::number::integer(static_cast<std::uint64_t>(f) * 1000003 + s));
  }
  for (int f = 0; f < 10; ++f) {
    b.add_family("large_" + std::to_string(f) + "_seconds", obs::metric_type::histogram,
                 "Latency.", "seconds");
    for (int s = 0; s < 100; ++s) {
      obs::bucket_count buckets[11];
      double bound = 0.0005;
      for (std::uint64_t k = 0; k < 11; ++k, bound *= 2.5)
        buckets[k] = {bound, k * static_cast<std::uint64_t>(s)};
      const std::string endpoint = "/v1/endpoint/" + std::to_string(s);
      const obs::label_view labels[] = {{"endpoint", endpoint}};
      b.add_histogram_series(labels, buckets, 0.25 * s, 10 * static_cast<std::uint64_t>(s) + 1);
    }
  }
  return std::move(b).build();
}

/// A named case for the corpus; `prometheus` is false when only the
/// OpenMetrics and JSON renderings are meant to be checked.
struct named_case {
  const char* name;
  obs::snapshot (*make)();
  bool prometheus = true;
};

inline const std::vector<named_case>& all_cases() {
  static const std::vector<named_case> cases = {
      {"empty", [] { return obs::snapshot(); }},
      {"escaping", escaping},
      {"special_values", special_values},
      {"histogram", histogram},
      {"big_integers", big_integers},
      {"negative_buckets", negative_buckets},
      {"no_series", no_series},
      {"summary", summary},
      {"info_and_units", info_and_units},
      {"counters_created", counters_created, false},
      {"big_varied", big_varied},
      {"exemplars", exemplars},
      {"native_histogram", native_histogram},
  };
  return cases;
}

/// A numpunct facet that writes `1.234,5`: what a German locale does to
/// locale-aware number formatting.
struct comma_numpunct : std::numpunct<char> {
  char do_decimal_point() const override { return ','; }
  char do_thousands_sep() const override { return '.'; }
  std::string do_grouping() const override { return "\3"; }
};

/// Installs a comma-decimal global C++ locale, and the German C locale when
/// the system has one, for the scope's lifetime.
class scoped_comma_locale {
 public:
  scoped_comma_locale()
      : previous_(std::locale::global(std::locale(std::locale::classic(), new comma_numpunct))),
        c_locale_set_(std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr) {}
  ~scoped_comma_locale() {
    std::locale::global(previous_);
    std::setlocale(LC_ALL, "C");
  }
  scoped_comma_locale(const scoped_comma_locale&) = delete;
  scoped_comma_locale& operator=(const scoped_comma_locale&) = delete;

  /// Whether setlocale found de_DE.UTF-8 (many containers lack it).
  bool c_locale_set() const { return c_locale_set_; }

 private:
  std::locale previous_;
  bool c_locale_set_;
};

}  // namespace obs_test
