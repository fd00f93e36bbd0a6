// PostgreSQL frontend/backend protocol v3: the codes and type OIDs a proxy or
// pooler needs, and the error every decoder throws.
// https://www.postgresql.org/docs/15/protocol-message-formats.html
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pgwire {

/// The startup packet's protocol version field for protocol 3.0.
inline constexpr std::int32_t protocol_v3 = 196608;
/// The "version" codes of the special startup-phase requests.
inline constexpr std::int32_t ssl_request_code = 80877103;
inline constexpr std::int32_t gssenc_request_code = 80877104;
inline constexpr std::int32_t cancel_request_code = 80877102;

/// Type OIDs used in RowDescription (pg_type.oid).
namespace type_oid {
inline constexpr std::int32_t boolean = 16;
inline constexpr std::int32_t int8 = 20;
inline constexpr std::int32_t int4 = 23;
inline constexpr std::int32_t text = 25;
inline constexpr std::int32_t float8 = 701;
inline constexpr std::int32_t numeric = 1700;
inline constexpr std::int32_t timestamptz = 1184;
}  // namespace type_oid

/// Authentication request codes ('R' messages).
namespace auth_code {
inline constexpr std::int32_t ok = 0;
inline constexpr std::int32_t cleartext = 3;
inline constexpr std::int32_t md5 = 5;
inline constexpr std::int32_t sasl = 10;
inline constexpr std::int32_t sasl_continue = 11;
inline constexpr std::int32_t sasl_final = 12;
}  // namespace auth_code

/// SQLSTATE codes the examples answer with.
namespace sqlstate {
inline constexpr const char* protocol_violation = "08P01";
inline constexpr const char* invalid_password = "28P01";
inline constexpr const char* invalid_authorization = "28000";
inline constexpr const char* too_many_connections = "53300";
inline constexpr const char* internal_error = "XX000";
inline constexpr const char* system_error = "58000";
inline constexpr const char* connection_failure = "08006";
inline constexpr const char* cannot_connect_now = "57P03";
inline constexpr const char* query_canceled = "57014";
}  // namespace sqlstate

/// Malformed or oversized protocol bytes. The connection that sent them
/// cannot be resynchronised and must be closed, after an ErrorResponse with
/// `sqlstate::protocol_violation` where the peer is a client.
class protocol_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pgwire
