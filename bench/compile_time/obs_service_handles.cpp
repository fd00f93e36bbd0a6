// Compile-time case: what a hot file of an example service includes, its
// metrics.hpp of handles over <obs/handles.hpp> (a counter array by status, a
// family for a runtime label, a histogram), and three recordings.
#include <obs/handles.hpp>

#include <array>
#include <string_view>

struct service_metrics {
  std::array<obs::counter_handle, 3> requests;  // by status
  obs::counter_family_handle errors;            // by route
  obs::histogram_handle duration;
};

void handle_request(service_metrics& m, int status, std::string_view route, double seconds) {
  m.requests[static_cast<std::size_t>(status)].increment();
  if (status != 0) m.errors.with(route).increment();
  m.duration.record(seconds);
}
