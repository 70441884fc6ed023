// Output-shape arithmetic and argument checks, in one place. Used by the kernels, by C++
// embedders and (through the binding) by the Python layer. Every check throws
// std::invalid_argument with a message naming the argument in the Python API's terms.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace fieldconv {

// Largest extent, stride, dilation or padding accepted along any axis: 2**31 - 1. Products of
// sizes are checked against max_element_count, so index math in int64 never overflows.
constexpr std::int64_t max_extent = (std::int64_t{1} << 31) - 1;
// Largest number of elements of any array (input, output, workspace): 2**48.
constexpr std::int64_t max_element_count = std::int64_t{1} << 48;

namespace detail {
inline std::string concat() { return {}; }
template <class First, class... Rest>
std::string concat(const First& first, const Rest&... rest) {
  if constexpr (std::is_arithmetic_v<First>) return std::to_string(first) + concat(rest...);
  else return std::string(first) + concat(rest...);
}
}  // namespace detail

template <class... Parts>
[[noreturn]] void throw_invalid(const Parts&... parts) {
  throw std::invalid_argument(detail::concat(parts...));
}

inline void check_range(const char* name, std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value < low || value > high) throw_invalid(name, " must be between ", low, " and ", high, ", got ", value);
}

// a * b, throwing if the product exceeds max_element_count (both must be >= 0).
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  if (a < 0 || b < 0) throw_invalid(what, " is negative");
  if (a != 0 && b > max_element_count / a)
    throw_invalid(what, " is too large: ", a, " x ", b, " exceeds the limit of 2**48 elements");
  return a * b;
}

// Number of outputs of a sliding window along one axis (PyTorch's formula, floor mode).
// Throws when the dilated kernel does not fit in the padded input.
inline std::int64_t conv_output_size(const char* axis, std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                     std::int64_t dilation, std::int64_t pad_before, std::int64_t pad_after) {
  check_range("input size", input, 0, max_extent);
  check_range("kernel size", kernel, 1, max_extent);
  check_range("stride", stride, 1, max_extent);
  check_range("dilation", dilation, 1, max_extent);
  check_range("padding", pad_before, 0, max_extent);
  check_range("padding", pad_after, 0, max_extent);
  // all terms < 2**31, so these sums and products fit easily in int64
  const std::int64_t padded = input + pad_before + pad_after;
  const std::int64_t dilated_kernel = dilation * (kernel - 1) + 1;
  if (dilated_kernel > padded)
    throw_invalid("kernel ", axis, " (", kernel, ", dilated by ", dilation, " to ", dilated_kernel,
                  ") is larger than the padded input ", axis, " (", input, " + padding ", pad_before + pad_after, " = ",
                  padded, ")");
  const std::int64_t outputs = (padded - dilated_kernel) / stride + 1;
  if (outputs > max_extent)
    throw_invalid("output ", axis, " ", outputs, " exceeds the limit ", max_extent, " (input ", input, " + padding ",
                  pad_before + pad_after, ", kernel ", kernel, ", stride ", stride, ")");
  return outputs;
}

struct Conv2dParams {
  std::int64_t batch = 1, in_channels = 1, in_height = 1, in_width = 1;
  std::int64_t out_channels = 1, kernel_height = 1, kernel_width = 1;
  std::int64_t stride_height = 1, stride_width = 1;
  std::int64_t dilation_height = 1, dilation_width = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t groups = 1;
};

struct Conv2dShape {
  std::int64_t out_height, out_width;
  std::int64_t in_channels_per_group, out_channels_per_group;
  std::int64_t input_elements, weight_elements, output_elements;
};

// Checks every field of p and returns the output geometry. Throws std::invalid_argument.
inline Conv2dShape conv2d_shape(const Conv2dParams& p) {
  check_range("batch size", p.batch, 0, max_extent);
  check_range("input channels", p.in_channels, 1, max_extent);
  check_range("out_channels (weight.shape[0])", p.out_channels, 1, max_extent);
  check_range("groups", p.groups, 1, max_extent);
  if (p.in_channels % p.groups != 0)
    throw_invalid("groups=", p.groups, " must divide the input channels (", p.in_channels, ")");
  if (p.out_channels % p.groups != 0)
    throw_invalid("groups=", p.groups, " must divide the output channels (", p.out_channels, ")");
  Conv2dShape s{};
  s.in_channels_per_group = p.in_channels / p.groups;
  s.out_channels_per_group = p.out_channels / p.groups;
  s.out_height = conv_output_size("height", p.in_height, p.kernel_height, p.stride_height, p.dilation_height, p.pad_top,
                                  p.pad_bottom);
  s.out_width =
      conv_output_size("width", p.in_width, p.kernel_width, p.stride_width, p.dilation_width, p.pad_left, p.pad_right);
  s.input_elements = checked_mul(checked_mul(p.batch, p.in_channels, "input size"),
                                 checked_mul(p.in_height, p.in_width, "input size"), "input size");
  s.weight_elements = checked_mul(checked_mul(p.out_channels, s.in_channels_per_group, "weight size"),
                                  checked_mul(p.kernel_height, p.kernel_width, "weight size"), "weight size");
  s.output_elements = checked_mul(checked_mul(p.batch, p.out_channels, "output size"),
                                  checked_mul(s.out_height, s.out_width, "output size"), "output size");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Pooling (max_pool2d, avg_pool2d): PyTorch's output-size rule and checks.

// Number of pooling outputs along one axis, as PyTorch's pooling_output_shape:
// floor((input + 2 * padding - dilation * (kernel - 1) - 1 [+ stride - 1 in ceil mode]) / stride) + 1,
// where in ceil mode the last window must start inside the input or the leading padding (else
// it is dropped). Padding may be at most kernel // 2 (on the undilated kernel, as PyTorch).
// `index` is 0 for the height axis and 1 for the width axis (names kernel_size[index] etc.).
inline std::int64_t pool_output_size(int index, std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                     std::int64_t dilation, std::int64_t padding, bool ceil_mode) {
  const char* axis = index == 0 ? "height" : "width";
  const char* suffix = index == 0 ? "[0]" : "[1]";
  const auto check = [&](const char* name, std::int64_t value, std::int64_t low) {
    if (value < low || value > max_extent)
      throw_invalid(name, suffix, " (", axis, ") must be between ", low, " and ", max_extent, ", got ", value);
  };
  check("kernel_size", kernel, 1);
  check("stride", stride, 1);
  check("dilation", dilation, 1);
  check("padding", padding, 0);
  if (input < 1 || input > max_extent)
    throw_invalid("input ", axis, " must be between 1 and ", max_extent, ", got ", input);
  if (padding > kernel / 2)
    throw_invalid("padding", suffix, " (", axis, ") must be at most kernel_size", suffix, " // 2 = ", kernel / 2,
                  " (PyTorch's rule), got ", padding);
  // every term < 2**62: no overflow
  const std::int64_t span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  std::int64_t outputs = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;  // floor division
  if (ceil_mode && outputs >= 1 && (outputs - 1) * stride >= input + padding) --outputs;
  if (outputs < 1)
    throw_invalid("pooling window too large: output ", axis, " would be ", outputs, " (input ", axis, " ", input,
                  ", padding", suffix, " ", padding, ", kernel_size", suffix, " ", kernel, ", dilation", suffix, " ",
                  dilation, ", stride", suffix, " ", stride, "); the dilated window (", dilation * (kernel - 1) + 1,
                  ") must fit in the padded input (", input + 2 * padding, ")");
  if (outputs > max_extent)
    throw_invalid("output ", axis, " ", outputs, " exceeds the limit ", max_extent, " (input ", input, ", padding",
                  suffix, " ", padding, ", kernel_size", suffix, " ", kernel, ", stride", suffix, " ", stride, ")");
  return outputs;
}

struct Pool2dParams {
  std::int64_t batch = 1, channels = 1, in_height = 1, in_width = 1;
  std::int64_t kernel_height = 1, kernel_width = 1;
  std::int64_t stride_height = 1, stride_width = 1;
  std::int64_t pad_height = 0, pad_width = 0;  // on both sides, as PyTorch
  std::int64_t dilation_height = 1, dilation_width = 1;
  bool ceil_mode = false;
};

struct Pool2dShape {
  std::int64_t out_height, out_width;
  std::int64_t planes;  // batch * channels
  std::int64_t input_elements, output_elements;
};

// Checks every field of p and returns the output geometry. Throws std::invalid_argument.
// The batch may be 0 (empty result); channels, height and width must be at least 1 (PyTorch).
inline Pool2dShape pool2d_shape(const Pool2dParams& p) {
  check_range("batch size", p.batch, 0, max_extent);
  check_range("channels", p.channels, 1, max_extent);
  Pool2dShape s{};
  s.out_height =
      pool_output_size(0, p.in_height, p.kernel_height, p.stride_height, p.dilation_height, p.pad_height, p.ceil_mode);
  s.out_width =
      pool_output_size(1, p.in_width, p.kernel_width, p.stride_width, p.dilation_width, p.pad_width, p.ceil_mode);
  s.planes = checked_mul(p.batch, p.channels, "input size");
  s.input_elements = checked_mul(s.planes, checked_mul(p.in_height, p.in_width, "input size"), "input size");
  s.output_elements = checked_mul(s.planes, checked_mul(s.out_height, s.out_width, "output size"), "output size");
  return s;
}

}  // namespace fieldconv
