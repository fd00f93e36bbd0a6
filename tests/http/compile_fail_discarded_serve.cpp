// Must not compile under -Werror=unused-result: the discarded server would
// stop the moment it started.
#include "obs/http.hpp"
void f(const obs::http::options& o) { obs::http::serve(o); }
