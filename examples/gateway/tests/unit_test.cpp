// Unit tests of the gateway's pure parts: flags, routes, SigV4, the bounded queue.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <string>

#include "bounded_queue.hpp"
#include "config.hpp"
#include "routes.hpp"
#include "sigv4.hpp"

using namespace gateway;

TEST_CASE("flags: defaults, required values and range errors", "[config]") {
  const std::array<const char*, 8> required{"--database-url", "host=x", "--s3-endpoint", "http://h:1",
                                            "--s3-access-key", "k", "--s3-secret-key", "s"};
  config c = parse_args(required);
  CHECK(c.listen.host == "0.0.0.0");
  CHECK(c.listen.port == 3000);
  CHECK(c.management_listen.host == "127.0.0.1");
  CHECK(c.management_listen.port == 9090);
  CHECK_FALSE(c.push.url);
  CHECK(c.push.interval == std::chrono::seconds(15));
  CHECK_FALSE(c.push.native_histograms);

  const std::array<const char*, 14> push{"--database-url", "host=x", "--s3-endpoint", "http://h:1",
                                         "--s3-access-key", "k", "--s3-secret-key", "s",
                                         "--remote-write-url", "http://127.0.0.1:9090/api/v1/write",
                                         "--remote-write-interval-ms=2000", "--remote-write-native-histograms", "true",
                                         "--listen=:0"};
  c = parse_args(push);
  CHECK(c.push.url == "http://127.0.0.1:9090/api/v1/write");
  CHECK(c.push.interval == std::chrono::seconds(2));
  CHECK(c.push.native_histograms);
  const std::array<const char*, 2> maybe{"--remote-write-native-histograms", "maybe"};
  CHECK_THROWS_WITH(parse_args(maybe), Catch::Contains("--remote-write-native-histograms"));

  const std::array<const char*, 12> more{"--database-url", "host=x", "--s3-endpoint", "http://h:1",
                                         "--s3-access-key", "k", "--s3-secret-key", "s",
                                         "--listen=[::1]:0", "--management-listen", "127.0.0.1:9191",
                                         "--outbound-queue=8"};
  c = parse_args(more);
  CHECK(c.listen.host == "::1");
  CHECK(c.listen.port == 0);
  CHECK(c.management_listen.port == 9191);
  CHECK(c.outbound_queue_capacity == 8);

  const std::array<const char*, 1> unknown{"--nope"};
  CHECK_THROWS_WITH(parse_args(unknown), Catch::Contains("unknown flag '--nope'"));
  const std::array<const char*, 2> zero{"--outbound-queue", "0"};
  CHECK_THROWS_WITH(parse_args(zero), Catch::Contains("--outbound-queue"));
  const std::array<const char*, 1> dangling{"--listen"};
  CHECK_THROWS_WITH(parse_args(dangling), Catch::Contains("needs a value"));
  const std::array<const char*, 0> none{};
  CHECK_THROWS_WITH(parse_args(none), Catch::Contains("--database-url"));
  // Endpoints follow the services' common rules (examples/common), with
  // the flag named in the error.
  const std::array<const char*, 2> bad_listen{"--listen", "nohost"};
  CHECK_THROWS_WITH(parse_args(bad_listen), "--listen: expected HOST:PORT, got \"nohost\"");
  const std::array<const char*, 1> bad_port{"--management-listen=h:70000"};
  CHECK_THROWS_AS(parse_args(bad_port), config_error);

  CHECK(c.shutdown_timeout == std::chrono::seconds(10));
  const std::array<const char*, 10> shutdown{"--database-url", "host=x", "--s3-endpoint", "http://h:1",
                                             "--s3-access-key", "k", "--s3-secret-key", "s",
                                             "--shutdown-timeout-ms", "1500"};
  CHECK(parse_args(shutdown).shutdown_timeout == std::chrono::milliseconds(1500));
  const std::array<const char*, 2> no_time{"--shutdown-timeout-ms", "0"};
  CHECK_THROWS_WITH(parse_args(no_time), Catch::Contains("--shutdown-timeout-ms"));
}

TEST_CASE("routes: templates match, everything else is unmatched", "[routes]") {
  route_table t;
  auto m = t.match("/rooms/general/messages?limit=5");
  REQUIRE(m);
  CHECK(m->id == route_id::room_messages);
  CHECK(m->route_template == "/rooms/{room}/messages");
  CHECK(m->params == http_routes::route_params{"general"});
  CHECK(t.match("/rooms/a%20b/messages")->params[0] == "a b");
  CHECK(t.match("/ws?user=u")->id == route_id::websocket);
  CHECK(t.match("/attachments")->id == route_id::attachments);
  CHECK(t.match("/attachments/abc")->id == route_id::attachment);
  for (const char* miss : {"/", "", "/metrics", "/rooms//messages", "/rooms/x/messages/", "/rooms/%zz/messages",
                           "/attachments/", "/ws/", "rooms/x/messages", "/rooms/x"})
    CHECK_FALSE(t.match(miss));
}

TEST_CASE("query parameters are found and decoded", "[routes]") {
  CHECK(query_param("/ws?user=alice&x=1", "user") == "alice");
  CHECK(query_param("/ws?x=1&user=a%2Bb+c", "user") == "a+b c");
  CHECK_FALSE(query_param("/ws?username=bob", "user"));
  CHECK_FALSE(query_param("/ws", "user"));
  CHECK_FALSE(query_param("/ws?user=%4", "user"));
}

// The example of "GET Object" in AWS's "Signature Calculations for the
// Authorization Header" (Signature Version 4), S3 API reference.
TEST_CASE("SigV4 reproduces AWS's published GET Object example", "[sigv4]") {
  sigv4::request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.payload_sha256 = sigv4::sha256_hex("");
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"range", "bytes=0-9"},
               {"x-amz-content-sha256", r.payload_sha256},
               {"x-amz-date", "20130524T000000Z"}};
  CHECK(r.payload_sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string auth = sigv4::authorization({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                                                "us-east-1", "s3", "20130524T000000Z", r);
  CHECK(auth ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(sigv4::uri_encode("a b/c~d*", false) == "a%20b/c~d%2A");
  CHECK(sigv4::uri_encode("a/b", true) == "a%2Fb");
  CHECK(sigv4::amz_date_now().size() == 16);
}

TEST_CASE("a bounded queue refuses beyond capacity and keeps the shared depth", "[queue]") {
  std::atomic<std::size_t> depth{0};
  {
    bounded_queue<int> a(2, depth), b(3, depth);
    CHECK(a.try_push(1));
    CHECK(a.try_push(2));
    CHECK_FALSE(a.try_push(3));
    CHECK(b.try_push(4));
    CHECK(depth == 3);
    CHECK(a.pop() == 1);
    CHECK(depth == 2);
    CHECK(a.try_push(5));
    CHECK(a.pop() == 2);
    CHECK(a.pop() == 5);
    CHECK_FALSE(a.pop());
    CHECK(a.empty());
    CHECK(a.capacity() == 2);
    CHECK(b.size() == 1);
    CHECK(b.try_push(6));
    CHECK(depth == 2);
  }
  CHECK(depth == 0);  // destroyed queues give their depth back
}
