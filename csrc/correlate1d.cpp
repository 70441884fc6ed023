// Public correlate1d entry point: check arguments, build the border index map of a line, test
// the weights for SciPy's symmetry, hand a job to the active kernel family.
#include "fieldconv/correlate1d.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/runtime.hpp"
#include "fieldconv/shapes.hpp"

namespace fieldconv {

namespace {

using i64 = std::int64_t;

// SciPy's test (NI_Correlate1D): odd sizes only; symmetric first, then antisymmetric.
int symmetry_of(const double* w, i64 k) {
  if (!(k & 1)) return 0;
  const i64 s1 = k / 2;
  bool symmetric = true;
  for (i64 d = 1; d <= s1 && symmetric; ++d) symmetric = !(std::fabs(w[s1 + d] - w[s1 - d]) > DBL_EPSILON);
  if (symmetric) return 1;
  for (i64 d = 1; d <= s1; ++d)
    if (std::fabs(w[s1 + d] + w[s1 - d]) > DBL_EPSILON) return 0;
  return -1;
}

// Float32 sums only where rounding the weights to float32 keeps each one finite and nonzero
// (a weight below FLT_MIN would turn inf * w into 0 * inf = NaN, unlike SciPy).
bool float32_weights(const double* w, i64 k) {
  for (i64 t = 0; t < k; ++t) {
    const double a = std::fabs(w[t]);
    if (a != 0.0 && !(a >= double(FLT_MIN) && a <= double(FLT_MAX))) return false;
  }
  return true;
}

}  // namespace

namespace {

struct LineMap {
  std::vector<i64> map;
  i64 identity_begin = 0, identity_end = 0, shift = 0;
};

// Extended position e of a line of `length` reads input coordinate e - s1 - origin.
LineMap line_map(const Correlate1dParams& p) {
  LineMap m;
  const i64 s1 = p.size / 2;
  const i64 ext = p.length + p.size - 1;
  m.shift = -(s1 + p.origin);
  m.map.resize(static_cast<std::size_t>(ext));
  m.identity_begin = std::min(ext, std::max<i64>(0, -m.shift));
  m.identity_end = std::max(m.identity_begin, std::min(ext, p.length - m.shift));
  // inside the line the index is e + shift; the border rule only for the k - 1 outside
  for (i64 e = 0; e < m.identity_begin; ++e) m.map[e] = filter_border_index(p.border, e + m.shift, p.length);
  for (i64 e = m.identity_begin; e < m.identity_end; ++e) m.map[e] = e + m.shift;
  for (i64 e = m.identity_end; e < ext; ++e) m.map[e] = filter_border_index(p.border, e + m.shift, p.length);
  return m;
}

void check_params(const Correlate1dParams& p, FilterScalar input_type, FilterScalar output_type,
                  const double* weights) {
  check_range("outer", p.outer, 0, max_element_count);
  check_range("length", p.length, 0, max_element_count);
  check_range("inner", p.inner, 0, max_element_count);
  checked_mul(checked_mul(p.outer, p.length, "array size"), p.inner, "array size");
  check_range("size", p.size, 1, max_extent);
  check_range("origin", p.origin, -(p.size / 2), (p.size - 1) / 2);
  const int border_code = static_cast<int>(p.border);
  if (border_code < 0 || border_code > 4) throw_invalid("border must be constant, nearest, reflect, mirror or wrap");
  const int kind_code = static_cast<int>(p.kind);
  if (kind_code < 0 || kind_code > 1) throw_invalid("kind must be weights or uniform");
  const int in_code = static_cast<int>(input_type), out_code = static_cast<int>(output_type);
  if (in_code < 0 || in_code > 10 || out_code < 0 || out_code > 10) throw_invalid("unknown scalar type");
  if (p.kind == Line1dKind::weights && weights == nullptr) throw_invalid("weights must not be null");
}

// Input and output may be the very same array (same memory, same type: the passes read a line
// before writing it back); any other overlap is refused.
void check_overlap(const Correlate1dParams& p, FilterScalar input_type, const void* input, FilterScalar output_type,
                   const void* output) {
  if (input == output && input_type == output_type) return;
  const i64 elements = p.outer * p.length * p.inner;
  check_disjoint(output, elements * scalar_bytes(output_type), "output", input, elements * scalar_bytes(input_type),
                 "input");
}

void run_job(const Correlate1dJob& job) {
  const KernelStatus status = active_kernels().correlate1d.lines(job);
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("correlate1d: the workspace for this filter would exceed the limit of 1 GiB per thread");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
}

Correlate1dJob make_job(const Correlate1dParams& p, const LineMap& m, FilterScalar input_type, const void* input,
                        FilterScalar output_type, void* output, const double* weights) {
  Correlate1dJob job{};
  job.outer = p.outer;
  job.length = p.length;
  job.inner = p.inner;
  job.size = p.size;
  job.input_type = static_cast<int>(input_type);
  job.output_type = static_cast<int>(output_type);
  job.input = input;
  job.output = output;
  job.weights = weights;
  job.kind = static_cast<int>(p.kind);
  job.symmetry = p.kind == Line1dKind::weights ? symmetry_of(weights, p.size) : 0;
  job.map = m.map.data();
  job.identity_begin = m.identity_begin;
  job.identity_end = m.identity_end;
  job.shift = m.shift;
  job.cval = p.cval;
  // float32 input and output, weights: float32 sums with FMA (docs/scipy-deviations.md); every
  // other case SciPy's float64 sums in SciPy's order, bit for bit.
  job.float_sums = input_type == FilterScalar::float32 && output_type == FilterScalar::float32 &&
                   p.kind == Line1dKind::weights && float32_weights(weights, p.size);
  // Per element and tap a multiply and add, vectorised along the contiguous axis: about a
  // quarter of the direct conv's rate (float64 without FMA, or float32 with it).
  const double macs =
      double(p.outer) * double(p.length) * double(p.inner) * double(p.kind == Line1dKind::weights ? p.size + 4 : 6);
  job.threads = threads_for_work(job.float_sums ? conv_work_ns<float>(macs, 0.25) : conv_work_ns<double>(macs, 0.25));
  job.weights2 = nullptr;
  job.plane_rows = 0;
  job.plane_weights = nullptr;
  return job;
}

// The fused job's pass along the last axis, done on each row as soon as the first pass wrote it.
void attach_last_pass(Correlate1dJob& job, const Correlate1dParams& last, const LineMap& map, const double* weights) {
  job.float_sums = job.float_sums && float32_weights(weights, last.size);
  job.weights2 = weights;
  job.size2 = last.size;
  job.symmetry2 = symmetry_of(weights, last.size);
  job.map2 = map.map.data();
  job.identity_begin2 = map.identity_begin;
  job.identity_end2 = map.identity_end;
  job.shift2 = map.shift;
  job.cval2 = last.cval;
}

}  // namespace

void correlate1d(const Correlate1dParams& p, FilterScalar input_type, const void* input, FilterScalar output_type,
                 void* output, const double* weights) {
  check_params(p, input_type, output_type, weights);
  if (p.outer == 0 || p.length == 0 || p.inner == 0) return;
  if (input == nullptr || output == nullptr) throw_invalid("input and output must not be null");
  check_overlap(p, input_type, input, output_type, output);
  const LineMap m = line_map(p);
  run_job(make_job(p, m, input_type, input, output_type, output, weights));
}

void correlate1d_then_last(const Correlate1dParams& first, const double* first_weights, const Correlate1dParams& last,
                           const double* last_weights, FilterScalar input_type, const void* input,
                           FilterScalar output_type, void* output) {
  check_params(first, input_type, output_type, first_weights);
  Correlate1dParams second = last;
  second.outer = first.outer * first.length;
  second.length = first.inner;
  second.inner = 1;
  check_params(second, output_type, output_type, last_weights);
  if (first.outer == 0 || first.length == 0 || first.inner == 0) return;
  if (input == nullptr || output == nullptr) throw_invalid("input and output must not be null");
  check_overlap(first, input_type, input, output_type, output);
  const LineMap m1 = line_map(first);
  const LineMap m2 = line_map(second);
  // One sweep needs whole rows in the ring; beyond this size, two sweeps.
  const i64 ring_bytes = (2 * first.size + 2) * first.inner * i64(sizeof(double));
  const bool fuse = first.inner > 1 && first.kind == Line1dKind::weights && second.kind == Line1dKind::weights &&
                    ring_bytes <= (i64{16} << 20);
  if (!fuse) {
    run_job(make_job(first, m1, input_type, input, output_type, output, first_weights));
    run_job(make_job(second, m2, output_type, output, output_type, output, last_weights));
    return;
  }
  Correlate1dJob job = make_job(first, m1, input_type, input, output_type, output, first_weights);
  attach_last_pass(job, second, m2, last_weights);
  run_job(job);
}

void correlate1d_then_last_two(const Correlate1dParams& first, const double* first_weights,
                               const Correlate1dParams& middle, const double* middle_weights,
                               const Correlate1dParams& last, const double* last_weights, std::int64_t plane_rows,
                               FilterScalar input_type, const void* input, FilterScalar output_type, void* output) {
  check_params(first, input_type, output_type, first_weights);
  check_range("plane rows", plane_rows, 1, max_element_count);
  if (first.inner % plane_rows != 0) throw_invalid("plane rows must divide the inner extent");
  const i64 width = first.inner / plane_rows;
  Correlate1dParams mid = middle, end = last;
  mid.outer = first.outer * first.length;
  mid.length = plane_rows;
  mid.inner = width;
  end.outer = first.outer * first.length * plane_rows;
  end.length = width;
  end.inner = 1;
  check_params(mid, output_type, output_type, middle_weights);
  check_params(end, output_type, output_type, last_weights);
  if (first.outer == 0 || first.length == 0 || first.inner == 0) return;
  if (input == nullptr || output == nullptr) throw_invalid("input and output must not be null");
  check_overlap(first, input_type, input, output_type, output);
  const LineMap m1 = line_map(first);
  const LineMap mm = line_map(mid);
  const LineMap m2 = line_map(end);
  const i64 ring_bytes = (2 * first.size + 6) * first.inner * i64(sizeof(double));
  const bool fuse = first.kind == Line1dKind::weights && mid.kind == Line1dKind::weights &&
                    end.kind == Line1dKind::weights && ring_bytes <= (i64{32} << 20);
  if (!fuse) {
    run_job(make_job(first, m1, input_type, input, output_type, output, first_weights));
    run_job(make_job(mid, mm, output_type, output, output_type, output, middle_weights));
    run_job(make_job(end, m2, output_type, output, output_type, output, last_weights));
    return;
  }
  Correlate1dJob job = make_job(first, m1, input_type, input, output_type, output, first_weights);
  attach_last_pass(job, end, m2, last_weights);
  job.plane_rows = plane_rows;
  job.float_sums = job.float_sums && float32_weights(middle_weights, mid.size);
  job.plane_weights = middle_weights;
  job.plane_size = mid.size;
  job.plane_symmetry = symmetry_of(middle_weights, mid.size);
  job.plane_map = mm.map.data();
  job.plane_cval = mid.cval;
  run_job(job);
}

}  // namespace fieldconv
