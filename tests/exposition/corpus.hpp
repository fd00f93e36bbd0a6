// What the corpus programs share (exposition_corpus, protobuf_corpus): every
// case of cases.hpp rendered into files of one directory, for ctest to hand
// to a real consumer.
//
//   int main(int argc, char** argv) {
//     return obs_test::write_corpus(argc, argv, [](const obs_test::named_case& c, const obs::snapshot& s,
//                                                   obs_test::corpus_dir& out) {
//       out.write(std::string(c.name) + ".om.txt", obs::openmetrics::render(s));
//     });
//   }
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cases.hpp"

namespace obs_test {

/// The output directory, emptied first, and what was written into it.
class corpus_dir {
 public:
  explicit corpus_dir(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  void write(const std::string& file, const std::string& bytes) {
    std::ofstream out(dir_ / file, std::ios::binary);
    out << bytes;
    out.close();
    if (!out) std::fprintf(stderr, "cannot write %s\n", (dir_ / file).c_str());
    ok_ &= static_cast<bool>(out);
    ++files_;
  }

  /// Exit status: 0 when every file was written.
  int finish() const {
    std::printf("wrote %d files to %s\n", files_, dir_.c_str());
    return ok_ ? 0 : 1;
  }

 private:
  std::filesystem::path dir_;
  bool ok_ = true;
  int files_ = 0;
};

/// `program <output directory>`: calls `render(case, its snapshot, dir)` for each case.
template <class Render>
int write_corpus(int argc, char** argv, Render render) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  corpus_dir dir(argv[1]);
  for (const named_case& c : all_cases()) render(c, c.make(), dir);
  return dir.finish();
}

}  // namespace obs_test
