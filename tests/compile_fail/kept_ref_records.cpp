// A with() result kept in a variable may name a recycled series: recording
// through it must not compile (convert it to an owning handle instead).
#include "obs/registry.hpp"
void f(obs::registry& reg) {
  auto kept = reg.counter_family("a_total", {"k"}).with("v");
  kept.increment();
}
