// Compile-time case: include the obs facade and record at 20 call sites, ten
// OBS_COUNTER and ten OBS_HISTOGRAM, each site its own series, as an
// instrumented service file would. Target as for the one-site case (in
// compiled mode, no more than promcpp_counter.cpp); the gap between the two
// is the cost per site.
#include <obs/metrics.hpp>

void handle_request(int route, double seconds) {
  switch (route) {
    case 0:
      OBS_COUNTER("requests_total", "route", "/").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/").record(seconds);
      break;
    case 1:
      OBS_COUNTER("requests_total", "route", "/login").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/login").record(seconds);
      break;
    case 2:
      OBS_COUNTER("requests_total", "route", "/logout").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/logout").record(seconds);
      break;
    case 3:
      OBS_COUNTER("requests_total", "route", "/users").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/users").record(seconds);
      break;
    case 4:
      OBS_COUNTER("requests_total", "route", "/orders").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/orders").record(seconds);
      break;
    case 5:
      OBS_COUNTER("requests_total", "route", "/cart").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/cart").record(seconds);
      break;
    case 6:
      OBS_COUNTER("requests_total", "route", "/search").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/search").record(seconds);
      break;
    case 7:
      OBS_COUNTER("requests_total", "route", "/health").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/health").record(seconds);
      break;
    case 8:
      OBS_COUNTER("requests_total", "route", "/admin").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/admin").record(seconds);
      break;
    case 9:
      OBS_COUNTER("requests_total", "route", "/static").increment();
      OBS_HISTOGRAM("request_duration_seconds", "route", "/static").record(seconds);
      break;
  }
}
