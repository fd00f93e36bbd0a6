#include "sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <ctime>
#include <stdexcept>

namespace gateway::sigv4 {
namespace {

using digest = std::array<unsigned char, 32>;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  return out;
}

digest hmac(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &len) == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

std::string_view as_view(const digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

}  // namespace

std::string sha256_hex(std::string_view data) {
  digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return hex(out.data(), out.size());
}

std::string uri_encode(std::string_view s, bool encode_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

std::string canonical_request(const request& r) {
  std::string out = r.method + "\n" + r.canonical_uri + "\n" + r.canonical_query + "\n";
  std::string signed_headers;
  for (const auto& [name, value] : r.headers) {
    out += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  out += "\n" + signed_headers + "\n" + r.payload_sha256;
  return out;
}

std::string authorization(const credentials& c, std::string_view region, std::string_view service,
                          std::string_view amz_date, const request& r) {
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" + sha256_hex(canonical_request(r));
  const digest k_date = hmac("AWS4" + c.secret_key, date);
  const digest k_region = hmac(as_view(k_date), region);
  const digest k_service = hmac(as_view(k_region), service);
  const digest k_signing = hmac(as_view(k_service), "aws4_request");
  const digest signature = hmac(as_view(k_signing), to_sign);
  std::string signed_headers;
  for (const auto& [name, value] : r.headers) {
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + scope + ",SignedHeaders=" + signed_headers +
         ",Signature=" + hex(signature.data(), signature.size());
}

std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[17];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &utc);
  return buf;
}

}  // namespace gateway::sigv4
