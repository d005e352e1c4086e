// Cache-line-aligned vectors for activation buffers: unaligned 64-byte loads straddle two cache lines, which costs
// the AVX-512 kernels up to a third of their throughput.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace arq {

template <typename T, std::size_t Alignment = 64>
struct AlignedAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, Alignment>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, Alignment>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Alignment})); }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{Alignment}); }
  template <typename U>
  bool operator==(const AlignedAllocator<U, Alignment>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const AlignedAllocator<U, Alignment>&) const {
    return false;
  }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace arq
