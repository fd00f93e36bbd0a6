#include "message_store.hpp"

#include <charconv>

namespace gateway {

using boost::asio::awaitable;

namespace {

// The body travels as hex both ways (decode($3, 'hex'), encode(body,
// 'hex')): libpq's text parameters end at the first NUL, and bytea's own
// text output depends on the server's bytea_output.
constexpr std::string_view message_columns =
    "id, room, user_id, encode(body, 'hex'), attachment, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// PostgreSQL's encode(..., 'hex'): lower-case pairs, nothing else.
std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

message row_to_message(const pg_rows& rows, int i) {
  message m;
  const std::string_view id = rows.at(i, 0);
  std::from_chars(id.data(), id.data() + id.size(), m.id);
  m.room = rows.at(i, 1);
  m.user = rows.at(i, 2);
  m.body = from_hex(rows.at(i, 3));
  if (!rows.is_null(i, 4)) m.attachment = std::string(rows.at(i, 4));
  m.created_at = rows.at(i, 5);
  return m;
}

// A Postgres text[] literal of `values`: {"a","b\"c"}.
std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

awaitable<void> message_store::migrate() {
  pg_pool::lease c = co_await pool_.acquire();
  co_await c.exec(
      "CREATE TABLE IF NOT EXISTS gateway_messages ("
      " id bigserial PRIMARY KEY, room text NOT NULL, user_id text NOT NULL, body bytea NOT NULL,"
      " attachment text, created_at timestamptz NOT NULL DEFAULT now())");
  // Gateways before bytea stored the body as text, which holds no NUL.
  co_await c.exec(
      "DO $$ BEGIN"
      " IF (SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()"
      "     AND table_name = 'gateway_messages' AND column_name = 'body') = 'text' THEN"
      "   ALTER TABLE gateway_messages ALTER COLUMN body TYPE bytea USING convert_to(body, 'UTF8');"
      " END IF;"
      " END $$");
  co_await c.exec("CREATE INDEX IF NOT EXISTS gateway_messages_room_id ON gateway_messages (room, id)");
  co_await c.exec(
      "CREATE TABLE IF NOT EXISTS gateway_acks ("
      " message_id bigint NOT NULL REFERENCES gateway_messages (id) ON DELETE CASCADE,"
      " user_id text NOT NULL, acked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (message_id, user_id))");
}

awaitable<message> message_store::insert(std::string room, std::string user, std::string body,
                                         std::optional<std::string> attachment) {
  // Named, not braced inside the co_await: g++ 12 cannot compile an
  // initializer list there ("array used as initializer").
  std::vector<std::optional<std::string>> params{std::move(room), std::move(user), to_hex(body),
                                                 std::move(attachment)};
  pg_pool::lease c = co_await pool_.acquire();
  pg_rows rows = co_await c.exec("INSERT INTO gateway_messages (room, user_id, body, attachment)"
                                 " VALUES ($1, $2, decode($3, 'hex'), $4) RETURNING " +
                                     std::string(message_columns),
                                 std::move(params));
  co_return row_to_message(rows, 0);
}

awaitable<std::vector<message>> message_store::history(std::string room, std::optional<std::int64_t> before,
                                                       int limit) {
  std::optional<std::string> before_text;
  if (before) before_text = std::to_string(*before);
  std::vector<std::optional<std::string>> params{std::move(room), std::move(before_text), std::to_string(limit)};
  pg_pool::lease c = co_await pool_.acquire();
  pg_rows rows = co_await c.exec("SELECT " + std::string(message_columns) +
                                     " FROM gateway_messages WHERE room = $1 AND ($2::bigint IS NULL OR id < $2::bigint)"
                                     " ORDER BY id DESC LIMIT $3",
                                 std::move(params));
  std::vector<message> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(row_to_message(rows, i));
  co_return out;
}

awaitable<std::size_t> message_store::record_acks(std::vector<ack> acks) {
  if (acks.empty()) co_return 0;
  std::vector<std::string> ids, users;
  ids.reserve(acks.size());
  users.reserve(acks.size());
  for (const ack& a : acks) {
    ids.push_back(std::to_string(a.message_id));
    users.push_back(a.user);
  }
  std::vector<std::optional<std::string>> params{text_array(ids), text_array(users)};
  pg_pool::lease c = co_await pool_.acquire();
  // The join skips ACKs for messages that do not exist instead of failing the batch.
  pg_rows rows = co_await c.exec(
      "WITH a AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS t(message_id, user_id)) "
      "INSERT INTO gateway_acks (message_id, user_id) "
      "SELECT a.message_id, a.user_id FROM a JOIN gateway_messages m ON m.id = a.message_id "
      "ON CONFLICT DO NOTHING RETURNING 1",
      std::move(params));
  co_return static_cast<std::size_t>(rows.size());
}

}  // namespace gateway
