// obs::error: the one exception type obs throws, and obs::errc, what went wrong.
//
// obs throws only for programming errors that would otherwise corrupt an
// exposition: an invalid metric or label name, a reserved label, one name
// registered with two types, a family used with the wrong label keys, bad
// histogram buckets. Recording never throws; neither does an OBS_* macro
// (see metrics.hpp for what happens when its registration is refused). Catch `obs::error` (or
// `std::invalid_argument`) and read `code()` to tell the cases apart:
//
//   try {
//     reg.gauge("jobs_total");  // already a counter
//   } catch (const obs::error& e) {
//     assert(e.code() == obs::errc::type_mismatch);
//   }
#pragma once

#include <stdexcept>
#include <string>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN

/// Why obs refused a call.
enum class errc {
  invalid_metric_name,  ///< not `[a-zA-Z_:][a-zA-Z0-9_:]*`
  invalid_label_name,   ///< not `[a-zA-Z_][a-zA-Z0-9_]*`, or starts with `__`
  reserved_label_name,  ///< `le` on a histogram, `quantile` on a summary
  duplicate_label_name, ///< one label key given twice
  type_mismatch,        ///< the name is already registered with another type
  label_keys_mismatch,  ///< label keys differ from the family's keys
  invalid_buckets,      ///< bucket bounds not finite and strictly increasing
  invalid_unit,         ///< unit not `[a-z0-9_]+`, or not a suffix of the name
  already_configured,   ///< configuration given after the family was created
  name_conflict,        ///< the family's exposed sample names clash with another family's
  duplicate_callback,   ///< a callback already feeds that series
  invalid_argument,     ///< any other bad argument (see the message)
};

/// The exception obs throws for a refused call; `what()` names the culprit.
class error : public std::invalid_argument {
 public:
  error(errc code, const std::string& message) : std::invalid_argument(message), code_(code) {}

  /// What went wrong, for programmatic handling.
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

OBS_NAMESPACE_END
