// detail::string_list: a fixed list of strings in one allocation, seen as
// string_views that stay valid as long as the list (a family's label keys).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "obs/detail/config.hpp"

OBS_NAMESPACE_BEGIN
namespace detail {

class string_list {
 public:
  string_list() = default;
  explicit string_list(std::span<const std::string_view> strings) {
    std::size_t total = 0;
    for (std::string_view s : strings) total += s.size();
    bytes_ = std::make_unique<char[]>(total ? total : 1);
    views_.reserve(strings.size());
    char* at = bytes_.get();
    for (std::string_view s : strings) {
      if (!s.empty()) std::memcpy(at, s.data(), s.size());
      views_.emplace_back(at, s.size());
      at += s.size();
    }
  }
  // The views point into bytes_, which a move keeps in place.
  string_list(string_list&&) noexcept = default;
  string_list& operator=(string_list&&) noexcept = default;

  std::size_t size() const noexcept { return views_.size(); }
  bool empty() const noexcept { return views_.empty(); }
  std::string_view operator[](std::size_t i) const noexcept { return views_[i]; }
  const std::string_view* data() const noexcept { return views_.data(); }
  auto begin() const noexcept { return views_.begin(); }
  auto end() const noexcept { return views_.end(); }
  std::span<const std::string_view> span() const noexcept { return views_; }

  friend bool operator<(const string_list& a, const string_list& b) noexcept { return a.views_ < b.views_; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::vector<std::string_view> views_;
};

}  // namespace detail
OBS_NAMESPACE_END
