// Public Winograd entry points: check arguments, transform weights, hand a job to the active kernel.
#include "fieldconv/winograd.hpp"

#include <cmath>
#include <limits>
#include <new>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/runtime.hpp"
#include "kernels/winograd_transforms.hpp"

namespace fieldconv {
namespace {

template <int M>
void transform_filter(const double (&g)[3][3], double* u) {
  using Tr = winograd::Transform<M>;
  constexpr int alpha = Tr::alpha;
  double gt[alpha][3];  // G g
  for (int a = 0; a < alpha; ++a)
    for (int j = 0; j < 3; ++j) gt[a][j] = Tr::G[a][0] * g[0][j] + Tr::G[a][1] * g[1][j] + Tr::G[a][2] * g[2][j];
  for (int a = 0; a < alpha; ++a)  // (G g) G^T
    for (int b = 0; b < alpha; ++b)
      u[a * alpha + b] = gt[a][0] * Tr::G[b][0] + gt[a][1] * Tr::G[b][1] + gt[a][2] * Tr::G[b][2];
}

void transform_filter(int tile, const double (&g)[3][3], double* u) {
  if (tile == 2) transform_filter<2>(g, u);
  else if (tile == 4) transform_filter<4>(g, u);
  else transform_filter<6>(g, u);
}

double output_growth(int tile) {
  if (tile == 2) return winograd::output_growth<2>();
  if (tile == 4) return winograd::output_growth<4>();
  return winograd::output_growth<6>();
}

}  // namespace

void check_winograd_params(const Conv2dParams& p, int tile, const char* algorithm) {
  if (tile != 2 && tile != 4 && tile != 6)
    throw_invalid("algorithm='", algorithm, "': Winograd tile must be 2, 4 or 6, got ", tile);
  if (p.kernel_height != 3 || p.kernel_width != 3)
    throw_invalid("algorithm='", algorithm, "' needs a 3x3 kernel, got kernel size (", p.kernel_height, ", ",
                  p.kernel_width, ")");
  if (p.stride_height != 1 || p.stride_width != 1)
    throw_invalid("algorithm='", algorithm, "' needs stride 1, got stride (", p.stride_height, ", ", p.stride_width,
                  ")");
  if (p.dilation_height != 1 || p.dilation_width != 1)
    throw_invalid("algorithm='", algorithm, "' needs dilation 1, got dilation (", p.dilation_height, ", ",
                  p.dilation_width, ")");
}

template <class T>
WinogradWeights<T>::WinogradWeights(const T* weight, const Conv2dParams& params, int tile)
    : tile_(tile), out_channels_(params.out_channels), groups_(params.groups) {
  if (weight == nullptr) throw_invalid("weight must not be null");
  Conv2dParams weight_only = params;
  weight_only.batch = 0;
  weight_only.in_height = weight_only.in_width = 3;
  weight_only.stride_height = weight_only.stride_width = 1;
  weight_only.dilation_height = weight_only.dilation_width = 1;
  weight_only.pad_top = weight_only.pad_bottom = weight_only.pad_left = weight_only.pad_right = 0;
  check_winograd_params(weight_only, tile);
  const Conv2dShape shape = conv2d_shape(weight_only);
  in_channels_per_group_ = shape.in_channels_per_group;
  const std::int64_t out_per_group = shape.out_channels_per_group;
  const std::int64_t alpha = tile + 2, positions = alpha * alpha;
  panels_per_group_ = (out_per_group + panel_width - 1) / panel_width;
  position_stride_ = checked_mul(checked_mul(panels_per_group_, in_channels_per_group_, "transformed weight size"),
                                 panel_width, "transformed weight size");
  group_stride_ = checked_mul(positions, position_stride_, "transformed weight size");
  data_.reset(std::size_t(checked_mul(group_stride_, groups_, "transformed weight size")));
  data_.fill_zero();
  double g[3][3], u[64];
  for (std::int64_t group = 0; group < groups_; ++group)
    for (std::int64_t oc = 0; oc < out_per_group; ++oc) {
      const std::int64_t panel = oc / panel_width, lane = oc % panel_width;
      for (std::int64_t ic = 0; ic < in_channels_per_group_; ++ic) {
        const T* src = weight + ((group * out_per_group + oc) * in_channels_per_group_ + ic) * 9;
        for (int k = 0; k < 9; ++k) {
          g[k / 3][k % 3] = double(src[k]);
          const double magnitude = std::fabs(g[k / 3][k % 3]);
          if (!(magnitude <= double(std::numeric_limits<T>::max()))) usable_ = false;
          else if (magnitude > max_abs_weight_) max_abs_weight_ = magnitude;
        }
        transform_filter(tile, g, u);
        T* dst = data_.data() + group * group_stride_ + panel * in_channels_per_group_ * panel_width +
                 ic * panel_width + lane;
        for (std::int64_t pos = 0; pos < positions; ++pos) {
          const T value = T(u[pos]);
          const double magnitude = std::fabs(double(value));
          if (!(magnitude <= double(std::numeric_limits<T>::max()))) usable_ = false;
          else if (magnitude > max_abs_transformed_) max_abs_transformed_ = magnitude;
          dst[pos * position_stride_] = value;
        }
      }
    }
}

template <class T>
bool WinogradWeights<T>::matches(const Conv2dParams& params) const noexcept {
  return params.out_channels == out_channels_ && params.groups == groups_ &&
         params.in_channels == in_channels_per_group_ * groups_ && params.kernel_height == 3 &&
         params.kernel_width == 3;
}

template <class T>
bool conv2d_winograd(const Conv2dParams& params, const T* input, const WinogradWeights<T>& weight, const T* bias,
                     T* output, const ConvEpilogue<T>& epilogue) {
  const Conv2dShape shape = conv2d_shape(params);
  check_winograd_params(params, weight.tile());
  if (!weight.matches(params))
    throw_invalid("Winograd weights were made for other channel counts, kernel size or groups");
  if (shape.output_elements == 0) return true;
  if (input == nullptr) throw_invalid("input must not be null");
  if (output == nullptr) throw_invalid("output must not be null");
  const std::int64_t output_bytes = shape.output_elements * std::int64_t(sizeof(T));
  check_disjoint(output, output_bytes, "output", input, shape.input_elements * std::int64_t(sizeof(T)), "input");
  check_disjoint(output, output_bytes, "output", bias, params.out_channels * std::int64_t(sizeof(T)), "bias");
  check_epilogue(epilogue, output, output_bytes);
  if (!weight.usable()) return false;
  constexpr double largest = double(std::numeric_limits<T>::max());
  if (bias != nullptr)
    for (std::int64_t c = 0; c < params.out_channels; ++c)
      if (std::fabs(double(bias[c])) > largest / 4 && std::isfinite(double(bias[c]))) return false;
  // |Y| <= growth^2 * channels * max|U| * max|V|; keep it (and direct's sums, bounded alike
  // through max|w|) far below the largest T. Margin 1024 covers the inverse transforms.
  const double growth = output_growth(weight.tile());
  const double scale = std::fmax(weight.max_abs_transformed(), weight.max_abs_weight());
  double limit = largest;
  if (scale > 0) limit = largest / (1024.0 * growth * growth * 9.0 * double(shape.in_channels_per_group) * scale);
  if (limit > largest) limit = largest;
  // Accessed atomically only (the kernel's threads read and set it), also here, so that a
  // thread sanitizer sees no race with a previous call's helper threads.
  int out_of_range;
  __atomic_store_n(&out_of_range, 0, __ATOMIC_RELAXED);
  const WinogradJob<T> job{params,
                           shape,
                           input,
                           {weight.data(), weight.tile(), WinogradWeights<T>::panel_width, weight.panels_per_group(),
                            weight.position_stride(), weight.group_stride()},
                           bias,
                           output,
                           threads_for_work(conv_work_ns<T>(conv2d_macs(shape, params), 2.0)),
                           T(limit),
                           &out_of_range,
                           epilogue};
  const KernelStatus status = active_kernels().winograd.functions.of<T>().run(job);
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("conv2d: the Winograd workspace for ", shape.in_channels_per_group,
                  " input channels per group would exceed the limit of 1 GiB per thread (use algorithm='direct')");
  return __atomic_load_n(&out_of_range, __ATOMIC_RELAXED) == 0;
}

template <class T>
void conv2d_winograd(const Conv2dParams& params, const T* input, const T* weight, const T* bias, T* output, int tile,
                     const ConvEpilogue<T>& epilogue) {
  conv2d_shape(params);
  check_winograd_params(params, tile);
  const WinogradWeights<T> transformed(weight, params, tile);
  if (!conv2d_winograd(params, input, transformed, bias, output, epilogue))
    conv2d_direct(params, input, weight, bias, output, epilogue);
}

template class WinogradWeights<float>;
template class WinogradWeights<double>;
template bool conv2d_winograd<float>(const Conv2dParams&, const float*, const WinogradWeights<float>&, const float*,
                                     float*, const ConvEpilogue<float>&);
template bool conv2d_winograd<double>(const Conv2dParams&, const double*, const WinogradWeights<double>&, const double*,
                                      double*, const ConvEpilogue<double>&);
template void conv2d_winograd<float>(const Conv2dParams&, const float*, const float*, const float*, float*, int,
                                     const ConvEpilogue<float>&);
template void conv2d_winograd<double>(const Conv2dParams&, const double*, const double*, const double*, double*, int,
                                      const ConvEpilogue<double>&);

}  // namespace fieldconv
