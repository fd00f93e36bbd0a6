// obs::protobuf (protozero) against libprotobuf: the same MetricFamily
// messages built through protoc's generated classes (client_model 0.3.0's
// metrics.proto, vendored in tests/protobuf/), on the render benchmark's data
// (10,000 counter and 1,000 histogram series, one snapshot taken up front).
// Before timing, both encoders render that data and every exposition test
// case (tests/exposition/cases.hpp), and the program fails unless the bytes
// are identical, so the comparison is of equal work.
//
// Built by bench/core.cmake where protoc and libprotobuf are found (Debian
// protobuf-compiler, libprotobuf-dev); reports ns per series (`series`).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>

#include "exposition/cases.hpp"
#include "metrics.pb.h"
#include "obs/protobuf.hpp"
#include "obs/registry.hpp"

namespace {

namespace pc = io::prometheus::client;

void set_exemplar(pc::Exemplar* ex, const obs::exemplar_snapshot& e) {
  for (const obs::label_view& l : e.labels) {
    pc::LabelPair* p = ex->add_label();
    p->set_name(std::string(l.name));
    p->set_value(std::string(l.value));
  }
  ex->set_value(e.value);
  if (e.timestamp) {
    const double seconds = std::floor(*e.timestamp);
    auto nanos = static_cast<std::int32_t>(std::llround((*e.timestamp - seconds) * 1e9));
    auto whole = static_cast<std::int64_t>(seconds);
    if (nanos >= 1'000'000'000) {
      nanos -= 1'000'000'000;
      ++whole;
    }
    ex->mutable_timestamp()->set_seconds(whole);
    ex->mutable_timestamp()->set_nanos(nanos);
  }
}

void set_native(pc::Histogram* h, const obs::native_histogram_snapshot& n) {
  h->set_schema(n.schema);
  h->set_zero_threshold(n.zero_threshold);
  h->set_zero_count(n.zero_count);
  for (const obs::bucket_span& s : n.negative_spans) {
    pc::BucketSpan* span = h->add_negative_span();
    span->set_offset(s.offset);
    span->set_length(s.length);
  }
  std::uint64_t previous = 0;
  for (std::uint64_t c : n.negative_counts) {
    h->add_negative_delta(static_cast<std::int64_t>(c - previous));
    previous = c;
  }
  if (n.positive_spans.empty() && n.negative_spans.empty() && n.zero_count == 0 && !(n.zero_threshold > 0)) {
    pc::BucketSpan* span = h->add_positive_span();
    span->set_offset(0);
    span->set_length(0);
    return;
  }
  for (const obs::bucket_span& s : n.positive_spans) {
    pc::BucketSpan* span = h->add_positive_span();
    span->set_offset(s.offset);
    span->set_length(s.length);
  }
  previous = 0;
  for (std::uint64_t c : n.positive_counts) {
    h->add_positive_delta(static_cast<std::int64_t>(c - previous));
    previous = c;
  }
}

// What obs::protobuf::render_to writes (see obs/protobuf.hpp), through libprotobuf.
void libprotobuf_render_to(const obs::snapshot& snap, std::string& out) {
  pc::MetricFamily mf;
  for (const obs::family_snapshot& f : snap.families()) {
    mf.Clear();
    std::string_view suffix;
    if (f.type == obs::metric_type::counter && !(f.name.size() > 6 && f.name.ends_with("_total"))) suffix = "_total";
    if (f.type == obs::metric_type::info && !(f.name.size() > 5 && f.name.ends_with("_info"))) suffix = "_info";
    mf.mutable_name()->assign(f.name.data(), f.name.size()).append(suffix.data(), suffix.size());
    if (!f.help.empty()) mf.set_help(std::string(f.help));
    switch (f.type) {
      case obs::metric_type::counter: mf.set_type(pc::COUNTER); break;
      case obs::metric_type::summary: mf.set_type(pc::SUMMARY); break;
      case obs::metric_type::histogram: mf.set_type(pc::HISTOGRAM); break;
      case obs::metric_type::gauge:
      case obs::metric_type::info: mf.set_type(pc::GAUGE); break;
    }
    for (const obs::series_snapshot& s : f.series) {
      pc::Metric* m = mf.add_metric();
      for (const obs::label_view& l : s.labels) {
        pc::LabelPair* p = m->add_label();
        p->set_name(std::string(l.name));
        p->set_value(std::string(l.value));
      }
      switch (f.type) {
        case obs::metric_type::counter:
          m->mutable_counter()->set_value(s.value.as_double());
          if (!s.exemplars.empty()) set_exemplar(m->mutable_counter()->mutable_exemplar(), s.exemplars.back());
          break;
        case obs::metric_type::gauge:
        case obs::metric_type::info: m->mutable_gauge()->set_value(s.value.as_double()); break;
        case obs::metric_type::summary: {
          pc::Summary* q = m->mutable_summary();
          q->set_sample_count(s.count);
          q->set_sample_sum(s.sum);
          for (const obs::quantile_value& v : s.quantiles) {
            pc::Quantile* x = q->add_quantile();
            x->set_quantile(v.quantile);
            x->set_value(v.value);
          }
          break;
        }
        case obs::metric_type::histogram: {
          pc::Histogram* h = m->mutable_histogram();
          h->set_sample_count(s.count);
          h->set_sample_sum(s.sum);
          std::size_t next = 0;
          for (std::size_t i = 0; i < s.buckets.size(); ++i) {
            const bool last = i + 1 == s.buckets.size();
            const obs::exemplar_snapshot* e = nullptr;
            while (next < s.exemplars.size() && (last || s.exemplars[next].value <= s.buckets[i].upper_bound))
              e = &s.exemplars[next++];
            if (last && std::isinf(s.buckets[i].upper_bound) && s.buckets[i].upper_bound > 0 && !e) break;
            pc::Bucket* b = h->add_bucket();
            b->set_cumulative_count(s.buckets[i].cumulative_count);
            b->set_upper_bound(s.buckets[i].upper_bound);
            if (e) set_exemplar(b->mutable_exemplar(), *e);
          }
          if (s.native) set_native(h, *s.native);
          break;
        }
      }
    }
    std::uint8_t length[10];
    const std::uint8_t* end =
        google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(mf.ByteSizeLong(), length);
    out.append(reinterpret_cast<const char*>(length), static_cast<std::size_t>(end - length));
    mf.AppendToString(&out);
  }
}

const obs::snapshot& data() {
  static const obs::snapshot snap = [] {
    obs::registry reg;
    reg.set_cardinality_limit(1001);
    for (int m = 0; m < 10; ++m) {
      const std::string name = "app_requests_" + std::to_string(m) + "_total";
      reg.describe_counter(name, "", "Requests served, by route and status.");
      obs::counter_family family = reg.counter_family(name, {"route", "status"});
      for (int i = 0; i < 1000; ++i)
        family.with("/api/v1/resource/" + std::to_string(i), "200")
            .increment(static_cast<std::uint64_t>(m * 7919 + i * 31 + 1));
    }
    reg.describe_histogram("app_request_duration_seconds", "seconds", "Time to serve a request, by route.");
    obs::histogram_family family = reg.histogram_family("app_request_duration_seconds", {"route"});
    for (int i = 0; i < 1000; ++i)
      for (int k = 0; k < 8; ++k) family.with("/api/v1/resource/" + std::to_string(i)).record(0.001 * ((i * 8 + k) % 997));
    return reg.snapshot();
  }();
  return snap;
}

template <class RenderTo>
void run(benchmark::State& state, RenderTo render_to) {
  const obs::snapshot& snap = data();
  std::size_t series = 0;
  for (const obs::family_snapshot& f : snap.families()) series += f.series.size();
  std::string body;
  for (auto _ : state) {
    body.clear();
    render_to(snap, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["bytes"] = static_cast<double>(body.size());
  state.counters["series"] = benchmark::Counter(static_cast<double>(series), benchmark::Counter::kIsIterationInvariantRate |
                                                                                  benchmark::Counter::kInvert);
}

void protozero(benchmark::State& state) { run(state, obs::protobuf::render_to); }
void libprotobuf(benchmark::State& state) { run(state, libprotobuf_render_to); }
BENCHMARK(protozero)->Unit(benchmark::kMicrosecond);
BENCHMARK(libprotobuf)->Unit(benchmark::kMicrosecond);

bool same_bytes(const char* name, const obs::snapshot& s) {
  std::string ours, theirs;
  obs::protobuf::render_to(s, ours);
  libprotobuf_render_to(s, theirs);
  if (ours == theirs) return true;
  std::fprintf(stderr, "%s: obs::protobuf and libprotobuf differ (%zu and %zu bytes)\n", name, ours.size(),
               theirs.size());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  bool same = same_bytes("benchmark data", data());
  for (const obs_test::named_case& c : obs_test::all_cases()) same &= same_bytes(c.name, c.make());
  if (!same) return 1;
  std::printf("identical bytes from both encoders on the benchmark data and %zu test cases\n",
              obs_test::all_cases().size());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
