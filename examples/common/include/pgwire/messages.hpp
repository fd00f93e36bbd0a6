// The messages a pooler or proxy builds and inspects, as free functions:
// builders append one framed message to `out` (so several go out in one
// write); parsers take a message_view's body and throw protocol_error on
// malformed input.
// https://www.postgresql.org/docs/15/protocol-message-formats.html
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgwire {

// ---- startup phase --------------------------------------------------------

/// A connection's first packet, and what kind of request it is.
struct startup_packet {
  enum class kind { startup, ssl_request, gssenc_request, cancel_request };
  kind type = kind::startup;
  std::int32_t version = 0;
  /// StartupMessage parameters in order (user, database, options, ...).
  std::vector<std::pair<std::string, std::string>> parameters;
  /// CancelRequest's target.
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;

  /// The parameter's value, or empty if absent.
  std::string_view parameter(std::string_view name) const noexcept;
};

/// Parses a startup-phase body. Rejects unknown versions and a
/// StartupMessage without `user`.
startup_packet parse_startup(std::string_view body);

void startup_message(std::string& out,
                     std::span<const std::pair<std::string, std::string>> parameters);
void ssl_request(std::string& out);
void cancel_request(std::string& out, std::int32_t process_id, std::int32_t secret_key);

// ---- authentication -------------------------------------------------------

/// An 'R' message: `code` is one of auth_code; `data` the salt, the SASL
/// mechanism list or the SASL payload.
struct authentication_request {
  std::int32_t code = 0;
  std::string_view data;
};
authentication_request parse_authentication(std::string_view body);

/// The SASL mechanism names of an AuthenticationSASL body.
std::vector<std::string_view> parse_sasl_mechanisms(std::string_view data);

/// A SASLInitialResponse ('p' in reply to AuthenticationSASL).
struct sasl_initial_response {
  std::string_view mechanism;
  std::string_view data;
};
sasl_initial_response parse_sasl_initial_response(std::string_view body);

void authentication_ok(std::string& out);
void authentication_cleartext(std::string& out);
void authentication_md5(std::string& out, std::array<char, 4> salt);
void authentication_sasl(std::string& out, std::span<const std::string_view> mechanisms);
void authentication_sasl_continue(std::string& out, std::string_view data);
void authentication_sasl_final(std::string& out, std::string_view data);

/// PasswordMessage: a cleartext or MD5 password.
void password_message(std::string& out, std::string_view password);
void sasl_initial_response_message(std::string& out, std::string_view mechanism,
                                   std::string_view data);
void sasl_response(std::string& out, std::string_view data);

// ---- session --------------------------------------------------------------

void parameter_status(std::string& out, std::string_view name, std::string_view value);
/// Parses a ParameterStatus body into (name, value).
std::pair<std::string_view, std::string_view> parse_parameter_status(std::string_view body);

void backend_key_data(std::string& out, std::int32_t process_id, std::int32_t secret_key);
std::pair<std::int32_t, std::int32_t> parse_backend_key_data(std::string_view body);

/// Transaction status of ReadyForQuery: 'I' idle, 'T' in a transaction,
/// 'E' in a failed transaction.
void ready_for_query(std::string& out, char transaction_status);
char parse_ready_for_query(std::string_view body);

void terminate(std::string& out);

// ---- queries and results --------------------------------------------------

void query(std::string& out, std::string_view sql);
/// The SQL text of a Query ('Q') body.
std::string_view parse_query(std::string_view body);

/// One RowDescription column; every column the examples send is text format.
struct column {
  std::string name;
  std::int32_t type_oid = 0;
  std::int32_t table_oid = 0;
  std::int16_t column_number = 0;
  std::int16_t type_size = -1;
  std::int32_t type_modifier = -1;
  std::int16_t format = 0;
};
void row_description(std::string& out, std::span<const column> columns);
std::vector<column> parse_row_description(std::string_view body);

/// A DataRow; nullopt is SQL NULL.
void data_row(std::string& out, std::span<const std::optional<std::string_view>> values);
std::vector<std::optional<std::string_view>> parse_data_row(std::string_view body);

void command_complete(std::string& out, std::string_view tag);
std::string_view parse_command_complete(std::string_view body);
void empty_query_response(std::string& out);

// ---- errors and notices ---------------------------------------------------

/// The fields of an ErrorResponse or NoticeResponse the examples use.
struct error_fields {
  std::string severity = "ERROR";
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};
void error_response(std::string& out, const error_fields& error);
void notice_response(std::string& out, const error_fields& notice);
error_fields parse_error_response(std::string_view body);

}  // namespace pgwire
