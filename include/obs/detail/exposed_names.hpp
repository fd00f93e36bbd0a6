// detail::exposed_names: every name a family occupies in some exposition
// format, so that two families whose samples would share a name are refused.
//
// OpenMetrics names a family apart from its samples (counter `x_total` is
// family `x` with samples `x_total` and `x_created`), and Prometheus 0.0.4
// writes the registered name. A family claims all of them: counter `x_total`
// claims `x`, `x_total`, `x_created`; gauge `x` claims `x`; histogram `x`
// claims `x`, `x_bucket`, `x_count`, `x_sum`, `x_created`; summary `x` claims
// `x`, `x_count`, `x_sum`, `x_created`; info `x_info` claims `x`, `x_info`.
// Two families collide when their claims meet: counter `x_total` and gauge
// `x`, histogram `lat` and gauge `lat_count`, info `build` and gauge
// `build_info`.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "obs/detail/config.hpp"
#include "obs/metric_type.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

/// The names family `name` of type `type` claims; at most five.
struct exposed_names {
  std::array<std::string, 5> names;
  std::size_t size = 0;

  exposed_names(std::string_view name, metric_type type) {
    auto stem = [&](std::string_view suffix) {
      return name.size() > suffix.size() && name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size())
                                                                    : name;
    };
    auto add = [&](std::string_view base, std::string_view suffix) {
      names[size++] = std::string(base) + std::string(suffix);
    };
    switch (type) {
      case metric_type::counter: {
        std::string_view base = stem("_total");
        add(base, "");
        add(base, "_total");
        add(base, "_created");
        break;
      }
      case metric_type::gauge: add(name, ""); break;
      case metric_type::histogram:
        add(name, "");
        add(name, "_bucket");
        add(name, "_count");
        add(name, "_sum");
        add(name, "_created");
        break;
      case metric_type::summary:
        add(name, "");
        add(name, "_count");
        add(name, "_sum");
        add(name, "_created");
        break;
      case metric_type::info: {
        std::string_view base = stem("_info");
        add(base, "");
        add(base, "_info");
        break;
      }
    }
  }

  const std::string* begin() const noexcept { return names.data(); }
  const std::string* end() const noexcept { return names.data() + size; }
};

}  // namespace detail
OBS_NAMESPACE_END
