// Compile-time case: what the obs case does, in prometheus-cpp: register a
// labelled counter in a registry and increment it.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

void handle_request(prometheus::Registry& registry) {
  static prometheus::Counter& requests =
      prometheus::BuildCounter().Name("requests_total").Register(registry).Add({{"route", "/"}});
  requests.Increment();
}
