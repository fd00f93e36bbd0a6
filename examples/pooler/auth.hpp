// Password secrets and the two challenge-response methods, both directions:
// verifying a client (SCRAM-SHA-256, MD5) and logging in to PostgreSQL with
// what the verification recovered (SCRAM pass-through, MD5 pass-the-hash).
// Crypto is OpenSSL's. RFC 5802 / RFC 7677; PostgreSQL's message flow:
// https://www.postgresql.org/docs/15/sasl-authentication.html
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace pooler {

using key256 = std::array<unsigned char, 32>;

/// A SCRAM-SHA-256 verifier as pg_authid stores it.
struct scram_secret {
  int iterations = 0;
  std::string salt;  ///< raw bytes
  key256 stored_key{};
  key256 server_key{};
};

/// What the pooler knows of a user's password.
struct secret {
  enum class kind { plaintext, md5, scram };
  kind type = kind::plaintext;
  std::string text;                 ///< as configured or fetched
  scram_secret scram;               ///< for scram and plaintext (derived)
  std::optional<key256> client_key;  ///< for plaintext, and after a SCRAM login
  /// "SCRAM", "MD5" or "PLAIN", as SHOW AUTH_QUERY_CACHE prints it.
  const char* type_name() const noexcept;
};

/// Parses a stored password: `SCRAM-SHA-256$...`, `md5` + 32 hex digits, or
/// anything else as plaintext (allowed only if `allow_plaintext`); nullopt if
/// it is none of those. A plaintext secret gets a SCRAM verifier with a random
/// salt so clients can still log in with SCRAM.
std::optional<secret> parse_secret(std::string_view text, bool allow_plaintext);

/// A SCRAM verifier that no password matches, for a user that does not
/// exist: the exchange runs all the same, so a client cannot tell an unknown
/// user from a wrong password (PostgreSQL's mock authentication). The salt
/// derives from `key` (random, one per process) and `user`, so that it is the
/// same on every attempt, as a real user's is.
secret mock_secret(std::string_view user, std::string_view key);

std::string base64_encode(std::string_view raw);
/// nullopt unless `text` is valid base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string random_bytes(std::size_t n);

/// "md5" + md5(password + user), as pg_authid stores it.
std::string md5_password_hash(std::string_view password, std::string_view user);
/// The PasswordMessage answering an MD5 challenge, from the stored hash ("md5...").
std::string md5_response(std::string_view stored_hash, std::string_view salt);

/// The server side of one SCRAM-SHA-256 exchange with a client.
class scram_server {
 public:
  explicit scram_server(const scram_secret& secret) : secret_(secret) {}
  /// Takes the client-first-message; returns the server-first-message, or
  /// nullopt if it is malformed or asks for channel binding.
  std::optional<std::string> first(std::string_view client_first);
  /// Takes the client-final-message; on a valid proof returns the ClientKey
  /// it reveals and sets `server_final`.
  std::optional<key256> final(std::string_view client_final, std::string& server_final);
  /// Checks the same exchange against a re-fetched verifier; only meaningful
  /// when its salt and iteration count are the ones the client was sent.
  void rebind(const scram_secret& secret) { secret_ = secret; }

 private:
  scram_secret secret_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
};

/// The client side of one SCRAM-SHA-256 exchange with PostgreSQL, from a
/// plaintext password or from ClientKey + ServerKey.
class scram_client {
 public:
  explicit scram_client(const secret& s) : secret_(s) {}
  std::string first();
  /// Returns the client-final-message; throws std::runtime_error on a
  /// malformed server-first-message or one that cannot be answered.
  std::string final(std::string_view server_first);
  /// Whether the server's signature proves it knew the verifier.
  bool verify(std::string_view server_final) const;

 private:
  const secret& secret_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string auth_message_;
  key256 server_key_{};
};

}  // namespace pooler
