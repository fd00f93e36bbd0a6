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
