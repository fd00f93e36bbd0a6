// Writes every exposition the exporter golden tests cover, plus a big varied
// one, into a directory, so ctest can hand them to the real consumers:
// `promtool check metrics` for *.prom, the strict Python OpenMetrics parser
// for *.om.txt, and Python's json module for *.json.
//
// Usage: exposition_corpus <output directory>
#include <string>

#include "exposition/corpus.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

int main(int argc, char** argv) {
  return obs_test::write_corpus(argc, argv,
                                [](const obs_test::named_case& c, const obs::snapshot& s, obs_test::corpus_dir& out) {
                                  const std::string name = c.name;
                                  if (c.prometheus) out.write(name + ".prom", obs::prometheus::render(s));
                                  out.write(name + ".om.txt", obs::openmetrics::render(s));
                                  out.write(name + "_created.om.txt", obs::openmetrics::render(s, {.created = true}));
                                  out.write(name + ".json", obs::json::render(s));
                                });
}
