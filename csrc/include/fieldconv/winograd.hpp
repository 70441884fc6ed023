// Winograd F(m x m, 3 x 3) convolution (m = 2, 4, 6), NCHW, float and double: same results as
// conv2d_direct within each tile size's error bound (README, section "Winograd").
#pragma once

#include <cstdint>

#include "fieldconv/conv2d.hpp"
#include "fieldconv/shapes.hpp"
#include "fieldconv/tensor.hpp"

namespace fieldconv {

// Throws std::invalid_argument unless params describe a convolution Winograd can compute
// (3x3 kernel, stride 1, dilation 1; any padding and groups) and tile is 2, 4 or 6. The
// message names `algorithm` and the offending value.
void check_winograd_params(const Conv2dParams& params, int tile, const char* algorithm = "winograd");

// Weights (out_channels, in_channels / groups, 3, 3) transformed once, U = G g G^T (computed in
// double, rounded to T), and packed for the kernels: per group and position (alpha^2 = (m+2)^2
// of them), out-channel panels of panel_width lanes, each [in_channel][lane], zero past the
// group's out-channels. Memory: groups * alpha^2 * ceil(out/groups / panel_width) * panel_width
// * in_channels/groups elements (alpha^2/9 = 1.8x, 4x, 7.1x the weights for m = 2, 4, 6).
// Immutable after construction; safe to share between threads.
template <class T>
class WinogradWeights {
 public:
  // Two AVX2 registers (= one AVX-512 register: 64 bytes), the same for every kernel family, so
  // transformed weights stay valid when the kernel family changes.
  static constexpr std::int64_t panel_width = 2 * (32 / std::int64_t(sizeof(T)));

  // Only out_channels, in_channels, kernel size and groups of params are used.
  WinogradWeights(const T* weight, const Conv2dParams& params, int tile);

  bool matches(const Conv2dParams& params) const noexcept;
  int tile() const noexcept { return tile_; }
  int alpha() const noexcept { return tile_ + 2; }
  // False when a transformed weight is not finite (NaN/Inf weights, or |w| near the largest
  // T): conv2d_winograd then always declines, and callers use direct convolution.
  bool usable() const noexcept { return usable_; }
  // Largest |U| and |w| (both finite when usable()).
  double max_abs_transformed() const noexcept { return max_abs_transformed_; }
  double max_abs_weight() const noexcept { return max_abs_weight_; }
  std::int64_t groups() const noexcept { return groups_; }
  std::int64_t in_channels_per_group() const noexcept { return in_channels_per_group_; }
  std::int64_t panels_per_group() const noexcept { return panels_per_group_; }
  std::int64_t position_stride() const noexcept { return position_stride_; }
  std::int64_t group_stride() const noexcept { return group_stride_; }
  const T* data() const noexcept { return data_.data(); }
  std::int64_t size_bytes() const noexcept { return std::int64_t(data_.size() * sizeof(T)); }

 private:
  int tile_;
  std::int64_t out_channels_, in_channels_per_group_, groups_;
  std::int64_t panels_per_group_ = 0, position_stride_ = 0, group_stride_ = 0;
  bool usable_ = true;
  double max_abs_transformed_ = 0, max_abs_weight_ = 0;
  AlignedBuffer<T> data_;
};

// y = conv2d(x, w) + b by Winograd F(m x m, 3 x 3), m = weight.tile(). Same layout and
// conventions as conv2d_direct, overlap rule included (the direct fallback of the convenience
// overload below reads the input again after the Winograd pass wrote the output, so an
// in-place call could not be correct: it is refused). Checks params (std::invalid_argument). Returns false, leaving
// the output unspecified, when the result could differ from direct convolution in where NaN
// or Inf appear: weights not usable(), a non-finite input in a tile, or magnitudes whose
// products could overflow T (|transformed x| * |U| * channels near the largest T), or a bias
// beyond a quarter of the largest T. The caller then uses conv2d_direct. Workspace per thread:
// see README ("Winograd"): V up to 4 MiB, M up to 384 KiB (AVX-512 kernels: 1.5 MiB), 2 KiB more.
// With an epilogue that has a residual it also declines when a stored value (sum plus residual)
// is beyond half the largest T or not finite; the residual is only read, so the direct call
// after a decline sees it unchanged.
template <class T>
bool conv2d_winograd(const Conv2dParams& params, const T* input, const WinogradWeights<T>& weight, const T* bias,
                     T* output, const ConvEpilogue<T>& epilogue = {});

// Convenience: transforms the weights for tile m, and falls back to conv2d_direct whenever the
// Winograd path declines. Always computes the output.
template <class T>
void conv2d_winograd(const Conv2dParams& params, const T* input, const T* weight, const T* bias, T* output, int tile,
                     const ConvEpilogue<T>& epilogue = {});

}  // namespace fieldconv
