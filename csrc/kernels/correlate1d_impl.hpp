// 1-D filter along an axis (fieldconv/correlate1d.hpp), one implementation for every kernel
// family. Included by correlate1d_<isa>.cpp inside that family's namespace, after Simd<T>.
//
// The array is (outer, length, inner), C-contiguous. Two shapes of work:
//  * inner == 1 (the last axis): a work item is one line; it is converted to float64 and
//    extended by the border rule into a buffer, then filtered with vectors along the line.
//  * inner > 1: a work item is (outer index, tile of B inner columns); the tile's
//    length + size - 1 extended rows of B elements are converted into a buffer, then each output
//    row is filtered with vectors across the B columns (the contiguous direction).
// In both, a lane's sum is SciPy's: float64, the same terms in the same order, no FMA (Simd
// mul / add / mul_add, separately rounded), so results equal SciPy's bit for bit. Each item reads
// all its input before writing its output, so input and output may be the same array.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/convert_impl.hpp"
#include "kernels/kernel_support.hpp"
#include "kernels/kernels.hpp"
#include "parallel.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Per-thread buffer budget for a tile of extended rows (about half the L2 of this CPU).
constexpr i64 c1_buffer_budget_bytes = 256 * 1024;
constexpr i64 c1_max_thread_workspace_bytes = i64{1} << 30;
// Work (multiply-adds) a thread must get before others are asked to help (as filter2d).
constexpr i64 c1_min_work_per_thread = i64{1} << 18;

// ---- conversions of rows -------------------------------------------------------------------

template <class In>
void c1_load_typed(const void* base, i64 index, i64 stride, double* dst, i64 n) {
  const In* src = static_cast<const In*>(base) + index;
  if (stride == 1) {
    for (i64 j = 0; j < n; ++j) dst[j] = load_value<double>(src[j]);
  } else {
    for (i64 j = 0; j < n; ++j) dst[j] = load_value<double>(src[j * stride]);
  }
}

// dst[j] = input[index + j * stride] as double, j < n.
void c1_load(int type, const void* base, i64 index, i64 stride, double* dst, i64 n) {
  switch (type) {
    case 0: case 2: c1_load_typed<std::uint8_t>(base, index, stride, dst, n); break;  // bool: its byte
    case 1: c1_load_typed<std::int8_t>(base, index, stride, dst, n); break;
    case 3: c1_load_typed<std::int16_t>(base, index, stride, dst, n); break;
    case 4: c1_load_typed<std::uint16_t>(base, index, stride, dst, n); break;
    case 5: c1_load_typed<std::int32_t>(base, index, stride, dst, n); break;
    case 6: c1_load_typed<std::uint32_t>(base, index, stride, dst, n); break;
    case 7: c1_load_typed<std::int64_t>(base, index, stride, dst, n); break;
    case 8: c1_load_typed<std::uint64_t>(base, index, stride, dst, n); break;
    case 9: c1_load_typed<float>(base, index, stride, dst, n); break;
    default: c1_load_typed<double>(base, index, stride, dst, n); break;
  }
}

template <class Out>
void c1_store_typed(const double* src, void* base, i64 index, i64 n) {
  Out* dst = static_cast<Out*>(base) + index;
  for (i64 j = 0; j < n; ++j) dst[j] = store_value<Out, double, true>(src[j]);
}

// output[index + j] = src[j] converted as SciPy's line buffers convert (plain C cast), j < n.
void c1_store(int type, const double* src, void* base, i64 index, i64 n) {
  switch (type) {
    case 0: case 2: c1_store_typed<std::uint8_t>(src, base, index, n); break;  // bool: the byte the cast gives
    case 1: c1_store_typed<std::int8_t>(src, base, index, n); break;
    case 3: c1_store_typed<std::int16_t>(src, base, index, n); break;
    case 4: c1_store_typed<std::uint16_t>(src, base, index, n); break;
    case 5: c1_store_typed<std::int32_t>(src, base, index, n); break;
    case 6: c1_store_typed<std::uint32_t>(src, base, index, n); break;
    case 7: c1_store_typed<std::int64_t>(src, base, index, n); break;
    case 8: c1_store_typed<std::uint64_t>(src, base, index, n); break;
    case 9: c1_store_typed<float>(src, base, index, n); break;
    default:
      if (static_cast<double*>(base) + index != src) std::memcpy(static_cast<double*>(base) + index, src, sizeof(double) * n);
  }
}

// ---- the sums ------------------------------------------------------------------------------

// U vectors of lanes; tap t of lane c at x[t * ts + c]. Sym: 1 symmetric, -1 antisymmetric, 0 none.
template <int U, int Sym>
inline void c1_block(const double* x, i64 ts, const double* w, i64 k, double* out) {
  using S = Simd<double>;
  constexpr int L = S::lanes;
  typename S::vec acc[U];
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    const typename S::vec wc = S::set1(w[s1]);
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(x + s1 * ts + u * L), wc);
    for (i64 t = 0; t < s1; ++t) {
      const typename S::vec wt = S::set1(w[t]);
      const double* a = x + t * ts;
      const double* b = x + (k - 1 - t) * ts;
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        const typename S::vec pair =
            Sym > 0 ? S::add(S::load(a + u * L), S::load(b + u * L)) : S::sub(S::load(a + u * L), S::load(b + u * L));
        acc[u] = S::mul_add(pair, wt, acc[u]);
      }
    }
  } else {
    const typename S::vec wl = S::set1(w[k - 1]);
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(x + (k - 1) * ts + u * L), wl);
    for (i64 t = 0; t < k - 1; ++t) {
      const typename S::vec wt = S::set1(w[t]);
      const double* a = x + t * ts;
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) acc[u] = S::mul_add(S::load(a + u * L), wt, acc[u]);
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) S::store(out + u * L, acc[u]);
}

template <int Sym>
inline double c1_scalar(const double* x, i64 ts, const double* w, i64 k) {
  double acc;
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    acc = x[s1 * ts] * w[s1];
    for (i64 t = 0; t < s1; ++t) {
      const double pair = Sym > 0 ? x[t * ts] + x[(k - 1 - t) * ts] : x[t * ts] - x[(k - 1 - t) * ts];
      const double product = pair * w[t];
      acc = acc + product;
    }
  } else {
    acc = x[(k - 1) * ts] * w[k - 1];
    for (i64 t = 0; t < k - 1; ++t) {
      const double product = x[t * ts] * w[t];
      acc = acc + product;
    }
  }
  return acc;
}

// out[c] for c < n: taps of lane c at x[t * ts + c].
template <int Sym>
void c1_lanes(const double* x, i64 ts, const double* w, i64 k, double* out, i64 n) {
  constexpr i64 L = Simd<double>::lanes;
  i64 c = 0;
  for (; c + 4 * L <= n; c += 4 * L) c1_block<4, Sym>(x + c, ts, w, k, out + c);
  for (; c + L <= n; c += L) c1_block<1, Sym>(x + c, ts, w, k, out + c);
  for (; c < n; ++c) out[c] = c1_scalar<Sym>(x + c, ts, w, k);
}

void c1_filter(const Correlate1dJob& job, const double* x, i64 ts, double* out, i64 n) {
  if (job.symmetry > 0) c1_lanes<1>(x, ts, job.weights, job.size, out, n);
  else if (job.symmetry < 0) c1_lanes<-1>(x, ts, job.weights, job.size, out, n);
  else c1_lanes<0>(x, ts, job.weights, job.size, out, n);
}

// ---- the driver ----------------------------------------------------------------------------

KernelStatus c1_run(const Correlate1dJob& job) noexcept {
  const i64 n = job.length, k = job.size, inner = job.inner;
  if (job.outer == 0 || n == 0 || inner == 0) return KernelStatus::ok;
  const i64 ext = n + k - 1;
  const bool last_axis = inner == 1;
  constexpr i64 L = Simd<double>::lanes;
  // Tile width across inner columns: as many as keep the extended rows within the budget.
  i64 tile = 1;
  if (!last_axis) {
    tile = c1_buffer_budget_bytes / (ext * i64(sizeof(double)));
    tile = max_i64(4 * L, tile / (4 * L) * (4 * L));
    tile = min_i64(tile, inner);
  }
  const i64 tiles = last_axis ? 1 : ceil_div(inner, tile);
  i64 item_count = job.outer * tiles;
  // Enough items for every thread when a few wide rows are all there is.
  if (!last_axis && item_count < 4 * i64(job.threads) && tile > 4 * L) {
    const i64 per = max_i64(4 * L, round_up(ceil_div(inner, ceil_div(4 * i64(job.threads), job.outer)), 4 * L));
    tile = min_i64(tile, per);
  }
  const i64 tile_count = last_axis ? 1 : ceil_div(inner, tile);
  item_count = job.outer * tile_count;
  const i64 buffer_elements = last_axis ? ext + 8 : ext * tile;
  const i64 out_elements = last_axis ? n + 8 : tile;
  const i64 thread_bytes = round_up(8 * (buffer_elements + 2 * out_elements), 64);
  if (thread_bytes > c1_max_thread_workspace_bytes) return KernelStatus::workspace_too_large;
  const i64 per_output = job.kind == 0 ? k : 2;
  const i64 work = job.outer * n * inner * (per_output + 4);
  const int threads = int(min_i64(min_i64(job.threads, item_count), max_i64(1, work / c1_min_work_per_thread)));
  Workspace memory(std::size_t(thread_bytes) * std::size_t(threads));
  if (memory.get() == nullptr) return KernelStatus::out_of_memory;

  const i64 plane = n * inner;  // elements per outer index
  auto body = [&](i64 item, int thread) {
    double* buffer = reinterpret_cast<double*>(static_cast<char*>(memory.get()) + thread * thread_bytes);
    double* out = buffer + buffer_elements;
    double* sums = out + out_elements;
    if (last_axis) {
      const i64 line = item;  // outer index
      const i64 base = line * n;
      // extended line: the identity span by one converting copy, the rest through the map
      const i64 lo = job.identity_begin, hi = job.identity_end;
      for (i64 e = 0; e < lo; ++e) {
        const i64 m = job.map[e];
        if (m < 0) buffer[e] = job.cval;
        else c1_load(job.input_type, job.input, base + m, 1, buffer + e, 1);
      }
      if (hi > lo) c1_load(job.input_type, job.input, base + lo + job.shift, 1, buffer + lo, hi - lo);
      for (i64 e = hi; e < ext; ++e) {
        const i64 m = job.map[e];
        if (m < 0) buffer[e] = job.cval;
        else c1_load(job.input_type, job.input, base + m, 1, buffer + e, 1);
      }
      if (job.kind == 0) {
        c1_filter(job, buffer, 1, out, n);
      } else {
        double tmp = 0.0;
        for (i64 t = 0; t < k; ++t) tmp += buffer[t];
        out[0] = tmp / double(k);
        for (i64 l = 1; l < n; ++l) {
          const double step = buffer[l + k - 1] - buffer[l - 1];
          tmp += step;
          out[l] = tmp / double(k);
        }
      }
      c1_store(job.output_type, out, job.output, base, n);
      return;
    }
    const i64 o = item / tile_count;
    const i64 j0 = (item % tile_count) * tile;
    const i64 width = min_i64(tile, inner - j0);
    const i64 base = o * plane + j0;
    for (i64 e = 0; e < ext; ++e) {
      const i64 m = job.map[e];
      double* row = buffer + e * width;
      if (m < 0) {
        for (i64 j = 0; j < width; ++j) row[j] = job.cval;
      } else {
        c1_load(job.input_type, job.input, base + m * inner, 1, row, width);
      }
    }
    if (job.kind == 0) {
      for (i64 i = 0; i < n; ++i) {
        c1_filter(job, buffer + i * width, width, out, width);
        c1_store(job.output_type, out, job.output, base + i * inner, width);
      }
    } else {
      const double size = double(k);
      for (i64 j = 0; j < width; ++j) sums[j] = 0.0;
      for (i64 t = 0; t < k; ++t) {
        const double* row = buffer + t * width;
        for (i64 j = 0; j < width; ++j) sums[j] += row[j];
      }
      for (i64 j = 0; j < width; ++j) out[j] = sums[j] / size;
      c1_store(job.output_type, out, job.output, base, width);
      for (i64 i = 1; i < n; ++i) {
        const double* enter = buffer + (i + k - 1) * width;
        const double* leave = buffer + (i - 1) * width;
        for (i64 j = 0; j < width; ++j) {
          const double step = enter[j] - leave[j];
          sums[j] += step;
          out[j] = sums[j] / size;
        }
        c1_store(job.output_type, out, job.output, base + i * inner, width);
      }
    }
  };
  parallel_for(item_count, threads, body);
  return KernelStatus::ok;
}

}  // namespace

KernelStatus correlate1d_lines(const Correlate1dJob& job) noexcept { return c1_run(job); }

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
