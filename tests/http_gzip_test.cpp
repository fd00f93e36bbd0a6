#include "obs/http/gzip.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "http/client.hpp"

TEST_CASE("gzip round trips through zlib inflate") {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "http_requests_total{code=\"200\",i=\"" + std::to_string(i) + "\"} 1\n";
  for (int level : {1, 6, 9}) {
    const std::string packed = obs::http::gzip_compress(text, level);
    REQUIRE(packed.size() > 18);
    // RFC 1952: magic 1f 8b, method 8 (deflate).
    CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);
    CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
    CHECK(packed[2] == 8);
    CHECK(packed.size() < text.size() / 4);
    CHECK(obs_test::gunzip(packed) == text);
  }
}

TEST_CASE("gzip of nothing is a valid empty member") {
  const std::string packed = obs::http::gzip_compress("");
  CHECK(obs_test::gunzip(packed).empty());
}
