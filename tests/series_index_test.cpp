// detail::series_index, the open-addressing index a family finds its series
// in: every series inserted is found until it is erased, whatever the hashes
// collide on and wherever a probe run wraps around the table's end.
#include "obs/detail/series_index.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "obs/registry.hpp"  // defines free_series, which series_cells.hpp declares

namespace {

using obs::detail::series_state;

struct owned_series {
  std::vector<series_state*> all;
  ~owned_series() {
    for (series_state* s : all) series_state::destroy(s);
  }
  series_state* make(const std::string& value, std::uint64_t hash) {
    std::string_view v = value;
    series_state* s = series_state::create({&v, 1});
    s->hash = hash;
    all.push_back(s);
    return s;
  }
};

std::string_view value_of(const series_state* s) { return s->values()[0]; }

}  // namespace

TEST_CASE("the series index finds what it holds through collisions, erasures and growth") {
  owned_series pool;
  obs::detail::series_index index;
  std::map<std::string, series_state*> model;
  std::mt19937_64 random(42);
  // Eight distinct hashes for 4,000 series: long runs of equal hashes, and
  // runs that wrap around the end of the table.
  auto hash_of = [](int i) { return std::uint64_t(i % 8) * 0x2545f4914f6cdd1dull; };
  for (int round = 0; round < 4000; ++round) {
    const int i = static_cast<int>(random() % 600);
    const std::string value = "v" + std::to_string(i);
    std::string_view v = value;
    series_state* found = index.find({&v, 1}, hash_of(i));
    auto known = model.find(value);
    REQUIRE((found == nullptr) == (known == model.end()));
    if (found) {
      CHECK(found == known->second);
      if (random() % 2) {
        index.erase(found);
        model.erase(known);
      }
    } else {
      series_state* s = pool.make(value, hash_of(i));
      index.insert(s);
      model.emplace(value, s);
    }
    REQUIRE(index.size() == model.size());
  }
  std::size_t visited = 0;
  index.for_each([&](series_state* s) {
    ++visited;
    CHECK(model.at(std::string(value_of(s))) == s);
  });
  CHECK(visited == model.size());
  for (const auto& [value, s] : model) {
    std::string_view v = value;
    CHECK(index.find({&v, 1}, s->hash) == s);
  }
}

TEST_CASE("a moved-from series index is empty") {
  owned_series pool;
  obs::detail::series_index index;
  for (int i = 0; i < 100; ++i) index.insert(pool.make("v" + std::to_string(i), std::uint64_t(i) * 977));
  obs::detail::series_index taken(std::move(index));
  CHECK(taken.size() == 100);
  CHECK(index.empty());
  std::string_view v = "v7";
  CHECK(index.find({&v, 1}, 7 * 977) == nullptr);
  CHECK(taken.find({&v, 1}, 7 * 977) != nullptr);
  index.insert(pool.make("again", 1));
  CHECK(index.size() == 1);
}
