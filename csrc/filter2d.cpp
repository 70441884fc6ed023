// Public filter2d entry point: check arguments, build the border index maps, hand a job to the
// active kernel family.
#include "fieldconv/filter2d.hpp"

#include <cstdint>
#include <algorithm>
#include <new>
#include <type_traits>
#include <stdexcept>
#include <vector>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/runtime.hpp"
#include "fieldconv/shapes.hpp"

namespace fieldconv {

namespace {

using i64 = std::int64_t;

i64 positive_mod(i64 x, i64 n) {
  const i64 r = x % n;
  return r < 0 ? r + n : r;
}

bool is_integer(FilterScalar type) { return type != FilterScalar::float32 && type != FilterScalar::float64; }

template <class A>
KernelStatus run(const Filter2dKernels& kernels, Filter2dJob<A>& job, const void* weights, const void* fill) {
  job.tap_weights = static_cast<const A*>(weights);
  job.fill = *static_cast<const A*>(fill);
  if constexpr (std::is_same_v<A, float>) return kernels.f32(job);
  else if constexpr (std::is_same_v<A, double>) return kernels.f64(job);
  else if constexpr (std::is_same_v<A, std::uint32_t>) return kernels.u32(job);
  else return kernels.u64(job);
}

}  // namespace

i64 filter_border_index(FilterBorder border, i64 x, i64 n) noexcept {
  if (x >= 0 && x < n) return x;
  switch (border) {
    case FilterBorder::constant: return -1;
    case FilterBorder::nearest: return x < 0 ? 0 : n - 1;
    case FilterBorder::reflect: {
      const i64 k = positive_mod(x, 2 * n);
      return k >= n ? 2 * n - 1 - k : k;
    }
    case FilterBorder::mirror: {
      if (n == 1) return 0;
      const i64 k = positive_mod(x, 2 * n - 2);
      return k >= n ? 2 * n - 2 - k : k;
    }
    case FilterBorder::wrap: return positive_mod(x, n);
  }
  return -1;
}

void filter2d(const Filter2dParams& p, FilterScalar input_type, const void* input, FilterScalar output_type,
              void* output, FilterAccumulator accumulator, const Filter2dTaps& taps, const void* fill) {
  check_range("planes", p.planes, 0, max_element_count);
  check_range("input height", p.in_height, 0, max_extent);
  check_range("input width", p.in_width, 0, max_extent);
  check_range("output height", p.out_height, 0, max_extent);
  check_range("output width", p.out_width, 0, max_extent);
  check_range("row offset", p.row_offset, -max_extent, max_extent);
  check_range("column offset", p.col_offset, -max_extent, max_extent);
  const int border_code = static_cast<int>(p.border);
  if (border_code < 0 || border_code > 4) throw_invalid("border must be constant, nearest, reflect, mirror or wrap");
  const int in_code = static_cast<int>(input_type), out_code = static_cast<int>(output_type);
  if (in_code < 0 || in_code > 10 || out_code < 0 || out_code > 10) throw_invalid("unknown scalar type");
  const int acc_code = static_cast<int>(accumulator);
  if (acc_code < 0 || acc_code > 3) throw_invalid("unknown accumulator");
  if (acc_code >= 2 && (!is_integer(input_type) || !is_integer(output_type)))
    throw_invalid("wrapping integer accumulators need integer input and output types");
  checked_mul(checked_mul(p.planes, p.in_height, "input size"), p.in_width, "input size");
  const i64 out_elements = checked_mul(checked_mul(p.planes, p.out_height, "output size"), p.out_width, "output size");
  check_range("tap count", taps.count, 0, max_element_count);
  if (taps.count > 0 && (taps.rows == nullptr || taps.cols == nullptr))
    throw_invalid("tap rows and columns must not be null");
  i64 kernel_height = 1, kernel_width = 1;
  for (i64 t = 0; t < taps.count; ++t) {
    check_range("tap row", taps.rows[t], 0, max_extent - 1);
    check_range("tap column", taps.cols[t], 0, max_extent - 1);
    if (taps.rows[t] + 1 > kernel_height) kernel_height = taps.rows[t] + 1;
    if (taps.cols[t] + 1 > kernel_width) kernel_width = taps.cols[t] + 1;
  }
  if (out_elements == 0) return;
  if ((p.in_height == 0 || p.in_width == 0) && p.border != FilterBorder::constant)
    throw_invalid("an empty input has no values to extend with this border mode (only constant/fill works)");
  if (output == nullptr) throw_invalid("output must not be null");
  if (fill == nullptr) throw_invalid("fill must not be null");
  if (taps.count > 0 && taps.weights == nullptr) throw_invalid("tap weights must not be null");
  if (p.in_height > 0 && p.in_width > 0 && p.planes > 0 && input == nullptr) throw_invalid("input must not be null");
  check_disjoint(output, out_elements * scalar_bytes(output_type), "output", input,
                 p.planes * p.in_height * p.in_width * scalar_bytes(input_type), "input");

  // Extended position k along rows is input coordinate k + row_offset (likewise columns).
  const i64 ext_rows = p.out_height + kernel_height - 1, ext_cols = p.out_width + kernel_width - 1;
  std::vector<i64> row_map(static_cast<std::size_t>(ext_rows)), col_map(static_cast<std::size_t>(ext_cols));
  for (i64 k = 0; k < ext_rows; ++k)
    row_map[k] = p.in_height == 0 ? -1 : filter_border_index(p.border, k + p.row_offset, p.in_height);
  for (i64 k = 0; k < ext_cols; ++k)
    col_map[k] = p.in_width == 0 ? -1 : filter_border_index(p.border, k + p.col_offset, p.in_width);
  const i64 identity_begin = p.in_width == 0 ? 0 : std::min(ext_cols, std::max<i64>(0, -p.col_offset));
  const i64 identity_end =
      p.in_width == 0 ? 0 : std::max(identity_begin, std::min(ext_cols, p.in_width - p.col_offset));

  const i64 row_identity_begin = p.in_height == 0 ? 0 : std::min(ext_rows, std::max<i64>(0, -p.row_offset));
  const i64 row_identity_end =
      p.in_height == 0 ? 0 : std::max(row_identity_begin, std::min(ext_rows, p.in_height - p.row_offset));

  const Filter2dKernels& kernels = active_kernels().filter2d;
  KernelStatus status;
  auto make = [&](auto* tag) {
    using A = std::remove_pointer_t<decltype(tag)>;
    Filter2dJob<A> job{};
    job.planes = p.planes;
    job.in_height = p.in_height;
    job.in_width = p.in_width;
    job.out_height = p.out_height;
    job.out_width = p.out_width;
    job.kernel_height = kernel_height;
    job.kernel_width = kernel_width;
    job.input_type = in_code;
    job.output_type = out_code;
    job.input = input;
    job.output = output;
    job.tap_count = taps.count;
    job.tap_rows = taps.rows;
    job.tap_cols = taps.cols;
    job.row_map = row_map.data();
    job.col_map = col_map.data();
    job.col_identity_begin = identity_begin;
    job.col_identity_end = identity_end;
    job.col_identity_shift = p.col_offset;
    job.row_identity_begin = row_identity_begin;
    job.row_identity_end = row_identity_end;
    job.row_identity_shift = p.row_offset;
    // Per output and tap: a multiply-add, at about a seventh of the direct conv's rate (one
    // plane, taps broadcast one by one), plus conversions in and out.
    job.threads = threads_for_work(conv_work_ns<float>(double(out_elements) * double(taps.count + 4), 0.15));
    return run<A>(kernels, job, taps.weights, fill);
  };
  switch (accumulator) {
    case FilterAccumulator::float32: status = make(static_cast<float*>(nullptr)); break;
    case FilterAccumulator::float64: status = make(static_cast<double*>(nullptr)); break;
    case FilterAccumulator::wrapping_uint32: status = make(static_cast<std::uint32_t*>(nullptr)); break;
    default: status = make(static_cast<std::uint64_t*>(nullptr)); break;
  }
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("filter2d: the workspace for this kernel would exceed the limit of 1 GiB per thread");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
}

}  // namespace fieldconv
