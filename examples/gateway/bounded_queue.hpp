// gateway::bounded_queue: a FIFO that holds at most `capacity` items and
// refuses the rest, so a consumer that falls behind costs a known amount of
// memory and its producer never waits. Used for each WebSocket connection's
// outbound messages and for the server's ACK queue.
//
// Thread safety: none; each queue lives on the gateway's I/O thread. What a
// scrape reads from another thread is the atomic depth passed in, which the
// queue keeps equal to the sum of the sizes of every queue sharing it.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace gateway {

/// See the header comment.
template <class T>
class bounded_queue {
 public:
  /// A queue of at most `capacity` items whose size is also added to `depth`.
  bounded_queue(std::size_t capacity, std::atomic<std::size_t>& depth) : capacity_(capacity), depth_(&depth) {}
  bounded_queue(const bounded_queue&) = delete;
  bounded_queue& operator=(const bounded_queue&) = delete;
  ~bounded_queue() { clear(); }

  /// Appends `item`; false (and `item` untouched) when the queue is full.
  bool try_push(T&& item) {
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    // Ordering: relaxed; the depth is a statistic read at scrape time.
    depth_->fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Takes the oldest item, if any.
  std::optional<T> pop() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    // Ordering: as in try_push.
    depth_->fetch_sub(1, std::memory_order_relaxed);
    return item;
  }

  /// Drops everything queued (a connection that closed).
  void clear() {
    // Ordering: as in try_push.
    depth_->fetch_sub(items_.size(), std::memory_order_relaxed);
    items_.clear();
  }

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  std::atomic<std::size_t>* depth_;
  std::deque<T> items_;
};

}  // namespace gateway
