#include "auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace pooler {
namespace {

constexpr int default_iterations = 4096;

key256 hmac(const key256& key, std::string_view data) {
  key256 out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

key256 sha256(const key256& data) {
  key256 out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

key256 salted_password(std::string_view password, std::string_view salt, int iterations) {
  key256 out{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), static_cast<int>(out.size()), out.data());
  return out;
}

key256 hmac_text(const key256& key, const char* text) { return hmac(key, text); }

std::string_view as_view(const key256& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }

std::optional<key256> as_key(std::string_view raw) {
  if (raw.size() != 32) return std::nullopt;
  key256 k{};
  for (std::size_t i = 0; i < 32; ++i) k[i] = static_cast<unsigned char>(raw[i]);
  return k;
}

// The value of attribute `name` ("r", "s", ...) in a SCRAM message's
// comma-separated `name=value` list, or nullopt.
std::optional<std::string_view> attribute(std::string_view message, char name) {
  while (!message.empty()) {
    auto comma = message.find(',');
    auto part = message.substr(0, comma);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return part.substr(2);
    if (comma == std::string_view::npos) break;
    message.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

bool equal_keys(const key256& a, const key256& b) {
  unsigned char diff = 0;  // constant time: a proof check must not leak where it differs
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

const char* secret::type_name() const noexcept {
  switch (type) {
    case kind::scram: return "SCRAM";
    case kind::md5: return "MD5";
    case kind::plaintext: break;
  }
  return "PLAIN";
}

std::string base64_encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string md5_password_hash(std::string_view password, std::string_view user) {
  std::string data(password);
  data += user;
  return "md5" + md5_hex(data);
}

std::string md5_response(std::string_view stored_hash, std::string_view salt) {
  std::string data(stored_hash.substr(3));
  data += salt;
  return "md5" + md5_hex(data);
}

std::optional<secret> parse_secret(std::string_view text, bool allow_plaintext) {
  secret s;
  s.text = text;
  if (text.starts_with("SCRAM-SHA-256$")) {
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    auto rest = text.substr(14);
    auto colon = rest.find(':');
    auto dollar = rest.find('$');
    if (colon == std::string_view::npos || dollar == std::string_view::npos || dollar < colon) return std::nullopt;
    auto iter_text = rest.substr(0, colon);
    auto [end, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), s.scram.iterations);
    if (ec != std::errc{} || end != iter_text.data() + iter_text.size() || s.scram.iterations <= 0) return std::nullopt;
    auto salt = base64_decode(rest.substr(colon + 1, dollar - colon - 1));
    auto keys = rest.substr(dollar + 1);
    auto key_colon = keys.find(':');
    if (!salt || key_colon == std::string_view::npos) return std::nullopt;
    auto stored = base64_decode(keys.substr(0, key_colon));
    auto server = base64_decode(keys.substr(key_colon + 1));
    if (!stored || !server) return std::nullopt;
    auto stored_key = as_key(*stored);
    auto server_key = as_key(*server);
    if (!stored_key || !server_key) return std::nullopt;
    s.type = secret::kind::scram;
    s.scram.salt = *salt;
    s.scram.stored_key = *stored_key;
    s.scram.server_key = *server_key;
    return s;
  }
  if (text.size() == 35 && text.starts_with("md5") &&
      text.substr(3).find_first_not_of("0123456789abcdef") == std::string_view::npos) {
    s.type = secret::kind::md5;
    return s;
  }
  if (!allow_plaintext || text.empty()) return std::nullopt;
  s.type = secret::kind::plaintext;
  s.scram.iterations = default_iterations;
  s.scram.salt = random_bytes(16);
  auto salted = salted_password(text, s.scram.salt, s.scram.iterations);
  s.client_key = hmac_text(salted, "Client Key");
  s.scram.stored_key = sha256(*s.client_key);
  s.scram.server_key = hmac_text(salted, "Server Key");
  return s;
}

secret mock_secret(std::string_view user, std::string_view key) {
  key256 k{};
  for (std::size_t i = 0; i < k.size() && i < key.size(); ++i) k[i] = static_cast<unsigned char>(key[i]);
  auto derive = [&](const char* what) { return hmac(k, std::string(what) + std::string(user)); };
  secret s;
  s.type = secret::kind::scram;
  s.scram.iterations = default_iterations;
  s.scram.salt = std::string(as_view(derive("salt:")).substr(0, 16));
  s.scram.stored_key = derive("stored:");
  s.scram.server_key = derive("server:");
  return s;
}

std::optional<std::string> scram_server::first(std::string_view client_first) {
  // gs2-header: "n,," (no channel binding) or "y,," (client could but thinks
  // we cannot); "p=" asks for binding we do not offer without TLS.
  if (!(client_first.starts_with("n,") || client_first.starts_with("y,"))) return std::nullopt;
  auto second_comma = client_first.find(',', 2);
  if (second_comma == std::string_view::npos) return std::nullopt;
  client_first_bare_ = client_first.substr(second_comma + 1);
  auto client_nonce = attribute(client_first_bare_, 'r');
  if (!client_nonce || client_nonce->empty()) return std::nullopt;
  nonce_ = std::string(*client_nonce) + base64_encode(random_bytes(18));
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) + ",i=" + std::to_string(secret_.iterations);
  return server_first_;
}

std::optional<key256> scram_server::final(std::string_view client_final, std::string& server_final) {
  auto proof_at = client_final.rfind(",p=");
  if (proof_at == std::string_view::npos) return std::nullopt;
  auto without_proof = client_final.substr(0, proof_at);
  auto nonce = attribute(without_proof, 'r');
  if (!nonce || *nonce != nonce_) return std::nullopt;
  auto proof_raw = base64_decode(client_final.substr(proof_at + 3));
  if (!proof_raw) return std::nullopt;
  auto proof = as_key(*proof_raw);
  if (!proof) return std::nullopt;
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  key256 signature = hmac(secret_.stored_key, auth_message);
  key256 client_key{};
  for (std::size_t i = 0; i < 32; ++i) client_key[i] = (*proof)[i] ^ signature[i];
  if (!equal_keys(sha256(client_key), secret_.stored_key)) return std::nullopt;
  server_final = "v=" + base64_encode(as_view(hmac(secret_.server_key, auth_message)));
  return client_key;
}

std::string scram_client::first() {
  nonce_ = base64_encode(random_bytes(18));
  // PostgreSQL takes the user from the startup packet and ignores n=.
  client_first_bare_ = "n=,r=" + nonce_;
  return "n,," + client_first_bare_;
}

std::string scram_client::final(std::string_view server_first) {
  auto nonce = attribute(server_first, 'r');
  auto salt_text = attribute(server_first, 's');
  auto iter_text = attribute(server_first, 'i');
  if (!nonce || !salt_text || !iter_text || !nonce->starts_with(nonce_)) throw std::runtime_error("malformed SCRAM server-first-message");
  auto salt = base64_decode(*salt_text);
  int iterations = 0;
  auto [end, ec] = std::from_chars(iter_text->data(), iter_text->data() + iter_text->size(), iterations);
  if (!salt || ec != std::errc{} || iterations <= 0) throw std::runtime_error("malformed SCRAM server-first-message");
  key256 client_key{};
  if (secret_.type == secret::kind::plaintext) {
    auto salted = salted_password(secret_.text, *salt, iterations);
    client_key = hmac_text(salted, "Client Key");
    server_key_ = hmac_text(salted, "Server Key");
  } else if (secret_.type == secret::kind::scram && secret_.client_key) {
    // Pass-through: the keys are only right for the verifier they came from.
    if (*salt != secret_.scram.salt || iterations != secret_.scram.iterations)
      throw std::runtime_error("the server's SCRAM verifier differs from the one the client logged in with");
    client_key = *secret_.client_key;
    server_key_ = secret_.scram.server_key;
  } else {
    throw std::runtime_error("no password or SCRAM keys to answer the server's SCRAM challenge");
  }
  std::string without_proof = "c=biws,r=" + std::string(*nonce);
  auth_message_ = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  key256 signature = hmac(sha256(client_key), auth_message_);
  key256 proof{};
  for (std::size_t i = 0; i < 32; ++i) proof[i] = client_key[i] ^ signature[i];
  return without_proof + ",p=" + base64_encode(as_view(proof));
}

bool scram_client::verify(std::string_view server_final) const {
  auto v = attribute(server_final, 'v');
  if (!v) return false;
  return *v == base64_encode(as_view(hmac(server_key_, auth_message_)));
}

}  // namespace pooler
