#include <tuple>

#include "bindings/register.hpp"
#include "fieldconv/pool2d.hpp"

namespace fieldconv::bindings {
namespace {

using Pair = std::tuple<std::int64_t, std::int64_t>;

Pool2dParams make_params(std::int64_t batch, std::int64_t channels, std::int64_t in_height, std::int64_t in_width,
                         Pair kernel_size, Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  Pool2dParams p;
  p.batch = batch;
  p.channels = channels;
  p.in_height = in_height;
  p.in_width = in_width;
  std::tie(p.kernel_height, p.kernel_width) = kernel_size;
  std::tie(p.stride_height, p.stride_width) = stride;
  std::tie(p.pad_height, p.pad_width) = padding;
  std::tie(p.dilation_height, p.dilation_width) = dilation;
  p.ceil_mode = ceil_mode;
  return p;
}

Pool2dParams params_of(const py::array& input, const py::array& output, Pair kernel_size, Pair stride, Pair padding,
                       Pair dilation, bool ceil_mode) {
  const Pool2dParams p = make_params(input.shape(0), input.shape(1), input.shape(2), input.shape(3), kernel_size,
                                     stride, padding, dilation, ceil_mode);
  const Pool2dShape s = pool2d_shape(p);
  if (output.shape(0) != p.batch || output.shape(1) != p.channels || output.shape(2) != s.out_height ||
      output.shape(3) != s.out_width)
    throw py::value_error("output has the wrong shape");
  return p;
}

template <class T>
void run_max(const py::array& input, py::array& output, const py::object& indices, Pair kernel_size, Pair stride,
             Pair padding, Pair dilation, bool ceil_mode) {
  const T* x = const_data<T>(input, "input", 4);
  T* y = mutable_data<T>(output, "output", 4);
  std::int64_t* index_data = nullptr;
  if (!indices.is_none()) {
    py::array index_array = indices.cast<py::array>();
    index_data = mutable_data<std::int64_t>(index_array, "indices", 4);
    if (index_array.request().shape != output.request().shape)
      throw py::value_error("indices must have the output's shape");
  }
  const Pool2dParams p = params_of(input, output, kernel_size, stride, padding, dilation, ceil_mode);
  py::gil_scoped_release release;
  max_pool2d<T>(p, x, y, index_data);
}

template <class T>
void run_avg(const py::array& input, py::array& output, Pair kernel_size, Pair stride, Pair padding, bool ceil_mode,
             bool count_include_pad, std::int64_t divisor_override) {
  const T* x = const_data<T>(input, "input", 4);
  T* y = mutable_data<T>(output, "output", 4);
  const Pool2dParams p = params_of(input, output, kernel_size, stride, padding, {1, 1}, ceil_mode);
  py::gil_scoped_release release;
  avg_pool2d<T>(p, x, y, count_include_pad, divisor_override);
}

}  // namespace

void register_pool2d(py::module_& module) {
  module.def(
      "pool2d_output_shape",
      [](std::int64_t batch, std::int64_t channels, std::int64_t in_height, std::int64_t in_width, Pair kernel_size,
         Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
        const Pool2dShape s = pool2d_shape(
            make_params(batch, channels, in_height, in_width, kernel_size, stride, padding, dilation, ceil_mode));
        return Pair{s.out_height, s.out_width};
      },
      py::arg("batch"), py::arg("channels"), py::arg("in_height"), py::arg("in_width"), py::arg("kernel_size"),
      py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
      "(out_height, out_width) of a pooling; raises ValueError for an invalid geometry (shapes.hpp).");

  module.def(
      "max_pool2d",
      [](const py::array& input, py::array& output, const py::object& indices, Pair kernel_size, Pair stride,
         Pair padding, Pair dilation, bool ceil_mode) {
        if (py::isinstance<py::array_t<float>>(input))
          run_max<float>(input, output, indices, kernel_size, stride, padding, dilation, ceil_mode);
        else run_max<double>(input, output, indices, kernel_size, stride, padding, dilation, ceil_mode);
      },
      py::arg("input"), py::arg("output"), py::arg("indices"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
      "Max pooling into a preallocated output (and int64 indices, or None); arguments already checked by "
      "fieldconv._pool2d_args.");

  module.def(
      "avg_pool2d",
      [](const py::array& input, py::array& output, Pair kernel_size, Pair stride, Pair padding, bool ceil_mode,
         bool count_include_pad, std::int64_t divisor_override) {
        if (py::isinstance<py::array_t<float>>(input))
          run_avg<float>(input, output, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
        else
          run_avg<double>(input, output, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
      },
      py::arg("input"), py::arg("output"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"),
      "Average pooling into a preallocated output (divisor_override 0 = none); arguments already checked by "
      "fieldconv._pool2d_args.");
}

}  // namespace fieldconv::bindings
