// Must not compile under -Werror=unused-result: the credentials would guard
// nothing.
#include "obs/http.hpp"
void f() { obs::http::auth::bearer("s3cret"); }
