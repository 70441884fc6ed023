// Registration functions of the binding areas, and helpers they share.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

namespace fieldconv::bindings {

namespace py = pybind11;

void register_runtime(py::module_& module);
void register_conv2d(py::module_& module);
void register_pool2d(py::module_& module);
void register_filter2d(py::module_& module);
void register_winograd(py::module_& module);

// The Python layer (_params.py) hands over C-contiguous arrays of the right dtype; these
// checks only guard against internal misuse, never replace the friendly checks there.
template <class T>
T* mutable_data(py::array& array, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<py::array_t<T>>(array) || !(array.flags() & py::array::c_style) || array.ndim() != ndim)
    throw py::type_error(std::string(name) + ": expected a C-contiguous " + std::to_string(ndim) +
                         "-d array of " + py::str(py::dtype::of<T>()).cast<std::string>());
  if (!array.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  return static_cast<T*>(array.mutable_data());
}

template <class T>
const T* const_data(const py::array& array, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<py::array_t<T>>(array) || !(array.flags() & py::array::c_style) || array.ndim() != ndim)
    throw py::type_error(std::string(name) + ": expected a C-contiguous " + std::to_string(ndim) +
                         "-d array of " + py::str(py::dtype::of<T>()).cast<std::string>());
  return static_cast<const T*>(array.data());
}

}  // namespace fieldconv::bindings
