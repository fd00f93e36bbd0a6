// Definition of obs/http/gzip.hpp: the zlib calls.
#pragma once

#include <zlib.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/http/gzip.hpp"

OBS_NAMESPACE_BEGIN
namespace http {

OBS_INLINE std::string gzip_compress(std::string_view data, int level) {
  z_stream zs{};
  // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of the
  // zlib wrapper; memLevel 8 is zlib's default.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("obs::http::gzip_compress: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound guarantees one Z_FINISH call completes.
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("obs::http::gzip_compress: deflate failed");
  return out;
}

}  // namespace http
OBS_NAMESPACE_END
