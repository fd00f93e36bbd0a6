// expect: shadow
// A broken fixture for tests/header_warnings.cmake: an inner local shadows an
// outer one, which -Wshadow must reject.
#pragma once

inline int obs_fixture_twice(int n) {
  int total = n;
  {
    int total = 2 * n;
    n = total;
  }
  return total + n;
}
