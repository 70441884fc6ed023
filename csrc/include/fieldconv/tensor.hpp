// Aligned, owning storage for workspaces and packed weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace fieldconv {

constexpr std::size_t workspace_alignment = 64;  // one cache line, and a multiple of any SIMD width

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t count) { reset(count); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = other.data_;
      size_ = other.size_;
      other.data_ = nullptr;
      other.size_ = 0;
    }
    return *this;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Reallocates to hold count elements (contents undefined). Throws std::bad_alloc.
  void reset(std::size_t count) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (count == 0) return;
    if (count > (SIZE_MAX - workspace_alignment) / sizeof(T)) throw std::bad_alloc();
    std::size_t bytes = count * sizeof(T);
    bytes = (bytes + workspace_alignment - 1) / workspace_alignment * workspace_alignment;
    data_ = static_cast<T*>(std::aligned_alloc(workspace_alignment, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    size_ = count;
  }
  void fill_zero() {
    if (data_) std::memset(static_cast<void*>(data_), 0, size_ * sizeof(T));
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace fieldconv
