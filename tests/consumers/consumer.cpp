// The program every consumer project builds: it uses obs the way an
// application would and prints the result for run_consumer.cmake to check.
#include <cstdio>
#include <utility>

#include <obs/snapshot.hpp>

int main() {
  obs::snapshot_builder b;
  b.add_family("jobs_total", obs::metric_type::counter, "Jobs run.");
  b.add_series({{"queue", "mail"}}, obs::number::integer(1));
  obs::snapshot s = std::move(b).build();

  for (const obs::family_snapshot& f : s.families()) {
    std::printf("# TYPE %.*s %.*s\n", static_cast<int>(f.name.size()), f.name.data(),
                static_cast<int>(to_string(f.type).size()), to_string(f.type).data());
    for (const obs::series_snapshot& series : f.series) {
      std::printf("%.*s{", static_cast<int>(f.name.size()), f.name.data());
      for (const obs::label_view& l : series.labels)
        std::printf("%.*s=\"%.*s\"", static_cast<int>(l.name.size()), l.name.data(),
                    static_cast<int>(l.value.size()), l.value.data());
      std::printf("} %g\n", series.value.as_double());
    }
  }
}
