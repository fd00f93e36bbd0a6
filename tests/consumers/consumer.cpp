// The program every consumer project builds: it records and renders metrics
// the way an application would, and prints them for run_consumer.cmake to
// check against expected_output.txt.
#include <cstdio>
#include <string>
#include <utility>

#include <obs/prometheus.hpp>
#include <obs/registry.hpp>
#include <obs/snapshot.hpp>

int main() {
  // Live metrics, recorded through a registry.
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "mail"}}).increment();
  std::string text = obs::prometheus::render(reg.snapshot());

  // A hand-built snapshot, as a custom collector would make one.
  obs::snapshot_builder b;
  b.add_family("queue_depth", obs::metric_type::gauge, "Jobs waiting.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(3));
  text += obs::prometheus::render(std::move(b).build());

  std::fputs(text.c_str(), stdout);
}
