// Memory for the one read in flight on a connection, so that starting a read
// allocates nothing. Asio's per-thread cache of operation memory holds two
// blocks; once clients queue for connections, more reads than that are in
// flight, and each read started past it was a malloc and a free.
#pragma once

#include <cstddef>
#include <new>

namespace pooler {

class read_memory {
 public:
  read_memory() = default;
  read_memory(const read_memory&) = delete;
  read_memory& operator=(const read_memory&) = delete;

  void* allocate(std::size_t size) {
    if (in_use_ || size > sizeof(storage_)) return ::operator new(size);
    in_use_ = true;
    return storage_;
  }
  void deallocate(void* p) noexcept {
    if (p == storage_) in_use_ = false;
    else ::operator delete(p);
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[256];
  bool in_use_ = false;
};

/// The allocator a read's handler carries (asio::bind_allocator): the
/// connection's read_memory, which the handler keeps alive.
template <class T>
struct read_allocator {
  using value_type = T;
  explicit read_allocator(read_memory& m) noexcept : memory(&m) {}
  template <class U>
  read_allocator(const read_allocator<U>& other) noexcept : memory(other.memory) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(memory->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory->deallocate(p); }
  friend bool operator==(const read_allocator& a, const read_allocator& b) noexcept { return a.memory == b.memory; }
  read_memory* memory;
};

}  // namespace pooler
