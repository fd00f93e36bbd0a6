// The process's resident set in bytes, from /proc/self/statm (0 where it
// cannot be read): what tests/storage_test.cpp and bench/memory_rss.cpp
// measure memory per series with, since cells live in mapped memory that
// malloc statistics do not see.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdio>

namespace obs_test {

inline std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return read == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace obs_test
