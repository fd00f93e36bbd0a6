// expect: sign-conversion
// A broken fixture for tests/header_warnings.cmake: an implicit int to
// unsigned conversion, which -Wsign-conversion must reject.
#pragma once

inline unsigned obs_fixture_to_unsigned(int n) { return n; }
