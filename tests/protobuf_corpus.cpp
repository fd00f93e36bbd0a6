// Writes every exposition case (tests/exposition/cases.hpp) in the protobuf
// format, `<case>.pb`, and in OpenMetrics, `<case>.om.txt`, into a directory,
// so ctest can hand them to Python's protobuf (tests/protobuf/check_protobuf.py),
// which decodes the first against the vendored metrics.proto and compares it
// with the second as the OpenMetrics parser reads it.
//
// Usage: protobuf_corpus <output directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "exposition/cases.hpp"
#include "obs/openmetrics.hpp"
#include "obs/protobuf.hpp"

namespace {

bool write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
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
    ok &= write_file(dir / (name + ".pb"), obs::protobuf::render(s));
    ok &= write_file(dir / (name + ".om.txt"), obs::openmetrics::render(s));
    files += 2;
  }
  std::printf("wrote %d files to %s\n", files, dir.c_str());
  return ok ? 0 : 1;
}
