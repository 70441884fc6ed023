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

}  // namespace

void correlate1d(const Correlate1dParams& p, FilterScalar input_type, const void* input, FilterScalar output_type,
                 void* output, const double* weights) {
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
  if (p.outer == 0 || p.length == 0 || p.inner == 0) return;
  if (input == nullptr || output == nullptr) throw_invalid("input and output must not be null");
  // Extended position e reads input coordinate e - s1 - origin.
  const i64 s1 = p.size / 2;
  const i64 ext = p.length + p.size - 1;
  const i64 shift = -(s1 + p.origin);
  std::vector<i64> map(static_cast<std::size_t>(ext));
  for (i64 e = 0; e < ext; ++e) map[e] = filter_border_index(p.border, e + shift, p.length);
  const i64 identity_begin = std::min(ext, std::max<i64>(0, -shift));
  const i64 identity_end = std::max(identity_begin, std::min(ext, p.length - shift));

  Correlate1dJob job{};
  job.outer = p.outer;
  job.length = p.length;
  job.inner = p.inner;
  job.size = p.size;
  job.input_type = in_code;
  job.output_type = out_code;
  job.input = input;
  job.output = output;
  job.weights = weights;
  job.kind = kind_code;
  job.symmetry = p.kind == Line1dKind::weights ? symmetry_of(weights, p.size) : 0;
  job.map = map.data();
  job.identity_begin = identity_begin;
  job.identity_end = identity_end;
  job.shift = shift;
  job.cval = p.cval;
  job.threads = get_num_threads();
  const KernelStatus status = active_kernels().correlate1d(job);
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("correlate1d: the workspace for this filter would exceed the limit of 1 GiB per thread");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
}

}  // namespace fieldconv
