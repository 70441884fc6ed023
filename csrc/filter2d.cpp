// Public filter2d entry point: check arguments, build the border index maps, hand a job to the
// active kernel family.
#include "fieldconv/filter2d.hpp"

#include <cstdint>
#include <algorithm>
#include <new>
#include <type_traits>
#include <stdexcept>
#include <map>
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

namespace {

// The border map of an axis of length n read at extent extended positions, position k reading
// input coordinate k + offset: the identity run, and tables for the positions outside it.
FilterAxisMap axis_map(FilterBorder border, i64 extent, i64 offset, i64 n, std::vector<i64>& left,
                       std::vector<i64>& right) {
  FilterAxisMap map;
  map.shift = offset;
  map.begin = n == 0 ? 0 : std::min(extent, std::max<i64>(0, -offset));
  map.end = n == 0 ? 0 : std::max(map.begin, std::min(extent, n - offset));
  left.resize(static_cast<std::size_t>(map.begin));
  right.resize(static_cast<std::size_t>(extent - map.end));
  for (i64 k = 0; k < map.begin; ++k) left[k] = filter_border_index(border, k + offset, n);
  for (i64 k = map.end; k < extent; ++k) right[k - map.end] = n == 0 ? -1 : filter_border_index(border, k + offset, n);
  map.left = left.data();
  map.right = right.data();
  return map;
}

void check_codes(FilterBorder border, FilterScalar input_type, FilterScalar output_type,
                 FilterAccumulator accumulator) {
  const int border_code = static_cast<int>(border);
  if (border_code < 0 || border_code > 4) throw_invalid("border must be constant, nearest, reflect, mirror or wrap");
  const int in_code = static_cast<int>(input_type), out_code = static_cast<int>(output_type);
  if (in_code < 0 || in_code > 10 || out_code < 0 || out_code > 10) throw_invalid("unknown scalar type");
  const int acc_code = static_cast<int>(accumulator);
  if (acc_code < 0 || acc_code > 3) throw_invalid("unknown accumulator");
  if (acc_code >= 2 && (!is_integer(input_type) || !is_integer(output_type)))
    throw_invalid("wrapping integer accumulators need integer input and output types");
}

// A checked problem in the kernels' terms: stacks of planes, taps with (slot, row, column).
struct PlaneProblem {
  Filter2dParams params;
  i64 tap_count = 0;
  const i64* tap_rows = nullptr;
  const i64* tap_cols = nullptr;
  const void* weights = nullptr;
  i64 kernel_height = 1, kernel_width = 1;
  i64 slots = 1;
  const i64* tap_slots = nullptr;
  const FilterDepth* depth = nullptr;
};

void run_planes(const PlaneProblem& problem, FilterScalar input_type, const void* input, FilterScalar output_type,
                void* output, FilterAccumulator accumulator, const void* fill) {
  const Filter2dParams& p = problem.params;
  const i64 out_elements = p.planes * p.out_height * p.out_width;
  // Extended position k along rows is input coordinate k + row_offset (likewise columns).
  std::vector<i64> row_left, row_right, col_left, col_right;
  const FilterAxisMap rows =
      axis_map(p.border, p.out_height + problem.kernel_height - 1, p.row_offset, p.in_height, row_left, row_right);
  const FilterAxisMap cols =
      axis_map(p.border, p.out_width + problem.kernel_width - 1, p.col_offset, p.in_width, col_left, col_right);

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
    job.kernel_height = problem.kernel_height;
    job.kernel_width = problem.kernel_width;
    job.input_type = static_cast<int>(input_type);
    job.output_type = static_cast<int>(output_type);
    job.input = input;
    job.output = output;
    job.tap_count = problem.tap_count;
    job.tap_rows = problem.tap_rows;
    job.tap_cols = problem.tap_cols;
    job.rows = rows;
    job.cols = cols;
    job.depth_slots = problem.slots;
    job.tap_slots = problem.tap_slots;
    job.depth = problem.depth;
    // Per output and tap: a multiply-add, at about a seventh of the direct conv's rate (one
    // plane, taps broadcast one by one), plus conversions in and out (one per slot).
    job.threads = threads_for_work(
        conv_work_ns<float>(double(out_elements) * double(problem.tap_count + 3 + problem.slots), 0.15));
    return run<A>(kernels, job, problem.weights, fill);
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

void check_pointers(i64 out_elements, bool has_input_values, const void* input, void* output, const void* fill,
                    i64 tap_count, const void* weights) {
  if (out_elements == 0) return;
  if (output == nullptr) throw_invalid("output must not be null");
  if (fill == nullptr) throw_invalid("fill must not be null");
  if (tap_count > 0 && weights == nullptr) throw_invalid("tap weights must not be null");
  if (has_input_values && input == nullptr) throw_invalid("input must not be null");
}

}  // namespace

void filter2d(const Filter2dParams& p, FilterScalar input_type, const void* input, FilterScalar output_type,
              void* output, FilterAccumulator accumulator, const Filter2dTaps& taps, const void* fill) {
  check_range("planes", p.planes, 0, max_element_count);
  check_range("input height", p.in_height, 0, max_extent);
  check_range("input width", p.in_width, 0, max_extent);
  check_range("output height", p.out_height, 0, max_extent);
  check_range("output width", p.out_width, 0, max_extent);
  check_range("row offset", p.row_offset, -max_extent, max_extent);
  check_range("column offset", p.col_offset, -max_extent, max_extent);
  check_codes(p.border, input_type, output_type, accumulator);
  checked_mul(checked_mul(p.planes, p.in_height, "input size"), p.in_width, "input size");
  const i64 out_elements = checked_mul(checked_mul(p.planes, p.out_height, "output size"), p.out_width, "output size");
  check_range("tap count", taps.count, 0, max_element_count);
  if (taps.count > 0 && (taps.rows == nullptr || taps.cols == nullptr))
    throw_invalid("tap rows and columns must not be null");
  PlaneProblem problem;
  for (i64 t = 0; t < taps.count; ++t) {
    check_range("tap row", taps.rows[t], 0, max_extent - 1);
    check_range("tap column", taps.cols[t], 0, max_extent - 1);
    problem.kernel_height = std::max(problem.kernel_height, taps.rows[t] + 1);
    problem.kernel_width = std::max(problem.kernel_width, taps.cols[t] + 1);
  }
  if (out_elements == 0) return;
  if ((p.in_height == 0 || p.in_width == 0) && p.border != FilterBorder::constant)
    throw_invalid("an empty input has no values to extend with this border mode (only constant/fill works)");
  check_pointers(out_elements, p.in_height > 0 && p.in_width > 0 && p.planes > 0, input, output, fill, taps.count,
                 taps.weights);
  check_disjoint(output, out_elements * scalar_bytes(output_type), "output", input,
                 p.planes * p.in_height * p.in_width * scalar_bytes(input_type), "input");
  problem.params = p;
  problem.tap_count = taps.count;
  problem.tap_rows = taps.rows;
  problem.tap_cols = taps.cols;
  problem.weights = taps.weights;
  run_planes(problem, input_type, input, output_type, output, accumulator, fill);
}

void filter_nd(int ndim, const std::int64_t* shape, const std::int64_t* offsets, FilterBorder border,
               FilterScalar input_type, const void* input, FilterScalar output_type, void* output,
               FilterAccumulator accumulator, const FilterNdTaps& taps, const void* fill) {
  if (ndim < 1 || ndim > max_filter_ndim) throw_invalid("ndim must be 1..", max_filter_ndim, ", got ", ndim);
  if (shape == nullptr || offsets == nullptr) throw_invalid("shape and offsets must not be null");
  check_codes(border, input_type, output_type, accumulator);
  check_range("tap count", taps.count, 0, max_element_count);
  if (taps.count > 0 && taps.coords == nullptr) throw_invalid("tap coordinates must not be null");
  // Axes padded in front to at least 2; the last two are the planes' rows and columns.
  const int nd = std::max(ndim, 2), lead = nd - ndim, m = nd - 2;
  std::vector<i64> extent(static_cast<std::size_t>(nd), 0), offset(static_cast<std::size_t>(nd), 0),
      kernel(static_cast<std::size_t>(nd), 1);
  i64 elements = 1;
  for (int a = 0; a < nd; ++a) {
    extent[a] = a < lead ? 1 : shape[a - lead];
    offset[a] = a < lead ? 0 : offsets[a - lead];
    check_range("shape", extent[a], 0, max_extent);
    check_range("offset", offset[a], -max_extent, max_extent);
    elements = checked_mul(elements, extent[a], "array size");
  }
  for (i64 t = 0; t < taps.count; ++t)
    for (int a = lead; a < nd; ++a) {
      const i64 c = taps.coords[t * ndim + (a - lead)];
      check_range("tap coordinate", c, 0, max_extent - 1);
      kernel[a] = std::max(kernel[a], c + 1);
    }
  if (elements == 0) return;
  check_pointers(elements, true, input, output, fill, taps.count, taps.weights);
  check_disjoint(output, elements * scalar_bytes(output_type), "output", input, elements * scalar_bytes(input_type),
                 "input");

  // Slots: the distinct leading coordinates of the taps, numbered in order of first use (so
  // taps listed in C order have non-decreasing slots).
  std::map<std::vector<i64>, i64> slot_of;
  std::vector<i64> slot_coords, tap_slots(static_cast<std::size_t>(taps.count)),
      tap_rows(static_cast<std::size_t>(taps.count)), tap_cols(static_cast<std::size_t>(taps.count));
  for (i64 t = 0; t < taps.count; ++t) {
    std::vector<i64> key(static_cast<std::size_t>(m));
    for (int a = 0; a < m; ++a) key[a] = a < lead ? 0 : taps.coords[t * ndim + (a - lead)];
    const auto found = slot_of.emplace(key, i64(slot_of.size()));
    if (found.second) slot_coords.insert(slot_coords.end(), key.begin(), key.end());
    tap_slots[t] = found.first->second;
    tap_rows[t] = nd - 2 < lead ? 0 : taps.coords[t * ndim + (nd - 2 - lead)];
    tap_cols[t] = taps.coords[t * ndim + (nd - 1 - lead)];
  }
  PlaneProblem problem;
  problem.params.planes = elements / (extent[nd - 2] * extent[nd - 1]);
  problem.params.in_height = problem.params.out_height = extent[nd - 2];
  problem.params.in_width = problem.params.out_width = extent[nd - 1];
  problem.params.row_offset = offset[nd - 2];
  problem.params.col_offset = offset[nd - 1];
  problem.params.border = border;
  problem.tap_count = taps.count;
  problem.tap_rows = tap_rows.data();
  problem.tap_cols = tap_cols.data();
  problem.weights = taps.weights;
  problem.kernel_height = kernel[nd - 2];
  problem.kernel_width = kernel[nd - 1];
  problem.slots = std::max<i64>(1, i64(slot_of.size()));
  if (taps.count == 0) slot_coords.assign(static_cast<std::size_t>(m), 0);
  problem.tap_slots = tap_slots.data();
  std::vector<std::vector<i64>> lefts(static_cast<std::size_t>(m)), rights(static_cast<std::size_t>(m));
  std::vector<FilterAxisMap> maps(static_cast<std::size_t>(m));
  std::vector<i64> plane_strides(static_cast<std::size_t>(m), 1);
  for (int a = m - 1; a >= 0; --a) {
    maps[a] = axis_map(border, extent[a] + kernel[a] - 1, offset[a], extent[a], lefts[a], rights[a]);
    if (a + 1 < m) plane_strides[a] = plane_strides[a + 1] * extent[a + 1];
  }
  FilterDepth depth;
  depth.axes = m;
  depth.out_shape = extent.data();
  depth.plane_strides = plane_strides.data();
  depth.maps = maps.data();
  depth.slot_coords = slot_coords.data();
  if (m > 0) problem.depth = &depth;
  run_planes(problem, input_type, input, output_type, output, accumulator, fill);
}

}  // namespace fieldconv
