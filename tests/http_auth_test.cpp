#include "obs/http/auth.hpp"

#include <catch2/catch.hpp>

using obs::http::auth;

TEST_CASE("base64 matches the RFC 4648 test vectors") {
  using obs::http::detail::base64;
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
}

TEST_CASE("constant-time comparison is an equality") {
  using obs::http::detail::constant_time_equal;
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("secret", "secret"));
  CHECK_FALSE(constant_time_equal("secret", "secreT"));
  CHECK_FALSE(constant_time_equal("secret", "secret1"));
  CHECK_FALSE(constant_time_equal("secret", ""));
  CHECK_FALSE(constant_time_equal("", "x"));
}

TEST_CASE("no auth allows everything") {
  auth a;
  CHECK_FALSE(a.enabled());
  CHECK(a.allows(""));
  CHECK(a.allows("Bearer anything"));
}

TEST_CASE("bearer auth wants the exact token") {
  auth a = auth::bearer("t0ken");
  CHECK(a.enabled());
  CHECK(a.allows("Bearer t0ken"));
  CHECK_FALSE(a.allows("Bearer t0ke"));
  CHECK_FALSE(a.allows("Bearer t0ken2"));
  CHECK_FALSE(a.allows("t0ken"));
  CHECK_FALSE(a.allows(""));
  CHECK(a.challenge().starts_with("Bearer "));
}

TEST_CASE("basic auth wants base64(user:password)") {
  // RFC 7617 section 2's example.
  auth a = auth::basic("Aladdin", "open sesame");
  CHECK(a.allows("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  CHECK_FALSE(a.allows("Basic QWxhZGRpbjpvcGVuIHNlc2FtZq=="));
  CHECK_FALSE(a.allows("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  CHECK(a.challenge().starts_with("Basic realm="));
}

TEST_CASE("the auth scheme matches in any case; the credentials exactly") {
  // RFC 9110 section 11.1: the scheme is a case-insensitive token.
  auth b = auth::bearer("t0ken");
  CHECK(b.allows("bearer t0ken"));
  CHECK(b.allows("BEARER t0ken"));
  CHECK(b.allows("bEaReR t0ken"));
  CHECK_FALSE(b.allows("bearer T0KEN"));
  CHECK_FALSE(b.allows("bearer"));
  CHECK_FALSE(b.allows("bearer "));
  CHECK_FALSE(b.allows("bearert0ken"));
  CHECK_FALSE(b.allows("basic t0ken"));

  auth a = auth::basic("Aladdin", "open sesame");
  CHECK(a.allows("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  CHECK(a.allows("BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  CHECK_FALSE(a.allows("basic qwxhzgrpbjpvcgvuihnlc2ftzq=="));
}

TEST_CASE("one or more spaces separate the scheme from the credentials") {
  // credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
  auth b = auth::bearer("t0ken");
  CHECK(b.allows("Bearer   t0ken"));
  CHECK_FALSE(b.allows("Bearer t0ken "));
  CHECK_FALSE(b.allows(" Bearer t0ken"));
}
