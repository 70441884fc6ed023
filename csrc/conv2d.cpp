// Public conv2d entry points: check arguments, pack weights, hand a job to the active kernel.
#include "fieldconv/conv2d.hpp"

#include <cstdlib>
#include <new>
#include <stdexcept>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/runtime.hpp"

namespace fieldconv {

void* allocate_workspace(std::size_t bytes) noexcept {
  const std::size_t rounded = (bytes + workspace_alignment - 1) / workspace_alignment * workspace_alignment;
  return std::aligned_alloc(workspace_alignment, rounded);
}
void free_workspace(void* memory) noexcept { std::free(memory); }

namespace {

void check_pointer(const void* pointer, const char* name) {
  if (pointer == nullptr) throw_invalid(name, " must not be null");
}

Conv2dShape check_weight_params(const Conv2dParams& params) {
  // Only the weight's own dimensions matter here; a 1x1 image-free geometry satisfies the rest.
  Conv2dParams weight_only = params;
  weight_only.batch = 0;
  weight_only.in_height = params.kernel_height;
  weight_only.in_width = params.kernel_width;
  weight_only.stride_height = weight_only.stride_width = 1;
  weight_only.dilation_height = weight_only.dilation_width = 1;
  weight_only.pad_top = weight_only.pad_bottom = weight_only.pad_left = weight_only.pad_right = 0;
  return conv2d_shape(weight_only);
}

}  // namespace

template <class T>
PackedConv2dWeights<T>::PackedConv2dWeights(const T* weight, const Conv2dParams& params)
    : out_channels_(params.out_channels),
      kernel_height_(params.kernel_height),
      kernel_width_(params.kernel_width),
      groups_(params.groups) {
  check_pointer(weight, "weight");
  const Conv2dShape shape = check_weight_params(params);
  in_channels_per_group_ = shape.in_channels_per_group;
  const std::int64_t out_per_group = shape.out_channels_per_group;
  const std::int64_t taps = kernel_height_ * kernel_width_;
  if (is_depthwise()) {
    // The depthwise kernel reads weights as given: (out_channels, 1, kh, kw).
    block_width_ = 1;
    blocks_per_group_ = out_per_group;
    block_stride_ = taps;
    data_.reset(static_cast<std::size_t>(shape.weight_elements));
    for (std::int64_t i = 0; i < shape.weight_elements; ++i) data_.data()[i] = weight[i];
    return;
  }
  // 64 bytes of out-channels per block, or the active family's preference (128 bytes for
  // AVX-512) when the group has more out-channels than 64 bytes hold.
  const std::int64_t narrow = 64 / std::int64_t(sizeof(T));
  const std::int64_t preferred = active_kernels().conv2d_direct.block_bytes / std::int64_t(sizeof(T));
  block_width_ = out_per_group > narrow ? preferred : narrow;
  blocks_per_group_ = (out_per_group + block_width_ - 1) / block_width_;
  block_stride_ =
      checked_mul(checked_mul(in_channels_per_group_, taps, "packed weight size"), block_width_, "packed weight size");
  const std::int64_t total =
      checked_mul(checked_mul(groups_, blocks_per_group_, "packed weight size"), block_stride_, "packed weight size");
  data_.reset(static_cast<std::size_t>(total));
  data_.fill_zero();
  // weight[oc][ic][kh][kw] -> packed[group][block][ic][kh][kw][lane]
  for (std::int64_t group = 0; group < groups_; ++group)
    for (std::int64_t oc = 0; oc < out_per_group; ++oc) {
      const std::int64_t block = oc / block_width_, lane = oc % block_width_;
      const T* src = weight + (group * out_per_group + oc) * in_channels_per_group_ * taps;
      T* dst = data_.data() + (group * blocks_per_group_ + block) * block_stride_ + lane;
      for (std::int64_t k = 0; k < in_channels_per_group_ * taps; ++k) dst[k * block_width_] = src[k];
    }
}

template <class T>
bool PackedConv2dWeights<T>::matches(const Conv2dParams& params) const noexcept {
  return params.out_channels == out_channels_ && params.groups == groups_ &&
         params.in_channels == in_channels_per_group_ * groups_ && params.kernel_height == kernel_height_ &&
         params.kernel_width == kernel_width_;
}

template <class T>
void conv2d_direct(const Conv2dParams& params, const T* input, const PackedConv2dWeights<T>& weight, const T* bias,
                   T* output, const ConvEpilogue<T>& epilogue) {
  const Conv2dShape shape = conv2d_shape(params);
  if (!weight.matches(params))
    throw_invalid("packed weights were made for other channel counts, kernel size or groups");
  if (shape.output_elements == 0) return;
  check_pointer(input, "input");
  check_pointer(output, "output");
  const std::int64_t output_bytes = shape.output_elements * std::int64_t(sizeof(T));
  check_disjoint(output, output_bytes, "output", input, shape.input_elements * std::int64_t(sizeof(T)), "input");
  check_disjoint(output, output_bytes, "output", bias, params.out_channels * std::int64_t(sizeof(T)), "bias");
  check_epilogue(epilogue, output, output_bytes);
  const double work_ns = conv_work_ns<T>(conv2d_macs(shape, params), weight.is_depthwise() ? 0.15 : 1.0);
  const Conv2dJob<T> job{params,
                         shape,
                         input,
                         {weight.data(), weight.block_width(), weight.blocks_per_group(), weight.block_stride()},
                         bias,
                         output,
                         threads_for_work(work_ns),
                         epilogue};
  const Conv2dDirectFunctions<T>& kernels = active_kernels().conv2d_direct.functions.of<T>();
  const KernelStatus status = weight.is_depthwise() ? kernels.depthwise(job) : kernels.blocked(job);
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("conv2d: the workspace for this geometry would exceed the limit of 1 GiB per thread "
                  "(reduce padding or dilation, or the kernel size)");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
}

template <class T>
void conv2d_direct(const Conv2dParams& params, const T* input, const T* weight, const T* bias, T* output,
                   const ConvEpilogue<T>& epilogue) {
  conv2d_shape(params);  // check before packing anything
  const PackedConv2dWeights<T> packed(weight, params);
  conv2d_direct(params, input, packed, bias, output, epilogue);
}

template class PackedConv2dWeights<float>;
template class PackedConv2dWeights<double>;
template void conv2d_direct<float>(const Conv2dParams&, const float*, const PackedConv2dWeights<float>&, const float*,
                                   float*, const ConvEpilogue<float>&);
template void conv2d_direct<double>(const Conv2dParams&, const double*, const PackedConv2dWeights<double>&,
                                    const double*, double*, const ConvEpilogue<double>&);
template void conv2d_direct<float>(const Conv2dParams&, const float*, const float*, const float*, float*,
                                   const ConvEpilogue<float>&);
template void conv2d_direct<double>(const Conv2dParams&, const double*, const double*, const double*, double*,
                                    const ConvEpilogue<double>&);

}  // namespace fieldconv
