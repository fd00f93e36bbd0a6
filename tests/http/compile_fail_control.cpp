// Compiles: proves the harness fails only on the discarded results in the
// other compile_fail_*.cpp files.
#include "obs/http.hpp"
void f(obs::http::options o) {
  o.auth = obs::http::auth::bearer("s3cret");
  auto srv = obs::http::serve(o);
  srv->health().add_check("db", [] { return obs::http::check_result::healthy(); });
}
