#include "obs/remote_write.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <protozero/pbf_reader.hpp>
#include <snappy.h>

#include "obs/error.hpp"
#include "obs/registry.hpp"

namespace {

/// One decoded prometheus.TimeSeries: labels, its samples' (value, ms) and
/// its exemplars' values.
struct series {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<double, std::int64_t>> samples;
  std::vector<double> exemplars;
  std::vector<std::string> exemplar_trace_ids;
  int histograms = 0;
  std::int32_t schema = 0;
  std::vector<std::int64_t> positive_deltas;

  std::string label(std::string_view name) const {
    for (const auto& [k, v] : labels)
      if (k == name) return v;
    return {};
  }
};

/// The fields of prompb/types.proto the encoder writes, decoded.
std::vector<series> decode(const std::string& request, std::vector<std::string>* metadata_names = nullptr) {
  std::vector<series> out;
  protozero::pbf_reader r(request);
  while (r.next()) {
    if (r.tag() == 3) {  // MetricMetadata
      protozero::pbf_reader m = r.get_message();
      while (m.next()) {
        if (m.tag() == 2 && metadata_names) metadata_names->push_back(m.get_string());
        else m.skip();
      }
      continue;
    }
    REQUIRE(r.tag() == 1);  // TimeSeries
    series s;
    protozero::pbf_reader ts = r.get_message();
    while (ts.next()) {
      switch (ts.tag()) {
        case 1: {
          protozero::pbf_reader l = ts.get_message();
          std::string k, v;
          while (l.next()) {
            const bool is_name = l.tag() == 1;  // before get_string(), which moves on
            (is_name ? k : v) = l.get_string();
          }
          s.labels.emplace_back(k, v);
          break;
        }
        case 2: {
          protozero::pbf_reader sample = ts.get_message();
          double value = 0;
          std::int64_t t = 0;
          while (sample.next()) {
            if (sample.tag() == 1) value = sample.get_double();
            else t = sample.get_int64();
          }
          s.samples.emplace_back(value, t);
          break;
        }
        case 3: {
          protozero::pbf_reader e = ts.get_message();
          while (e.next()) {
            if (e.tag() == 2) {
              s.exemplars.push_back(e.get_double());
            } else if (e.tag() == 1) {
              protozero::pbf_reader l = e.get_message();
              std::string k, v;
              while (l.next()) {
                const bool is_name = l.tag() == 1;
                (is_name ? k : v) = l.get_string();
              }
              if (k == "trace_id") s.exemplar_trace_ids.push_back(v);
            } else {
              e.skip();
            }
          }
          break;
        }
        case 4: {
          ++s.histograms;
          protozero::pbf_reader h = ts.get_message();
          while (h.next()) {
            if (h.tag() == 4) s.schema = h.get_sint32();
            else if (h.tag() == 12)
              for (std::int64_t d : h.get_packed_sint64()) s.positive_deltas.push_back(d);
            else h.skip();
          }
          break;
        }
        default: ts.skip();
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

obs::snapshot every_type() {
  obs::snapshot_builder b;
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(7));
  const obs::label_view trace[] = {{"trace_id", "abc"}};
  b.add_exemplars({{trace, 1, 1700000000.25}});
  b.add_family("temperature_celsius", obs::metric_type::gauge, "", "celsius");
  b.add_series({}, obs::number::floating(-3.5));
  b.add_family("build", obs::metric_type::info);
  b.add_series({{"version", "1.2"}}, obs::number::integer(1));
  b.add_family("latency_seconds", obs::metric_type::histogram);
  const obs::bucket_count buckets[] = {{0.1, 2}, {1, 3}};
  const obs::bucket_span positive[] = {{-10, 2}};
  const std::uint64_t counts[] = {2, 1};
  const obs::native_histogram_snapshot native{3, 0.001, 0, positive, counts, {}, {}};
  b.add_native_histogram_series({}, native, buckets, 0.45, 3);
  b.add_exemplars({{trace, 0.05, std::nullopt}, {trace, 0.5, std::nullopt}});
  b.add_family("rpc_seconds", obs::metric_type::summary);
  b.add_summary_series({}, {{0.5, 0.01}, {0.99, 0.2}}, 1.5, 40);
  return std::move(b).build();
}

}  // namespace

TEST_CASE("a snapshot encodes as the samples a scrape shows, labels sorted, external labels added") {
  const obs::snapshot snap = every_type();
  obs::remote_write::encode_options o;
  o.external_labels = {{"job", "batch"}, {"instance", "host:1"}, {"queue", "ignored: the series has its own"}};
  o.timestamp_ms = 1700000000123;
  const auto requests = obs::remote_write::encode(snap, o);
  REQUIRE(requests.size() == 1);
  std::vector<std::string> metadata;
  const std::vector<series> all = decode(requests[0].bytes, &metadata);
  CHECK(metadata == std::vector<std::string>{"build", "jobs_total", "latency_seconds", "rpc_seconds",
                                             "temperature_celsius"});
  std::map<std::string, const series*> by_key;  // name{le|quantile}
  for (const series& s : all) {
    INFO(s.label("__name__"));
    CHECK(std::is_sorted(s.labels.begin(), s.labels.end()));
    CHECK(s.label("job") == "batch");
    CHECK(s.label("instance") == "host:1");
    for (const auto& sample : s.samples) CHECK(sample.second == 1700000000123);
    by_key[s.label("__name__") + "{" + s.label("le") + s.label("quantile") + "}"] = &s;
  }
  CHECK(requests[0].samples == all.size());
  REQUIRE(by_key.count("jobs_total{}"));
  CHECK(by_key["jobs_total{}"]->label("queue") == "mail");
  CHECK(by_key["jobs_total{}"]->samples[0].first == 7);
  CHECK(by_key["jobs_total{}"]->exemplars == std::vector<double>{1});
  CHECK(by_key["temperature_celsius{}"]->samples[0].first == -3.5);
  CHECK(by_key["build{}"]->label("version") == "1.2");
  CHECK(by_key["latency_seconds_bucket{0.1}"]->samples[0].first == 2);
  CHECK(by_key["latency_seconds_bucket{0.1}"]->exemplars == std::vector<double>{0.05});
  CHECK(by_key["latency_seconds_bucket{1}"]->exemplars == std::vector<double>{0.5});
  CHECK(by_key["latency_seconds_bucket{+Inf}"]->samples[0].first == 3);
  CHECK(by_key["latency_seconds_bucket{+Inf}"]->exemplars.empty());
  CHECK(by_key["latency_seconds_sum{}"]->samples[0].first == 0.45);
  CHECK(by_key["latency_seconds_count{}"]->samples[0].first == 3);
  CHECK(by_key["rpc_seconds{0.99}"]->samples[0].first == 0.2);
  CHECK(by_key["rpc_seconds_count{}"]->samples[0].first == 40);
  CHECK(!by_key.count("latency_seconds{}"));  // native histograms only when asked for
}

TEST_CASE("every sample of every series has its own whole label set, however the encoder reuses it") {
  // Series of one family with the same label names and bucket layout, one
  // with another layout, one with other names (one sorting before
  // `__name__`), and a summary: each sample's labels, sorted, exactly.
  obs::snapshot_builder b;
  b.add_family("wait_seconds", obs::metric_type::histogram);
  const obs::bucket_count layout[] = {{0.5, 1}, {2, 3}, {std::numeric_limits<double>::infinity(), 4}};
  const obs::bucket_count other[] = {{-0.0, 0}, {1e6, 2}, {std::numeric_limits<double>::infinity(), 2}};
  const obs::label_view a[] = {{"pool", "a"}, {"zone", "z1"}};
  const obs::label_view c[] = {{"pool", "c"}, {"zone", "z2"}};
  const obs::label_view upper[] = {{"Pool", "d"}, {"zone", "z3"}};
  b.add_histogram_series(a, layout, 1, 4);
  b.add_histogram_series(c, layout, 2, 4);
  b.add_histogram_series(a, other, 3, 2);
  b.add_histogram_series(upper, layout, 4, 4);
  b.add_family("rpc_seconds", obs::metric_type::summary);
  b.add_summary_series({{"pool", "s"}}, {{0.5, 0.01}, {0.99, 0.2}}, 1.5, 40);
  const obs::snapshot snap = std::move(b).build();
  obs::remote_write::encode_options o;
  o.external_labels = {{"job", "batch"}, {"zone", "ignored"}, {"A", "first"}};
  const std::vector<series> all = decode(obs::remote_write::encode(snap, o).at(0).bytes);
  using labels = std::vector<std::pair<std::string, std::string>>;
  std::vector<labels> got;
  for (const series& s : all) got.push_back(s.labels);
  auto sample = [](std::string name, labels l) {
    l.emplace_back("__name__", std::move(name));
    l.emplace_back("A", "first");
    l.emplace_back("job", "batch");
    std::sort(l.begin(), l.end());
    return l;
  };
  std::vector<labels> want;
  auto histogram = [&](labels l, std::initializer_list<const char*> les) {
    for (const char* le : les) {
      labels with_le = l;
      with_le.emplace_back("le", le);
      want.push_back(sample("wait_seconds_bucket", with_le));
    }
    want.push_back(sample("wait_seconds_sum", l));
    want.push_back(sample("wait_seconds_count", l));
  };
  histogram({{"pool", "a"}, {"zone", "z1"}}, {"0.5", "2", "+Inf"});
  histogram({{"pool", "c"}, {"zone", "z2"}}, {"0.5", "2", "+Inf"});
  histogram({{"pool", "a"}, {"zone", "z1"}}, {"-0", "1e+06", "+Inf"});
  histogram({{"Pool", "d"}, {"zone", "z3"}}, {"0.5", "2", "+Inf"});
  const labels summary{{"pool", "s"}, {"zone", "ignored"}};  // the external label it lacks
  want.push_back(sample("rpc_seconds", {{"pool", "s"}, {"quantile", "0.5"}, {"zone", "ignored"}}));
  want.push_back(sample("rpc_seconds", {{"pool", "s"}, {"quantile", "0.99"}, {"zone", "ignored"}}));
  want.push_back(sample("rpc_seconds_sum", summary));
  want.push_back(sample("rpc_seconds_count", summary));
  // Families and series go in the snapshot's order, which is not this one's.
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  auto text = [](const std::vector<labels>& samples) {
    std::string out;
    for (const labels& l : samples) {
      for (const auto& [k, v] : l) out += k + "=" + v + " ";
      out += "\n";
    }
    return out;
  };
  CHECK(text(got) == text(want));
}

TEST_CASE("native histograms go as such when asked for, counts as deltas") {
  const obs::snapshot snap = every_type();
  obs::remote_write::encode_options o;
  o.native_histograms = true;
  const std::vector<series> all = decode(obs::remote_write::encode(snap, o)[0].bytes);
  const series* native = nullptr;
  for (const series& s : all)
    if (s.histograms) native = &s;
  REQUIRE(native != nullptr);
  CHECK(native->label("__name__") == "latency_seconds");
  CHECK(native->samples.empty());
  CHECK(native->schema == 3);
  CHECK(native->positive_deltas == std::vector<std::int64_t>{2, -1});
}

TEST_CASE("requests hold at most max_samples_per_request samples, never splitting a series") {
  obs::snapshot_builder b;
  b.add_family("requests_total", obs::metric_type::counter);
  for (int i = 0; i < 25; ++i) b.add_series({{"id", std::to_string(i)}}, obs::number::integer(1));
  b.add_family("wait_seconds", obs::metric_type::histogram);
  b.add_histogram_series({}, {{1, 1}, {2, 2}}, 3, 2);  // 5 samples
  const obs::snapshot snap = std::move(b).build();
  obs::remote_write::encode_options o;
  o.max_samples_per_request = 10;
  const auto requests = obs::remote_write::encode(snap, o);
  std::size_t total = 0;
  for (const auto& r : requests) {
    CHECK(r.samples <= 10);
    CHECK(decode(r.bytes).size() == r.samples);
    total += r.samples;
  }
  CHECK(total == 30);
}

TEST_CASE("bodies are snappy block-compressed") {
  const std::string plain(1000, 'x');
  const std::string packed = obs::remote_write::compress(plain);
  CHECK(packed.size() < plain.size());
  std::string back;
  REQUIRE(snappy::Uncompress(packed.data(), packed.size(), &back));
  CHECK(back == plain);
}

TEST_CASE("a pusher refuses a url it cannot use") {
  obs::registry reg;
  for (const char* url : {"ftp://x/", "http://:9090/", "https://:443/", "http://host:port/", "http://user:pw@host/",
                          "http://[::1/"}) {
    INFO(url);
    CHECK_THROWS_AS(obs::remote_write::pusher(reg, {.url = url}), obs::error);
  }
  obs::remote_write::options o;
  o.url = "https://127.0.0.1:1/api/v1/write";
  o.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_AS(obs::remote_write::pusher(reg, o), std::runtime_error);
}
