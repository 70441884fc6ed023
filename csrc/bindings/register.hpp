// Registration functions of the binding areas, and helpers they share.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fieldconv/epilogue.hpp"

namespace fieldconv::bindings {

namespace py = pybind11;

void register_runtime(py::module_& module);
void register_conv2d(py::module_& module);
void register_pool2d(py::module_& module);
void register_filter2d(py::module_& module);
void register_winograd(py::module_& module);

// The Python layer (fieldconv._params and each area's _*_args.py) hands over C-contiguous
// arrays of the right dtype; these checks only guard against internal misuse, never replace
// the friendly checks there.
template <class T>
T* mutable_data(py::array& array, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<py::array_t<T>>(array) || !(array.flags() & py::array::c_style) || array.ndim() != ndim)
    throw py::type_error(std::string(name) + ": expected a C-contiguous " + std::to_string(ndim) + "-d array of " +
                         py::str(py::dtype::of<T>()).cast<std::string>());
  if (!array.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  return static_cast<T*>(array.mutable_data());
}

template <class T>
const T* const_data(const py::array& array, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<py::array_t<T>>(array) || !(array.flags() & py::array::c_style) || array.ndim() != ndim)
    throw py::type_error(std::string(name) + ": expected a C-contiguous " + std::to_string(ndim) + "-d array of " +
                         py::str(py::dtype::of<T>()).cast<std::string>());
  return static_cast<const T*>(array.data());
}

// A conv epilogue (fieldconv/epilogue.hpp) from the bindings' residual (None or an array of the
// output's dtype and shape, C-contiguous) and activation code; the C++ entry point checks the
// code and the overlap.
template <class T>
ConvEpilogue<T> conv_epilogue(const py::object& residual, const py::array& output, int activation) {
  ConvEpilogue<T> epilogue;
  epilogue.activation = static_cast<Activation>(activation);
  if (!residual.is_none()) {
    const py::array r = residual.cast<py::array>();
    const T* data = const_data<T>(r, "residual", output.ndim());
    for (py::ssize_t axis = 0; axis < output.ndim(); ++axis)
      if (r.shape(axis) != output.shape(axis)) throw py::value_error("residual must have the output's shape");
    epilogue.residual = data;
  }
  return epilogue;
}

// Weights prepared once (packed, transformed) in the dtype of the array they come from, behind
// one Python type: Weights<float> or Weights<double>. `what` names them in dtype mismatch errors.
template <template <class> class Weights>
class EitherDtype {
 public:
  // Builds Weights<T>(data, args...) from weight's float32 or float64 data, without the GIL.
  template <class... Args>
  EitherDtype(const py::array& weight, const char* what, const Args&... args) : what_(what) {
    if (py::isinstance<py::array_t<float>>(weight)) {
      const float* data = const_data<float>(weight, "weight", 4);
      py::gil_scoped_release release;
      f32_ = std::make_unique<Weights<float>>(data, args...);
    } else {
      const double* data = const_data<double>(weight, "weight", 4);
      py::gil_scoped_release release;
      f64_ = std::make_unique<Weights<double>>(data, args...);
    }
  }
  py::dtype dtype() const { return f32_ ? py::dtype::of<float>() : py::dtype::of<double>(); }
  // Calls f on whichever Weights<T> is held.
  template <class F>
  auto visit(F&& f) const {
    return f32_ ? f(*f32_) : f(*f64_);
  }
  template <class T>
  const Weights<T>& get() const {
    if constexpr (sizeof(T) == sizeof(float)) {
      if (!f32_) throw py::type_error(std::string(what_) + " are float64, input is float32");
      return *f32_;
    } else {
      if (!f64_) throw py::type_error(std::string(what_) + " are float32, input is float64");
      return *f64_;
    }
  }

 private:
  const char* what_;
  std::unique_ptr<Weights<float>> f32_;
  std::unique_ptr<Weights<double>> f64_;
};

}  // namespace fieldconv::bindings
