// obs::http::gzip_compress: one-shot gzip (RFC 1952) of a response body with
// zlib.
//
// Use it to compress a body yourself when mounting the handler's formats in
// your own server; the handler calls it for clients whose Accept-Encoding
// allows gzip.
//
//   std::string packed = obs::http::gzip_compress(body);  // Content-Encoding: gzip
#pragma once

#include <string>
#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

/// Compresses `data` into a complete gzip member. `level` is zlib's, 1
/// (fastest) to 9 (smallest). Throws std::runtime_error if zlib fails, which
/// only happens when it cannot allocate.
///
///   res.body() = obs::http::gzip_compress(res.body(), 6);
std::string gzip_compress(std::string_view data, int level = 1);

}  // namespace http
OBS_NAMESPACE_END

#if OBS_HEADER_ONLY
#include "obs/http/gzip-inl.hpp"
#endif
