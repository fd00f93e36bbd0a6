#include "pgwire/messages.hpp"

#include "pgwire/codec.hpp"
#include "pgwire/protocol.hpp"

namespace pgwire {

// ---- startup phase --------------------------------------------------------

std::string_view startup_packet::parameter(std::string_view name) const noexcept {
  for (const auto& [key, value] : parameters) {
    if (key == name) return value;
  }
  return {};
}

startup_packet parse_startup(std::string_view body) {
  body_reader in(body);
  startup_packet packet;
  packet.version = in.int32();
  switch (packet.version) {
    case ssl_request_code:
      packet.type = startup_packet::kind::ssl_request;
      return packet;
    case gssenc_request_code:
      packet.type = startup_packet::kind::gssenc_request;
      return packet;
    case cancel_request_code:
      packet.type = startup_packet::kind::cancel_request;
      packet.process_id = in.int32();
      packet.secret_key = in.int32();
      return packet;
    case protocol_v3:
      break;
    default:
      throw protocol_error("unsupported frontend protocol " + std::to_string(packet.version >> 16) +
                           "." + std::to_string(packet.version & 0xffff));
  }
  // Name/value pairs, then one empty name.
  for (;;) {
    auto name = in.cstring();
    if (name.empty()) break;
    auto value = in.cstring();
    packet.parameters.emplace_back(name, value);
  }
  if (packet.parameter("user").empty()) {
    throw protocol_error("no PostgreSQL user name specified in startup packet");
  }
  return packet;
}

void startup_message(std::string& out,
                     std::span<const std::pair<std::string, std::string>> parameters) {
  message_writer w(out, '\0');
  w.int32(protocol_v3);
  for (const auto& [name, value] : parameters) w.cstring(name).cstring(value);
  w.int8(0).finish();
}

void ssl_request(std::string& out) { message_writer(out, '\0').int32(ssl_request_code).finish(); }

void cancel_request(std::string& out, std::int32_t process_id, std::int32_t secret_key) {
  message_writer(out, '\0').int32(cancel_request_code).int32(process_id).int32(secret_key).finish();
}

// ---- authentication -------------------------------------------------------

authentication_request parse_authentication(std::string_view body) {
  body_reader in(body);
  authentication_request request;
  request.code = in.int32();
  request.data = in.rest();
  if (request.code == auth_code::md5 && request.data.size() != 4) {
    throw protocol_error("AuthenticationMD5Password without a 4-byte salt");
  }
  return request;
}

std::vector<std::string_view> parse_sasl_mechanisms(std::string_view data) {
  body_reader in(data);
  std::vector<std::string_view> mechanisms;
  for (auto name = in.cstring(); !name.empty(); name = in.cstring()) mechanisms.push_back(name);
  return mechanisms;
}

sasl_initial_response parse_sasl_initial_response(std::string_view body) {
  body_reader in(body);
  sasl_initial_response response;
  response.mechanism = in.cstring();
  const std::int32_t length = in.int32();
  response.data = length == -1 ? std::string_view{} : in.bytes(length);
  return response;
}

void authentication_ok(std::string& out) { message_writer(out, 'R').int32(auth_code::ok).finish(); }

void authentication_cleartext(std::string& out) {
  message_writer(out, 'R').int32(auth_code::cleartext).finish();
}

void authentication_md5(std::string& out, std::array<char, 4> salt) {
  message_writer(out, 'R').int32(auth_code::md5).bytes({salt.data(), salt.size()}).finish();
}

void authentication_sasl(std::string& out, std::span<const std::string_view> mechanisms) {
  message_writer w(out, 'R');
  w.int32(auth_code::sasl);
  for (auto name : mechanisms) w.cstring(name);
  w.int8(0).finish();
}

void authentication_sasl_continue(std::string& out, std::string_view data) {
  message_writer(out, 'R').int32(auth_code::sasl_continue).bytes(data).finish();
}

void authentication_sasl_final(std::string& out, std::string_view data) {
  message_writer(out, 'R').int32(auth_code::sasl_final).bytes(data).finish();
}

void password_message(std::string& out, std::string_view password) {
  message_writer(out, 'p').cstring(password).finish();
}

void sasl_initial_response_message(std::string& out, std::string_view mechanism,
                                   std::string_view data) {
  message_writer(out, 'p')
      .cstring(mechanism)
      .int32(static_cast<std::int32_t>(data.size()))
      .bytes(data)
      .finish();
}

void sasl_response(std::string& out, std::string_view data) {
  message_writer(out, 'p').bytes(data).finish();
}

// ---- session --------------------------------------------------------------

void parameter_status(std::string& out, std::string_view name, std::string_view value) {
  message_writer(out, 'S').cstring(name).cstring(value).finish();
}

std::pair<std::string_view, std::string_view> parse_parameter_status(std::string_view body) {
  body_reader in(body);
  auto name = in.cstring();
  auto value = in.cstring();
  return {name, value};
}

void backend_key_data(std::string& out, std::int32_t process_id, std::int32_t secret_key) {
  message_writer(out, 'K').int32(process_id).int32(secret_key).finish();
}

std::pair<std::int32_t, std::int32_t> parse_backend_key_data(std::string_view body) {
  body_reader in(body);
  auto process_id = in.int32();
  auto secret_key = in.int32();
  return {process_id, secret_key};
}

void ready_for_query(std::string& out, char transaction_status) {
  message_writer(out, 'Z').int8(static_cast<std::int8_t>(transaction_status)).finish();
}

char parse_ready_for_query(std::string_view body) {
  body_reader in(body);
  auto status = static_cast<char>(in.int8());
  if (status != 'I' && status != 'T' && status != 'E') {
    throw protocol_error("ReadyForQuery with unknown transaction status");
  }
  return status;
}

void terminate(std::string& out) { message_writer(out, 'X').finish(); }

// ---- queries and results --------------------------------------------------

void query(std::string& out, std::string_view sql) { message_writer(out, 'Q').cstring(sql).finish(); }

std::string_view parse_query(std::string_view body) { return body_reader(body).cstring(); }

void row_description(std::string& out, std::span<const column> columns) {
  message_writer w(out, 'T');
  w.int16(static_cast<std::int16_t>(columns.size()));
  for (const auto& c : columns) {
    w.cstring(c.name)
        .int32(c.table_oid)
        .int16(c.column_number)
        .int32(c.type_oid)
        .int16(c.type_size)
        .int32(c.type_modifier)
        .int16(c.format);
  }
  w.finish();
}

std::vector<column> parse_row_description(std::string_view body) {
  body_reader in(body);
  const std::int16_t count = in.int16();
  if (count < 0) throw protocol_error("RowDescription with a negative column count");
  std::vector<column> columns;
  columns.reserve(static_cast<std::size_t>(count));
  for (std::int16_t i = 0; i < count; ++i) {
    column c;
    c.name = in.cstring();
    c.table_oid = in.int32();
    c.column_number = in.int16();
    c.type_oid = in.int32();
    c.type_size = in.int16();
    c.type_modifier = in.int32();
    c.format = in.int16();
    columns.push_back(std::move(c));
  }
  return columns;
}

void data_row(std::string& out, std::span<const std::optional<std::string_view>> values) {
  message_writer w(out, 'D');
  w.int16(static_cast<std::int16_t>(values.size()));
  for (const auto& value : values) {
    if (!value) {
      w.int32(-1);
      continue;
    }
    w.int32(static_cast<std::int32_t>(value->size())).bytes(*value);
  }
  w.finish();
}

std::vector<std::optional<std::string_view>> parse_data_row(std::string_view body) {
  body_reader in(body);
  const std::int16_t count = in.int16();
  if (count < 0) throw protocol_error("DataRow with a negative column count");
  std::vector<std::optional<std::string_view>> values;
  values.reserve(static_cast<std::size_t>(count));
  for (std::int16_t i = 0; i < count; ++i) {
    const std::int32_t length = in.int32();
    if (length == -1) {
      values.emplace_back(std::nullopt);
    } else {
      values.emplace_back(in.bytes(length));
    }
  }
  return values;
}

void command_complete(std::string& out, std::string_view tag) {
  message_writer(out, 'C').cstring(tag).finish();
}

std::string_view parse_command_complete(std::string_view body) { return body_reader(body).cstring(); }

void empty_query_response(std::string& out) { message_writer(out, 'I').finish(); }

// ---- errors and notices ---------------------------------------------------

namespace {

void write_fields(std::string& out, char type, const error_fields& e) {
  message_writer w(out, type);
  // 'S' is localised, 'V' never is; clients (psql, libpq) prefer 'V'.
  w.int8('S').cstring(e.severity).int8('V').cstring(e.severity);
  w.int8('C').cstring(e.sqlstate).int8('M').cstring(e.message);
  if (!e.detail.empty()) w.int8('D').cstring(e.detail);
  if (!e.hint.empty()) w.int8('H').cstring(e.hint);
  w.int8(0).finish();
}

}  // namespace

void error_response(std::string& out, const error_fields& error) { write_fields(out, 'E', error); }

void notice_response(std::string& out, const error_fields& notice) { write_fields(out, 'N', notice); }

error_fields parse_error_response(std::string_view body) {
  body_reader in(body);
  error_fields e;
  e.severity.clear();
  for (auto code = in.int8(); code != 0; code = in.int8()) {
    auto value = in.cstring();
    switch (code) {
      case 'V': e.severity = value; break;
      case 'S': if (e.severity.empty()) e.severity = value; break;
      case 'C': e.sqlstate = value; break;
      case 'M': e.message = value; break;
      case 'D': e.detail = value; break;
      case 'H': e.hint = value; break;
      default: break;  // position, where, file, line...: not needed
    }
  }
  return e;
}

}  // namespace pgwire
