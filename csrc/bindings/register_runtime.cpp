#include "bindings/register.hpp"
#include "dispatch.hpp"
#include "fieldconv/runtime.hpp"
#include "fieldconv/shapes.hpp"

namespace fieldconv::bindings {

void register_runtime(py::module_& module) {
  module.def("get_num_threads", &get_num_threads);
  module.def("set_num_threads", &set_num_threads, py::arg("n"));
  module.def("get_isa", &get_isa);
  module.def("set_isa", [](const std::string& name) { set_isa(name.c_str()); }, py::arg("name"));
  module.def("openmp_description", &openmp_description);
  module.def("compiler_description", &compiler_description);
  module.def(
      "fma_peak_gflops",
      [](int threads, double seconds) {
        py::gil_scoped_release release;
        return measure_fma_peak_gflops(threads, seconds);
      },
      py::arg("threads"), py::arg("seconds") = 0.2,
      "Measured float32 FMA throughput (GFLOP/s) of the active kernel family on `threads` threads at once.");
  module.attr("max_extent") = max_extent;
  module.attr("max_element_count") = max_element_count;
}

}  // namespace fieldconv::bindings
