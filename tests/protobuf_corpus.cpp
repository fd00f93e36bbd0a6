// Writes every exposition case (tests/exposition/cases.hpp) in the protobuf
// format, `<case>.pb`, and in OpenMetrics, `<case>.om.txt`, into a directory,
// so ctest can hand them to Python's protobuf (tests/protobuf/check_protobuf.py),
// which decodes the first against the vendored metrics.proto and compares it
// with the second as the OpenMetrics parser reads it.
//
// Usage: protobuf_corpus <output directory>
#include <string>

#include "exposition/corpus.hpp"
#include "obs/openmetrics.hpp"
#include "obs/protobuf.hpp"

int main(int argc, char** argv) {
  return obs_test::write_corpus(argc, argv,
                                [](const obs_test::named_case& c, const obs::snapshot& s, obs_test::corpus_dir& out) {
                                  const std::string name = c.name;
                                  out.write(name + ".pb", obs::protobuf::render(s));
                                  out.write(name + ".om.txt", obs::openmetrics::render(s));
                                });
}
