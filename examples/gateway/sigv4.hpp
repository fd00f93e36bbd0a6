// gateway::sigv4: AWS Signature Version 4 for S3 requests, computed with
// OpenSSL (SHA-256, HMAC-SHA256). Pure: it builds the Authorization header
// from a request's parts and sends nothing.
//
// Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
// and, for S3's payload hash header, https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace gateway::sigv4 {

/// A signing identity.
struct credentials {
  std::string access_key;
  std::string secret_key;
};

/// What is signed: method, URI-encoded path, canonical query string (already
/// sorted and encoded, "" for none), headers to sign (lower-case names, the
/// map keeps them sorted) and the hex SHA-256 of the payload.
struct request {
  std::string method;
  std::string canonical_uri;
  std::string canonical_query;
  std::map<std::string, std::string> headers;
  std::string payload_sha256;
};

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// `s` URI-encoded as SigV4 wants: unreserved characters kept, '/' kept
/// unless `encode_slash`, everything else %XX upper-case.
std::string uri_encode(std::string_view s, bool encode_slash);

/// The canonical request text (step 1 of the spec), for diagnostics and tests.
std::string canonical_request(const request& r);

/// The value of the Authorization header for `r`, signed at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`, also sent as x-amz-date) for `region` and `service`.
std::string authorization(const credentials& c, std::string_view region, std::string_view service,
                          std::string_view amz_date, const request& r);

/// The current UTC time as `YYYYMMDDTHHMMSSZ`.
std::string amz_date_now();

}  // namespace gateway::sigv4
