// Public pooling entry points: check arguments, hand a job to the active kernel.
#include "fieldconv/pool2d.hpp"

#include <new>
#include <stdexcept>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/runtime.hpp"

namespace fieldconv {
namespace {

template <class T>
void run_pool2d(const Pool2dJob<T>& job, KernelStatus (*kernel)(const Pool2dJob<T>&) noexcept) {
  if (job.shape.output_elements == 0) return;
  if (job.input == nullptr) throw_invalid("input must not be null");
  if (job.output == nullptr) throw_invalid("output must not be null");
  const std::int64_t input_bytes = job.shape.input_elements * std::int64_t(sizeof(T));
  const std::int64_t output_bytes = job.shape.output_elements * std::int64_t(sizeof(T));
  const std::int64_t indices_bytes = job.shape.output_elements * std::int64_t(sizeof(std::int64_t));
  check_disjoint(job.output, output_bytes, "output", job.input, input_bytes, "input");
  check_disjoint(job.indices, indices_bytes, "indices", job.input, input_bytes, "input");
  check_disjoint(job.indices, indices_bytes, "indices", job.output, output_bytes, "output");
  const KernelStatus status = kernel(job);
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("pooling: the workspace for this geometry would exceed the per-thread limit");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
}

}  // namespace

template <class T>
void max_pool2d(const Pool2dParams& params, const T* input, T* output, std::int64_t* indices) {
  const Pool2dShape shape = pool2d_shape(params);
  const Pool2dJob<T> job{params,  shape, input, output,
                         indices, true,  0,     threads_for_work(pool2d_work_ns(shape, params))};
  run_pool2d(job, active_kernels().pool2d.functions.of<T>().max);
}

template <class T>
void avg_pool2d(const Pool2dParams& params, const T* input, T* output, bool count_include_pad,
                std::int64_t divisor_override) {
  if (params.dilation_height != 1 || params.dilation_width != 1)
    throw_invalid("avg_pool2d has no dilation: dilation must be 1, got (", params.dilation_height, ", ",
                  params.dilation_width, ")");
  const Pool2dShape shape = pool2d_shape(params);
  if (divisor_override < -max_extent || divisor_override > max_extent)
    throw_invalid("divisor_override must be between ", -max_extent, " and ", max_extent, ", got ", divisor_override);
  const Pool2dJob<T> job{params,
                         shape,
                         input,
                         output,
                         nullptr,
                         count_include_pad,
                         divisor_override,
                         threads_for_work(pool2d_work_ns(shape, params))};
  run_pool2d(job, active_kernels().pool2d.functions.of<T>().avg);
}

template void max_pool2d<float>(const Pool2dParams&, const float*, float*, std::int64_t*);
template void max_pool2d<double>(const Pool2dParams&, const double*, double*, std::int64_t*);
template void avg_pool2d<float>(const Pool2dParams&, const float*, float*, bool, std::int64_t);
template void avg_pool2d<double>(const Pool2dParams&, const double*, double*, bool, std::int64_t);

}  // namespace fieldconv
