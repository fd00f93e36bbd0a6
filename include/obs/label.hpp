// obs::label_view: one `name="value"` label, as registration takes labels
// and snapshots hand them out.
//
//   reg.counter("jobs_total", {{"queue", "mail"}});  // a list of label_view
#pragma once

#include <string_view>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// One label of a series: `name="value"`. Values are raw (unescaped) UTF-8.
struct label_view {
  std::string_view name;
  std::string_view value;
};

OBS_NAMESPACE_END
