#include "message_store.hpp"

#include <charconv>

namespace gateway {
namespace {

constexpr std::string_view message_columns =
    "id, room, user_id, body, attachment, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

message row_to_message(const pg_rows& rows, int i) {
  message m;
  const std::string_view id = rows.at(i, 0);
  std::from_chars(id.data(), id.data() + id.size(), m.id);
  m.room = rows.at(i, 1);
  m.user = rows.at(i, 2);
  m.body = rows.at(i, 3);
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

void message_store::migrate() {
  pg_pool::lease c = pool_.acquire(acquire_timeout_);
  c.exec(
      "CREATE TABLE IF NOT EXISTS gateway_messages ("
      " id bigserial PRIMARY KEY, room text NOT NULL, user_id text NOT NULL, body text NOT NULL,"
      " attachment text, created_at timestamptz NOT NULL DEFAULT now())");
  c.exec("CREATE INDEX IF NOT EXISTS gateway_messages_room_id ON gateway_messages (room, id)");
  c.exec(
      "CREATE TABLE IF NOT EXISTS gateway_acks ("
      " message_id bigint NOT NULL REFERENCES gateway_messages (id) ON DELETE CASCADE,"
      " user_id text NOT NULL, acked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (message_id, user_id))");
}

message message_store::insert(const std::string& room, const std::string& user, const std::string& body,
                              const std::optional<std::string>& attachment) {
  pg_pool::lease c = pool_.acquire(acquire_timeout_);
  std::optional<std::string_view> key;
  if (attachment) key = *attachment;
  pg_rows rows = c.exec("INSERT INTO gateway_messages (room, user_id, body, attachment) VALUES ($1, $2, $3, $4) "
                        "RETURNING " + std::string(message_columns),
                        {room, user, body, key});
  return row_to_message(rows, 0);
}

std::vector<message> message_store::history(const std::string& room, std::optional<std::int64_t> before, int limit) {
  pg_pool::lease c = pool_.acquire(acquire_timeout_);
  const std::string before_text = before ? std::to_string(*before) : std::string();
  std::optional<std::string_view> before_param;
  if (before) before_param = before_text;
  const std::string limit_text = std::to_string(limit);
  pg_rows rows = c.exec("SELECT " + std::string(message_columns) +
                            " FROM gateway_messages WHERE room = $1 AND ($2::bigint IS NULL OR id < $2::bigint)"
                            " ORDER BY id DESC LIMIT $3",
                        {room, before_param, limit_text});
  std::vector<message> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(row_to_message(rows, i));
  return out;
}

std::size_t message_store::record_acks(const std::vector<ack>& acks) {
  if (acks.empty()) return 0;
  std::vector<std::string> ids, users;
  ids.reserve(acks.size());
  users.reserve(acks.size());
  for (const ack& a : acks) {
    ids.push_back(std::to_string(a.message_id));
    users.push_back(a.user);
  }
  const std::string id_array = text_array(ids), user_array = text_array(users);
  pg_pool::lease c = pool_.acquire(acquire_timeout_);
  // The join skips ACKs for messages that do not exist instead of failing the batch.
  pg_rows rows = c.exec(
      "WITH a AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS t(message_id, user_id)) "
      "INSERT INTO gateway_acks (message_id, user_id) "
      "SELECT a.message_id, a.user_id FROM a JOIN gateway_messages m ON m.id = a.message_id "
      "ON CONFLICT DO NOTHING RETURNING 1",
      {id_array, user_array});
  return static_cast<std::size_t>(rows.size());
}

void message_store::ping() {
  pg_pool::lease c = pool_.acquire(acquire_timeout_);
  c.exec("SELECT 1");
}

}  // namespace gateway
