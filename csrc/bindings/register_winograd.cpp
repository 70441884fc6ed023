// Winograd conv2d bindings: transformed weights (either dtype, one Python type) and the kernel
// call, which reports whether it computed the output (False: use direct, see winograd.hpp).
#include <tuple>

#include "bindings/register.hpp"
#include "fieldconv/winograd.hpp"

namespace fieldconv::bindings {
namespace {

using Quad = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

class WinogradWeightsObject {
 public:
  WinogradWeightsObject(const py::array& weight, std::int64_t groups, int tile)
      : transformed_(weight, "Winograd weights", weight_params(weight, groups), tile),
        shape_{weight.shape(0), weight.shape(1), weight.shape(2), weight.shape(3)},
        groups_(groups),
        tile_(tile) {}
  py::dtype dtype() const { return transformed_.dtype(); }
  bool usable() const {
    return transformed_.visit([](const auto& w) { return w.usable(); });
  }
  std::int64_t size_bytes() const {
    return transformed_.visit([](const auto& w) { return w.size_bytes(); });
  }
  Quad shape() const { return shape_; }
  std::int64_t groups() const { return groups_; }
  int tile() const { return tile_; }
  template <class T>
  const WinogradWeights<T>& get() const {
    return transformed_.get<T>();
  }

 private:
  // Only the weight's geometry and groups matter to WinogradWeights.
  static Conv2dParams weight_params(const py::array& weight, std::int64_t groups) {
    if (weight.ndim() != 4) throw py::value_error("weight must be 4-d");
    Conv2dParams p;
    p.batch = 0;
    p.in_channels = weight.shape(1) * groups;
    p.out_channels = weight.shape(0);
    p.kernel_height = p.in_height = weight.shape(2);
    p.kernel_width = p.in_width = weight.shape(3);
    p.groups = groups;
    return p;
  }
  EitherDtype<WinogradWeights> transformed_;
  Quad shape_;
  std::int64_t groups_;
  int tile_;
};

template <class T>
bool run_winograd(const py::array& input, const WinogradWeightsObject& weight, const py::object& bias,
                  py::array& output, Quad padding, const py::object& residual, int activation) {
  const T* x = const_data<T>(input, "input", 4);
  const T* b = bias.is_none() ? nullptr : const_data<T>(bias.cast<py::array>(), "bias", 1);
  T* y = mutable_data<T>(output, "output", 4);
  const auto [out_channels, in_per_group, kernel_height, kernel_width] = weight.shape();
  Conv2dParams p;
  p.batch = input.shape(0);
  p.in_channels = input.shape(1);
  p.in_height = input.shape(2);
  p.in_width = input.shape(3);
  p.out_channels = out_channels;
  p.kernel_height = kernel_height;
  p.kernel_width = kernel_width;
  std::tie(p.pad_top, p.pad_bottom, p.pad_left, p.pad_right) = padding;
  p.groups = weight.groups();
  const Conv2dShape shape = conv2d_shape(p);
  if (output.shape(0) != p.batch || output.shape(1) != p.out_channels || output.shape(2) != shape.out_height ||
      output.shape(3) != shape.out_width)
    throw py::value_error("output has the wrong shape");
  if (b != nullptr && bias.cast<py::array>().shape(0) != p.out_channels)
    throw py::value_error("bias has the wrong length");
  const WinogradWeights<T>& transformed = weight.get<T>();
  const ConvEpilogue<T> epilogue = conv_epilogue<T>(residual, output, activation);
  py::gil_scoped_release release;
  return conv2d_winograd<T>(p, x, transformed, b, y, epilogue);
}

}  // namespace

void register_winograd(py::module_& module) {
  py::class_<WinogradWeightsObject>(module, "WinogradConv2dWeights")
      .def(py::init<const py::array&, std::int64_t, int>(), py::arg("weight"), py::arg("groups"), py::arg("tile"))
      .def_property_readonly("dtype", &WinogradWeightsObject::dtype)
      .def_property_readonly("usable", &WinogradWeightsObject::usable)
      .def_property_readonly("size_bytes", &WinogradWeightsObject::size_bytes)
      .def_property_readonly("shape", &WinogradWeightsObject::shape)
      .def_property_readonly("groups", &WinogradWeightsObject::groups)
      .def_property_readonly("tile", &WinogradWeightsObject::tile);

  module.def(
      "conv2d_winograd",
      [](const py::array& input, const WinogradWeightsObject& weight, const py::object& bias, py::array& output,
         Quad padding, const py::object& residual, int activation) {
        if (py::isinstance<py::array_t<float>>(input))
          return run_winograd<float>(input, weight, bias, output, padding, residual, activation);
        return run_winograd<double>(input, weight, bias, output, padding, residual, activation);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("output"), py::arg("padding"),
      py::arg("residual") = py::none(), py::arg("activation") = 0,
      "Winograd conv2d (3x3, stride 1) into a preallocated output, with conv2d_direct's epilogue. Returns "
      "False when the values could overflow or are not finite: the caller then runs direct convolution.");
}

}  // namespace fieldconv::bindings
