// Unit tests of the pooler's pure logic: config, secrets and SCRAM/MD5, the
// auth_query cache. No sockets.
#include "auth.hpp"
#include "auth_cache.hpp"
#include "config.hpp"

#include <catch2/catch.hpp>

using namespace pooler;
using namespace std::chrono_literals;

TEST_CASE("config: a full file parses, defaults fill the rest", "[unit]") {
  auto cfg = parse_config(R"(
[general]
listen = "0.0.0.0:7000"
admin_password = "pw"
pool_mode = "session"
remote_write_url = "http://127.0.0.1:9090/api/v1/write"
remote_write_interval = 2
[databases.app]
dbname = "real"
port = 5433
[databases.app.users.bob]
password = "secret"
pool_size = 3
[databases.app.auth_query]
user = "postgres"
password = "pg"
cache_ttl = 10
min_interval = 0.5
)", "test");
  CHECK(cfg.listen.host == "0.0.0.0");
  CHECK(cfg.listen.port == 7000);
  CHECK(cfg.metrics_listen.port == 9127);
  CHECK(cfg.push.url == "http://127.0.0.1:9090/api/v1/write");
  CHECK(cfg.push.interval == 2s);
  CHECK_FALSE(cfg.push.native_histograms);
  CHECK_FALSE(parse_config("[databases.a]\n", "t").push.url);
  REQUIRE(cfg.databases.size() == 1);
  const auto& db = cfg.databases[0];
  CHECK(db.dbname == "real");
  CHECK(db.mode == pool_mode::session);
  CHECK(db.users.at(0).pool_size == 3);
  REQUIRE(db.auth_query);
  CHECK(db.auth_query->workers == 2);
  CHECK(db.auth_query->cache_ttl == 10s);
  CHECK(db.auth_query->cache_failure_ttl == 30s);
  CHECK(db.auth_query->min_interval == 500ms);
  CHECK(db.auth_query->dbname == "real");
  CHECK(db.auth_query->query.find("pg_authid") != std::string::npos);
}

TEST_CASE("config: errors name the key", "[unit]") {
  auto message = [](const std::string& text) {
    try {
      parse_config(text, "t.toml");
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("[databases.a]\nport = \"x\"\n").find("databases.a.port") != std::string::npos);
  CHECK(message("[databases.a]\npool_mode = \"statement\"\n").find("databases.a.pool_mode") != std::string::npos);
  CHECK(message("[general]\nlisten = \"nocolon\"\n[databases.a]\n").find("general.listen") != std::string::npos);
  CHECK(message("[databases.a]\ntypo = 1\n").find("databases.a.typo: unknown key") != std::string::npos);
  CHECK(message("[databases.a.auth_query]\nquery = \"SELECT 1\"\nuser = \"u\"\n").find("databases.a.auth_query.query") !=
        std::string::npos);
  CHECK(message("[general]\n").find("databases") != std::string::npos);
  CHECK(message("[general]\nremote_write_interval = 0\n[databases.a]\n").find("general.remote_write_interval") !=
        std::string::npos);
  CHECK(message("[databases.a\n").find("t.toml:1") != std::string::npos);
}

TEST_CASE("config: endpoints follow the services' shared rules, settings have their bounds", "[unit]") {
  CHECK(parse_listen("--listen", ":7000") == endpoint{"127.0.0.1", 7000});
  CHECK(parse_listen("--listen", "[::1]:7000") == endpoint{"::1", 7000});
  CHECK_THROWS_WITH(parse_listen("--listen", "::1:7000"), Catch::Contains("--listen"));
  CHECK_THROWS_AS(parse_listen("general.listen", "host:99999"), config_error);
  auto cfg = parse_config("[general]\nmax_message_size = 1073741823\nshutdown_timeout = 2.5\n[databases.a]\n", "t");
  CHECK(cfg.max_message_size == 1073741823);
  CHECK(cfg.shutdown_timeout == 2500ms);
  CHECK(cfg.health_check_timeout == 500ms);
  CHECK_THROWS_WITH(parse_config("[general]\nmax_message_size = 1073741824\n[databases.a]\n", "t"),
                    Catch::Contains("general.max_message_size: expected an integer from 1024 to 1073741823"));
}

TEST_CASE("auth: an unknown user's fake verifier is the same on every attempt, and no password matches it", "[unit]") {
  auto key = random_bytes(32);
  auto ghost = mock_secret("db/ghost", key);
  CHECK(ghost.type == secret::kind::scram);
  CHECK(ghost.scram.salt.size() == 16);
  CHECK(ghost.scram.iterations == 4096);
  CHECK(mock_secret("db/ghost", key).scram.salt == ghost.scram.salt);
  CHECK(mock_secret("db/other", key).scram.salt != ghost.scram.salt);
  CHECK(mock_secret("db/ghost", random_bytes(32)).scram.salt != ghost.scram.salt);
  auto guess = *parse_secret("guess", true);
  scram_client client(guess);
  scram_server server(ghost.scram);
  auto first = server.first(client.first());
  REQUIRE(first);
  std::string final;
  CHECK_FALSE(server.final(client.final(*first), final));
}

TEST_CASE("auth: secrets parse, garbage does not", "[unit]") {
  auto plain = parse_secret("pencil", true);
  REQUIRE(plain);
  CHECK(plain->type == secret::kind::plaintext);
  std::string text = "SCRAM-SHA-256$" + std::to_string(plain->scram.iterations) + ":" + base64_encode(plain->scram.salt) +
                     "$" + base64_encode({reinterpret_cast<const char*>(plain->scram.stored_key.data()), 32}) + ":" +
                     base64_encode({reinterpret_cast<const char*>(plain->scram.server_key.data()), 32});
  auto scram = parse_secret(text, false);
  REQUIRE(scram);
  CHECK(scram->type == secret::kind::scram);
  CHECK(scram->scram.stored_key == plain->scram.stored_key);
  CHECK(std::string(scram->type_name()) == "SCRAM");
  CHECK(parse_secret("md5" + std::string(32, 'a'), false)->type == secret::kind::md5);
  CHECK_FALSE(parse_secret("SCRAM-SHA-256$x:y$z", false));
  CHECK_FALSE(parse_secret("SCRAM-SHA-256$4096:!!!!$a:b", false));
  CHECK_FALSE(parse_secret("plain", false));
  // PostgreSQL's md5 format: "md5" + md5(password + user); echo -n secretbob | md5sum
  CHECK(md5_password_hash("secret", "bob") == "md5" + std::string("21f3163f8f86fa10bdefbfbd502a8f06"));
  CHECK(md5_password_hash("secret", "bob").size() == 35);
}

TEST_CASE("auth: a SCRAM exchange verifies and reveals the ClientKey, a wrong proof fails", "[unit]") {
  auto stored = parse_secret("pencil", true);
  REQUIRE(stored);
  secret client_side = *stored;  // plaintext: what libpq would compute
  scram_client client(client_side);
  scram_server server(stored->scram);
  auto server_first = server.first(client.first());
  REQUIRE(server_first);
  auto client_final = client.final(*server_first);
  std::string server_final;
  auto key = server.final(client_final, server_final);
  REQUIRE(key);
  CHECK(*key == *stored->client_key);
  CHECK(client.verify(server_final));

  // Pass-through: the recovered keys log in against the same verifier.
  secret pass = *parse_secret("SCRAM-SHA-256$" + std::to_string(stored->scram.iterations) + ":" +
                                  base64_encode(stored->scram.salt) + "$" +
                                  base64_encode({reinterpret_cast<const char*>(stored->scram.stored_key.data()), 32}) +
                                  ":" + base64_encode({reinterpret_cast<const char*>(stored->scram.server_key.data()), 32}),
                              false);
  pass.client_key = *key;
  scram_client relay(pass);
  scram_server backend(stored->scram);
  auto first2 = backend.first(relay.first());
  REQUIRE(first2);
  std::string final2;
  CHECK(backend.final(relay.final(*first2), final2));
  CHECK(relay.verify(final2));

  auto wrong = parse_secret("crayon", true);
  scram_client bad(*wrong);
  scram_server server3(stored->scram);
  auto first3 = server3.first(bad.first());
  REQUIRE(first3);
  std::string final3;
  CHECK_FALSE(server3.final(bad.final(*first3), final3));
  scram_server server4(stored->scram);
  CHECK_FALSE(server4.first("p=tls-server-end-point,,n=,r=abc"));
  CHECK_FALSE(server4.first("garbage"));
}

TEST_CASE("auth_cache: TTL, negative TTL, refetch rate limit", "[unit]") {
  auth_cache cache(10s, 2s, 1s);
  auto t0 = auth_cache::clock::now();
  CHECK(cache.find("alice", t0) == nullptr);
  cache.store("alice", parse_secret("md5" + std::string(32, 'b'), false), t0);
  cache.store("nobody", std::nullopt, t0);
  REQUIRE(cache.find("alice", t0 + 9s));
  CHECK(cache.find("alice", t0 + 9s)->value);
  REQUIRE(cache.find("nobody", t0 + 1s));
  CHECK_FALSE(cache.find("nobody", t0 + 1s)->value);
  CHECK(cache.find("nobody", t0 + 3s) == nullptr);
  CHECK(cache.find("alice", t0 + 11s) == nullptr);
  CHECK(cache.allow_refetch("alice", t0));
  CHECK_FALSE(cache.allow_refetch("alice", t0 + 500ms));
  CHECK(cache.allow_refetch("alice", t0 + 1500ms));
  cache.store("alice", parse_secret("md5" + std::string(32, 'c'), false), t0 + 1500ms);
  CHECK(cache.rows(t0 + 1500ms).at(0).e->last_refetch);
  cache.clear();
  CHECK(cache.rows(t0).empty());
}
