#include "bindings/register.hpp"
#include "dispatch.hpp"
#include "fieldconv/runtime.hpp"
#include "fieldconv/shapes.hpp"
#include "fieldconv/winograd.hpp"
#include "parallel.hpp"
#include "runtime_internal.hpp"

namespace fieldconv::bindings {

void register_runtime(py::module_& module) {
  module.def("get_num_threads", &get_num_threads);
  module.def(
      "set_num_threads", [](int n, const char* source) { set_num_threads(n, source); }, py::arg("n"),
      py::arg("source") = "set_num_threads");
  module.def("num_threads_source", &num_threads_source);
  module.def("get_num_threads_setting", &get_num_threads_setting);
  module.def("threads_for_work", &threads_for_work, py::arg("work_ns"));
  module.def("cgroup_cpu_limit", &cgroup_cpu_limit, py::arg("proc_self_cgroup"), py::arg("cgroup_root"));
  module.def("affinity_cpu_count", &affinity_cpu_count);
  module.def(
      "team_statistics",
      [](bool reset) {
        const team::Statistics s = team::statistics(reset);
        py::dict result;
        result["peak_active_threads"] = s.peak_active_threads;
        result["peak_helpers"] = s.peak_helpers;
        result["teams"] = s.teams;
        result["caller_alone_windows"] = s.caller_alone_windows;
        return result;
      },
      py::arg("reset") = false);
  module.def("get_isa", &get_isa);
  module.def("set_isa", [](const std::string& name) { set_isa(name.c_str()); }, py::arg("name"));
  module.def(
      "kernel_list",
      [] {
        py::list result;
        for (const KernelListEntry& entry : kernel_list()) {
          py::dict row;
          row["family"] = entry.family;
          row["isa"] = entry.isa;
          row["isa_rank"] = entry.isa_rank;
          row["compiled"] = entry.compiled;
          row["cpu_supported"] = entry.cpu_supported;
          result.append(row);
        }
        return result;
      },
      "Every kernel family x ISA of kernels/kernel_list.inc, with whether this build has it and this CPU runs it.");
  module.def(
      "kernel_choice",
      [] {
        const KernelTable& table = active_kernels();
        py::dict result;
        result["conv2d_direct"] = table.conv2d_direct.isa;
        result["winograd"] = table.winograd.isa;
        result["pool2d"] = table.pool2d.isa;
        result["filter2d"] = table.filter2d.isa;
        result["correlate1d"] = table.correlate1d.isa;
        result["fft_correlate"] = table.fft_correlate.isa;
        return result;
      },
      "The ISA of the entry each kernel family runs under the active ISA (after fallbacks).");
  module.def(
      "kernel_constants",
      [] {
        const KernelTable& table = active_kernels();
        const WinogradBudgets& budgets = table.winograd.budgets;
        py::dict result;
        result["conv2d_vector_bytes"] = table.conv2d_direct.vector_bytes;
        result["conv2d_block_bytes"] = table.conv2d_direct.block_bytes;
        result["macs_per_ns"] = table.conv2d_direct.macs_per_ns;
        result["fft_correlate_lanes_f32"] = table.fft_correlate.lanes_f32;
        result["fft_correlate_lanes_f64"] = table.fft_correlate.lanes_f64;
        result["winograd_vector_bytes"] = budgets.vector_bytes;
        result["winograd_panel_bytes"] = WinogradWeights<float>::panel_width * std::int64_t(sizeof(float));
        result["winograd_v_budget_min_bytes"] = budgets.v_budget_min_bytes;
        result["winograd_v_budget_max_bytes"] = budgets.v_budget_max_bytes;
        result["winograd_m_budget_bytes"] = budgets.m_budget_bytes;
        result["winograd_max_block_tiles"] = budgets.max_block_tiles;
        result["winograd_gemm_rows"] = budgets.gemm_rows;
        result["winograd_min_chunk_panels"] = budgets.min_chunk_panels;
        return result;
      },
      "Blocking and budgets of the active kernels, for the algorithm cost model.");
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
  module.attr("max_num_threads") = max_num_threads;
}

}  // namespace fieldconv::bindings
