// Writes every exposition the exporter golden tests cover, plus a big varied
// one, into a directory, so ctest can hand them to the real consumers:
// `promtool check metrics` for *.prom, the strict Python OpenMetrics parser
// for *.om.txt, and Python's json module for *.json.
//
// Usage: exposition_corpus <output directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "exposition/cases.hpp"
#include "obs/json.hpp"
#include "obs/openmetrics.hpp"
#include "obs/prometheus.hpp"

namespace {

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  bool ok = true;
  int files = 0;
  for (const obs_test::named_case& c : obs_test::all_cases()) {
    const obs::snapshot s = c.make();
    const std::string name = c.name;
    if (c.prometheus) {
      ok &= write_file(dir / (name + ".prom"), obs::prometheus::render(s));
      ++files;
    }
    ok &= write_file(dir / (name + ".om.txt"), obs::openmetrics::render(s));
    ok &= write_file(dir / (name + "_created.om.txt"), obs::openmetrics::render(s, {.created = true}));
    ok &= write_file(dir / (name + ".json"), obs::json::render(s));
    files += 3;
  }
  std::printf("wrote %d files to %s\n", files, dir.c_str());
  return ok ? 0 : 1;
}
