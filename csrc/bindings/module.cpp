// fieldconv._core: thin bindings over the C++ core. One register_<area>.cpp per area.
#include <pybind11/pybind11.h>

#include "bindings/register.hpp"

PYBIND11_MODULE(_core, module) {
  module.doc() = "fieldconv's compiled core (internal; use the fieldconv package)";
  fieldconv::bindings::register_runtime(module);
  fieldconv::bindings::register_conv2d(module);
  fieldconv::bindings::register_pool2d(module);
  fieldconv::bindings::register_filter2d(module);
  fieldconv::bindings::register_winograd(module);
}
