// pgwire framing and messages: every builder round-trips through its parser,
// and hostile bytes give protocol_error rather than an allocation or a read
// past the end.
#include "pgwire/decoder.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "pgwire/codec.hpp"
#include "pgwire/messages.hpp"
#include "pgwire/protocol.hpp"

using namespace pgwire;

namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

}  // namespace

TEST_CASE("a message split across reads comes out whole, once") {
  std::string wire;
  query(wire, "SELECT 1");
  ready_for_query(wire, 'I');
  decoder d;
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    d.feed(wire.substr(i, 1));
    if (i + 1 < wire.size() - 6) REQUIRE_FALSE(d.next());
  }
  auto q = d.next();
  REQUIRE(q);
  CHECK(q->type == 'Q');
  CHECK(parse_query(q->body) == "SELECT 1");
  CHECK(q->frame == std::string_view(wire).substr(0, q->frame.size()));
  REQUIRE_FALSE(d.next());
  d.feed(wire.substr(wire.size() - 1));
  auto z = d.next();
  REQUIRE(z);
  CHECK(parse_ready_for_query(z->body) == 'I');
  CHECK(d.buffered() == 0);
}

TEST_CASE("a startup packet has no type byte, and only the first") {
  std::string wire;
  const std::pair<std::string, std::string> params[] = {{"user", "alice"}, {"database", "app"}};
  startup_message(wire, params);
  query(wire, "SELECT 2");
  decoder d;
  d.expect_startup();
  d.feed(wire);
  auto s = d.next();
  REQUIRE(s);
  CHECK(s->type == '\0');
  auto packet = parse_startup(s->body);
  CHECK(packet.type == startup_packet::kind::startup);
  CHECK(packet.parameter("user") == "alice");
  CHECK(packet.parameter("database") == "app");
  CHECK(packet.parameter("options").empty());
  auto q = d.next();
  REQUIRE(q);
  CHECK(q->type == 'Q');
}

TEST_CASE("SSLRequest and CancelRequest are recognised") {
  std::string wire;
  ssl_request(wire);
  decoder d;
  d.expect_startup();
  d.feed(wire);
  CHECK(parse_startup(d.next()->body).type == startup_packet::kind::ssl_request);

  wire.clear();
  cancel_request(wire, 1234, -5678);
  d.expect_startup();
  d.feed(wire);
  auto cancel = parse_startup(d.next()->body);
  CHECK(cancel.type == startup_packet::kind::cancel_request);
  CHECK(cancel.process_id == 1234);
  CHECK(cancel.secret_key == -5678);
}

TEST_CASE("hostile lengths are protocol errors, before any allocation") {
  decoder d(1024);
  SECTION("below the length field itself") {
    d.feed("Q" + be32(3));
    CHECK_THROWS_AS(d.next(), protocol_error);
  }
  SECTION("over the limit") {
    d.feed("Q" + be32(0x7fffffff));
    CHECK_THROWS_WITH(d.next(), Catch::Contains("exceeds the limit of 1024"));
  }
  SECTION("a startup packet over PostgreSQL's 10,000 bytes, whatever the message limit") {
    decoder roomy;
    roomy.expect_startup();
    roomy.feed(be32(10001) + be32(196608));
    CHECK_THROWS_WITH(roomy.next(), "invalid length of startup packet");
    decoder exact;
    exact.expect_startup();
    exact.feed(be32(10000));
    CHECK_FALSE(exact.next());  // a legal length: waits for the rest
  }
  SECTION("a startup packet too short for its version") {
    d.expect_startup();
    d.feed(be32(4));
    CHECK_THROWS_AS(d.next(), protocol_error);
  }
}

TEST_CASE("malformed startup packets are rejected with a reason") {
  SECTION("an unknown protocol version") {
    CHECK_THROWS_WITH(parse_startup(be32(0x00020000)), Catch::Contains("unsupported frontend protocol 2.0"));
  }
  SECTION("no user") {
    std::string wire;
    const std::pair<std::string, std::string> params[] = {{"database", "app"}};
    startup_message(wire, params);
    CHECK_THROWS_WITH(parse_startup(std::string_view(wire).substr(4)), Catch::Contains("no PostgreSQL user"));
  }
  SECTION("a parameter without its NUL") {
    CHECK_THROWS_AS(parse_startup(be32(protocol_v3) + "user"), protocol_error);
  }
}

TEST_CASE("result messages round-trip") {
  std::string wire;
  const column columns[] = {{"database", type_oid::text}, {"cl_active", type_oid::int4}};
  row_description(wire, columns);
  const std::optional<std::string_view> row[] = {"app", std::nullopt};
  data_row(wire, row);
  command_complete(wire, "SHOW");
  decoder d;
  d.feed(wire);

  auto t = d.next();
  REQUIRE(t->type == 'T');
  auto parsed = parse_row_description(t->body);
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[1].name == "cl_active");
  CHECK(parsed[1].type_oid == type_oid::int4);
  CHECK(parsed[1].type_modifier == -1);

  auto r = d.next();
  REQUIRE(r->type == 'D');
  auto values = parse_data_row(r->body);
  REQUIRE(values.size() == 2);
  CHECK(values[0] == "app");
  CHECK_FALSE(values[1]);

  auto c = d.next();
  REQUIRE(c->type == 'C');
  CHECK(parse_command_complete(c->body) == "SHOW");
}

TEST_CASE("a DataRow whose field overruns the body is a protocol error") {
  std::string body = std::string("\0\1", 2) + be32(100) + "short";
  CHECK_THROWS_AS(parse_data_row(body), protocol_error);
  CHECK_THROWS_AS(parse_data_row(std::string("\0\1", 2) + be32(static_cast<std::uint32_t>(-7))), protocol_error);
}

TEST_CASE("errors keep their fields") {
  std::string wire;
  error_response(wire, {"FATAL", sqlstate::invalid_password, "password authentication failed", "", "check it"});
  decoder d;
  d.feed(wire);
  auto e = parse_error_response(d.next()->body);
  CHECK(e.severity == "FATAL");
  CHECK(e.sqlstate == "28P01");
  CHECK(e.message == "password authentication failed");
  CHECK(e.hint == "check it");
}

TEST_CASE("authentication messages round-trip") {
  std::string wire;
  const std::string_view mechanisms[] = {"SCRAM-SHA-256"};
  authentication_sasl(wire, mechanisms);
  authentication_md5(wire, {'a', 'b', 'c', 'd'});
  sasl_initial_response_message(wire, "SCRAM-SHA-256", "n,,n=,r=abc");
  decoder d;
  d.feed(wire);
  auto sasl = parse_authentication(d.next()->body);
  CHECK(sasl.code == auth_code::sasl);
  CHECK(parse_sasl_mechanisms(sasl.data) == std::vector<std::string_view>{"SCRAM-SHA-256"});
  auto md5 = parse_authentication(d.next()->body);
  CHECK(md5.code == auth_code::md5);
  CHECK(md5.data == "abcd");
  auto initial = parse_sasl_initial_response(d.next()->body);
  CHECK(initial.mechanism == "SCRAM-SHA-256");
  CHECK(initial.data == "n,,n=,r=abc");
}

TEST_CASE("message_writer cuts a string field at an embedded NUL") {
  std::string wire;
  message_writer(wire, 'Q').cstring(std::string_view("a\0b", 3)).finish();
  decoder d;
  d.feed(wire);
  CHECK(parse_query(d.next()->body) == "a");
}
