#include <tuple>
#include <type_traits>

#include "bindings/register.hpp"
#include "fieldconv/conv2d.hpp"
#include "fieldconv/epilogue.hpp"

namespace fieldconv::bindings {
namespace {

using Pair = std::tuple<std::int64_t, std::int64_t>;
using Quad = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

Conv2dParams make_params(std::int64_t batch, std::int64_t in_channels, std::int64_t in_height, std::int64_t in_width,
                         std::int64_t out_channels, std::int64_t kernel_height, std::int64_t kernel_width, Pair stride,
                         Pair dilation, Quad padding, std::int64_t groups) {
  Conv2dParams p;
  p.batch = batch;
  p.in_channels = in_channels;
  p.in_height = in_height;
  p.in_width = in_width;
  p.out_channels = out_channels;
  p.kernel_height = kernel_height;
  p.kernel_width = kernel_width;
  std::tie(p.stride_height, p.stride_width) = stride;
  std::tie(p.dilation_height, p.dilation_width) = dilation;
  std::tie(p.pad_top, p.pad_bottom, p.pad_left, p.pad_right) = padding;
  p.groups = groups;
  return p;
}

// Packed weights of either dtype, as one Python type.
class PackedWeights {
 public:
  PackedWeights(const py::array& weight, std::int64_t groups)
      : packed_(weight, "packed weights", weight_params(weight, groups)),
        shape_{weight.shape(0), weight.shape(1), weight.shape(2), weight.shape(3)},
        groups_(groups) {}
  py::dtype dtype() const { return packed_.dtype(); }
  Quad shape() const { return shape_; }
  std::int64_t groups() const { return groups_; }
  template <class T>
  const PackedConv2dWeights<T>& get() const {
    return packed_.get<T>();
  }

 private:
  static Conv2dParams weight_params(const py::array& weight, std::int64_t groups) {
    if (weight.ndim() != 4) throw py::value_error("weight must be 4-d");
    return make_params(0, weight.shape(1) * groups, weight.shape(2), weight.shape(3), weight.shape(0), weight.shape(2),
                       weight.shape(3), {1, 1}, {1, 1}, {0, 0, 0, 0}, groups);
  }
  EitherDtype<PackedConv2dWeights> packed_;
  Quad shape_;
  std::int64_t groups_ = 1;
};

template <class T>
void run_direct(const py::array& input, const PackedWeights& weight, const py::object& bias, py::array& output,
                Pair stride, Pair dilation, Quad padding, const py::object& residual, int activation) {
  const T* x = const_data<T>(input, "input", 4);
  const T* b = bias.is_none() ? nullptr : const_data<T>(bias.cast<py::array>(), "bias", 1);
  T* y = mutable_data<T>(output, "output", 4);
  const auto [out_channels, in_per_group, kernel_height, kernel_width] = weight.shape();
  const Conv2dParams p = make_params(input.shape(0), input.shape(1), input.shape(2), input.shape(3), out_channels,
                                     kernel_height, kernel_width, stride, dilation, padding, weight.groups());
  const Conv2dShape shape = conv2d_shape(p);
  if (output.shape(0) != p.batch || output.shape(1) != p.out_channels || output.shape(2) != shape.out_height ||
      output.shape(3) != shape.out_width)
    throw py::value_error("output has the wrong shape");
  if (b != nullptr && bias.cast<py::array>().shape(0) != p.out_channels)
    throw py::value_error("bias has the wrong length");
  const PackedConv2dWeights<T>& packed = weight.get<T>();
  const ConvEpilogue<T> epilogue = conv_epilogue<T>(residual, output, activation);
  py::gil_scoped_release release;
  conv2d_direct<T>(p, x, packed, b, y, epilogue);
}

}  // namespace

void register_conv2d(py::module_& module) {
  module.def(
      "conv2d_output_shape",
      [](std::int64_t batch, std::int64_t in_channels, std::int64_t in_height, std::int64_t in_width,
         std::int64_t out_channels, std::int64_t kernel_height, std::int64_t kernel_width, Pair stride, Pair dilation,
         Quad padding, std::int64_t groups) {
        const Conv2dShape s = conv2d_shape(make_params(batch, in_channels, in_height, in_width, out_channels,
                                                       kernel_height, kernel_width, stride, dilation, padding, groups));
        return Pair{s.out_height, s.out_width};
      },
      py::arg("batch"), py::arg("in_channels"), py::arg("in_height"), py::arg("in_width"), py::arg("out_channels"),
      py::arg("kernel_height"), py::arg("kernel_width"), py::arg("stride"), py::arg("dilation"), py::arg("padding"),
      py::arg("groups"),
      "(out_height, out_width) of a conv2d; raises ValueError for an invalid geometry (shapes.hpp).");

  py::class_<PackedWeights>(module, "PackedConv2dWeights")
      .def(py::init<const py::array&, std::int64_t>(), py::arg("weight"), py::arg("groups"))
      .def_property_readonly("dtype", &PackedWeights::dtype)
      .def_property_readonly("shape", &PackedWeights::shape)
      .def_property_readonly("groups", &PackedWeights::groups);

  module.def(
      "conv2d_direct",
      [](const py::array& input, const PackedWeights& weight, const py::object& bias, py::array& output, Pair stride,
         Pair dilation, Quad padding, const py::object& residual, int activation) {
        if (py::isinstance<py::array_t<float>>(input))
          run_direct<float>(input, weight, bias, output, stride, dilation, padding, residual, activation);
        else run_direct<double>(input, weight, bias, output, stride, dilation, padding, residual, activation);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("output"), py::arg("stride"), py::arg("dilation"),
      py::arg("padding"), py::arg("residual") = py::none(), py::arg("activation") = 0,
      "Direct conv2d into a preallocated output; arguments already checked by fieldconv._conv2d_args. "
      "Epilogue: output = activation(conv + bias + residual), activation 0 none, 1 relu, 2 relu6.");

  module.def(
      "add_activation",
      [](py::array& y, const py::object& residual, int activation) {
        const auto run = [&](auto* tag) {
          using T = std::remove_pointer_t<decltype(tag)>;
          if (!(y.flags() & py::array::c_style)) throw py::type_error("y: expected a C-contiguous array");
          if (!y.writeable()) throw py::value_error("y must be writeable");
          T* data = static_cast<T*>(y.mutable_data());
          const T* extra = nullptr;
          py::array r;
          if (!residual.is_none()) {
            r = residual.cast<py::array>();
            if (!py::isinstance<py::array_t<T>>(r) || !(r.flags() & py::array::c_style) || r.size() != y.size())
              throw py::type_error("residual: expected a C-contiguous array of y's dtype and size");
            extra = static_cast<const T*>(r.data());
          }
          const std::int64_t count = y.size();
          py::gil_scoped_release release;
          add_activation<T>(data, extra, count, static_cast<Activation>(activation));
        };
        if (py::isinstance<py::array_t<float>>(y)) run(static_cast<float*>(nullptr));
        else if (py::isinstance<py::array_t<double>>(y)) run(static_cast<double*>(nullptr));
        else throw py::type_error("y: expected float32 or float64");
      },
      py::arg("y"), py::arg("residual"), py::arg("activation"),
      "In place: y = activation(y + residual) (fieldconv/epilogue.hpp); activation 0 none, 1 relu, 2 relu6.");
}

}  // namespace fieldconv::bindings
