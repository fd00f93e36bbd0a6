// The program the core-only consumer builds: it records through obs::obs
// alone, with no exporter (and so no fmt), and prints what the snapshot holds
// for run_consumer.cmake to check against core_expected_output.txt.
#include <cstdio>
#include <string>

#include <obs/registry.hpp>
#include <obs/snapshot.hpp>

int main() {
  obs::registry reg;
  reg.counter("jobs_total", {{"queue", "mail"}}).increment(2);
  const obs::snapshot snap = reg.snapshot();

  std::string text;
  for (const obs::family_snapshot& family : snap.families()) {
    for (const obs::series_snapshot& series : family.series) {
      text += family.name;
      for (const obs::label_view& label : series.labels)
        ((((text += ' ') += label.name) += '=') += label.value);
      (text += ' ') += std::to_string(series.value.as_integer());
      text += '\n';
    }
  }
  std::fputs(text.c_str(), stdout);
}
