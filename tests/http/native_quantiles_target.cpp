// A scrape target for native_quantiles_scrape.py: an obs registry with one
// native histogram (schema 5), served with the protobuf format on an
// ephemeral loopback port. Prints "port <port>", then waits for a line on
// stdin and records every value of the file it names (one per line) into
// `native_latency_seconds{exemplar trace_id="..."}`, with the first value's
// exemplar, prints "recorded", and runs until stdin closes.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "obs/http.hpp"
#include "obs/protobuf.hpp"
#include "obs/registry.hpp"

int main() {
  obs::registry reg;
  reg.set_histogram_config(obs::matcher::full("native_latency_seconds"), obs::histogram_config::native());
  obs::histogram h = reg.histogram("native_latency_seconds");
  obs::http::options o;
  o.port = 0;
  auto server = obs::http::serve(o, reg, obs::protobuf::render_to);
  std::printf("port %u\n", unsigned{server->port()});
  std::fflush(stdout);
  std::string path;
  if (!std::getline(std::cin, path)) return 1;
  std::ifstream values(path);
  bool first = true;
  for (double v; values >> v; first = false) {
    if (first) h.record(v, {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}});
    else h.record(v);
  }
  std::printf("recorded\n");
  std::fflush(stdout);
  while (std::getline(std::cin, path)) {
  }
  return 0;
}
