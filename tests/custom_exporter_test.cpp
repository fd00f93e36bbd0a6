#include "obs/snapshot.hpp"

#include <catch2/catch.hpp>

#include <charconv>
#include <string>
#include <string_view>

// Exporters are pluggable: this StatsD-lines exporter is written against
// snapshot.hpp alone, the way a user would add a format obs does not ship.
// https://github.com/statsd/statsd/blob/master/docs/metric_types.md
namespace {

void append_value(std::string& out, obs::number n) {
  char buf[32];
  const auto r = n.is_integer() ? std::to_chars(buf, buf + sizeof buf, n.as_integer())
                                : std::to_chars(buf, buf + sizeof buf, n.as_double());
  out.append(buf, r.ptr);
}

// `name.labelvalue...:value|kind`, one line per value. StatsD has no buckets
// or quantiles, so histograms and summaries send their sum and count.
std::string render_statsd(const obs::snapshot& snap) {
  std::string out;
  for (const obs::family_snapshot& f : snap.families()) {
    for (const obs::series_snapshot& s : f.series) {
      const auto line = [&](std::string_view suffix, obs::number value, std::string_view kind) {
        out += f.name;
        out += suffix;
        for (const obs::label_view& l : s.labels) (out += '.') += l.value;
        out += ':';
        append_value(out, value);
        (out += '|') += kind;
        out += '\n';
      };
      switch (f.type) {
        case obs::metric_type::counter: line("", s.value, "c"); break;
        case obs::metric_type::gauge:
        case obs::metric_type::info: line("", s.value, "g"); break;
        case obs::metric_type::histogram:
        case obs::metric_type::summary:
          line(".sum", obs::number::floating(s.sum), "g");
          line(".count", obs::number::integer(s.count), "c");
          break;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("custom exporter: a StatsD exporter needs only the snapshot") {
  obs::snapshot_builder b;
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(3));
  b.add_series({{"queue", "bulk"}}, obs::number::integer(12));
  b.add_family("temperature", obs::metric_type::gauge);
  b.add_series({}, obs::number::floating(21.5));
  b.add_family("latency_seconds", obs::metric_type::histogram);
  b.add_histogram_series({{"route", "home"}}, {{0.1, 2}, {1, 3}}, 0.75, 3);
  CHECK(render_statsd(std::move(b).build()) ==
        "jobs_total.bulk:12|c\n"
        "jobs_total.mail:3|c\n"
        "latency_seconds.sum.home:0.75|g\n"
        "latency_seconds.count.home:3|c\n"
        "temperature:21.5|g\n");
}

TEST_CASE("custom exporter: an empty snapshot renders nothing") {
  CHECK(render_statsd(obs::snapshot()).empty());
}
