// 2-D convolution (cross-correlation, as PyTorch's conv2d), NCHW, float and double.
#pragma once

#include <cstdint>

#include "fieldconv/epilogue.hpp"
#include "fieldconv/shapes.hpp"
#include "fieldconv/tensor.hpp"

namespace fieldconv {

// Weights (out_channels, in_channels / groups, kernel_height, kernel_width), reordered once for
// the direct kernel: per group and block of out-channels, [in_channel][kh][kw][lane] (lanes
// beyond the group's out-channels are zero). A block is 64 or 128 bytes of out-channels, as the
// kernel family active at packing prefers; every family runs either width. Depthwise-style
// weights (one input channel per group) are kept as given. Immutable after construction; safe
// to share between threads.
template <class T>
class PackedConv2dWeights {
 public:
  // Only out_channels, in_channels, kernel size and groups of params are used.
  PackedConv2dWeights(const T* weight, const Conv2dParams& params);

  bool matches(const Conv2dParams& params) const noexcept;
  bool is_depthwise() const noexcept { return in_channels_per_group_ == 1; }
  std::int64_t block_width() const noexcept { return block_width_; }     // out-channels per block
  std::int64_t blocks_per_group() const noexcept { return blocks_per_group_; }
  std::int64_t groups() const noexcept { return groups_; }
  std::int64_t block_stride() const noexcept { return block_stride_; }  // elements per block
  const T* data() const noexcept { return data_.data(); }
  // Start of the packed weights of (group, block): in_channels_per_group * kh * kw * block_width.
  const T* block(std::int64_t group, std::int64_t block_index) const noexcept {
    return data_.data() + (group * blocks_per_group_ + block_index) * block_stride_;
  }

 private:
  std::int64_t out_channels_, in_channels_per_group_, kernel_height_, kernel_width_, groups_;
  std::int64_t block_width_ = 0, blocks_per_group_ = 0, block_stride_ = 0;
  AlignedBuffer<T> data_;
};

// y = conv2d(x, w) + b. x: (batch, in_channels, in_height, in_width), y: (batch, out_channels,
// out_height, out_width), both C-contiguous; bias may be null. epilogue: a residual added and an
// activation applied as each value is stored (epilogue.hpp; the default: none). Checks params
// (throwing std::invalid_argument) and that the packing matches them. The output must not
// overlap the input, the bias or the residual (std::invalid_argument: no in-place computation).
// Uses at most get_num_threads() threads (fewer for small calls; see runtime.hpp).
template <class T>
void conv2d_direct(const Conv2dParams& params, const T* input, const PackedConv2dWeights<T>& weight, const T* bias,
                   T* output, const ConvEpilogue<T>& epilogue = {});

// Same, packing the weights (out_channels, in_channels / groups, kh, kw) on the way.
template <class T>
void conv2d_direct(const Conv2dParams& params, const T* input, const T* weight, const T* bias, T* output,
                   const ConvEpilogue<T>& epilogue = {});

}  // namespace fieldconv
