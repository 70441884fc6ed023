// 1-D filter along an axis (fieldconv/correlate1d.hpp), one implementation for every kernel
// family. Included by correlate1d_<isa>.cpp inside that family's namespace, after Simd<T>.
//
// The array is (outer, length, inner), C-contiguous. Two shapes of work:
//  * inner == 1 (the last axis): a work item is one line; it is converted to the accumulator
//    type and extended by the border rule into a buffer, then filtered with vectors along it.
//  * inner > 1: a work item is (outer index, tile of B inner columns); the tile's
//    length + size - 1 extended rows of B elements are converted into a buffer, then each output
//    row is filtered with vectors across the B columns (the contiguous direction).
// In both, a lane's sum is SciPy's: float64, the same terms in the same order, no FMA (Simd
// mul / add / mul_add, separately rounded), so results equal SciPy's bit for bit; except with
// job.float_sums (float32 input and output, weights): the same pairing of taps in float32 with
// FMA (c1_run_as<float>). Each item reads all its input before writing its output, so input and
// output may be the same array.

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

// Bytes of the ring of converted rows of a work item (axes other than the last).
constexpr i64 c1_ring_budget_bytes = 512 * 1024;
constexpr i64 c1_max_thread_workspace_bytes = i64{1} << 30;

// ---- conversions of rows -------------------------------------------------------------------

// The accumulator of a job: float64 (SciPy's sums), or float32 (job.float_sums: float32 input
// and output only).
template <class A>
constexpr int scalar_code = std::is_same_v<A, float> ? 9 : 10;  // FilterScalar of A

template <class A, class In>
void c1_load_typed(const void* base, i64 index, i64 stride, A* dst, i64 n) {
  const In* src = static_cast<const In*>(base) + index;
  if constexpr (std::is_same_v<In, A>) {
    if (stride == 1) {
      vector_copy<A>(src, dst, n);
      return;
    }
  }
  if (stride == 1) {
    for (i64 j = 0; j < n; ++j) dst[j] = load_value<A>(src[j]);
  } else {
    for (i64 j = 0; j < n; ++j) dst[j] = load_value<A>(src[j * stride]);
  }
}

// dst[j] = input[index + j * stride] as A, j < n.
template <class A>
void c1_load(int type, const void* base, i64 index, i64 stride, A* dst, i64 n) {
  if constexpr (std::is_same_v<A, float>) {
    c1_load_typed<float, float>(base, index, stride, dst, n);  // float sums: float32 input only
  } else {
    switch (type) {
      case 0:
      case 2: c1_load_typed<double, std::uint8_t>(base, index, stride, dst, n); break;  // bool: its byte
      case 1: c1_load_typed<double, std::int8_t>(base, index, stride, dst, n); break;
      case 3: c1_load_typed<double, std::int16_t>(base, index, stride, dst, n); break;
      case 4: c1_load_typed<double, std::uint16_t>(base, index, stride, dst, n); break;
      case 5: c1_load_typed<double, std::int32_t>(base, index, stride, dst, n); break;
      case 6: c1_load_typed<double, std::uint32_t>(base, index, stride, dst, n); break;
      case 7: c1_load_typed<double, std::int64_t>(base, index, stride, dst, n); break;
      case 8: c1_load_typed<double, std::uint64_t>(base, index, stride, dst, n); break;
      case 9: c1_load_typed<double, float>(base, index, stride, dst, n); break;
      default: c1_load_typed<double, double>(base, index, stride, dst, n); break;
    }
  }
}

template <class Out, class A>
void c1_store_typed(const A* src, void* base, i64 index, i64 stride, i64 n) {
  Out* dst = static_cast<Out*>(base) + index;
  if constexpr (std::is_same_v<Out, A>) {
    if (stride == 1) {
      if (dst != src) vector_copy<A>(src, dst, n);
      return;
    }
  }
  if (stride == 1) {
    for (i64 j = 0; j < n; ++j) dst[j] = store_value<Out, A, true>(src[j]);
  } else {
    for (i64 j = 0; j < n; ++j) dst[j * stride] = store_value<Out, A, true>(src[j]);
  }
}

// output[index + j * stride] = src[j] converted as SciPy's line buffers convert (plain C
// cast), j < n.
template <class A>
void c1_store(int type, const A* src, void* base, i64 index, i64 n, i64 stride = 1) {
  if constexpr (std::is_same_v<A, float>) {
    c1_store_typed<float>(src, base, index, stride, n);  // float sums: float32 output only
  } else {
    switch (type) {
      case 0:
      case 2: c1_store_typed<std::uint8_t>(src, base, index, stride, n); break;  // bool: the cast's byte
      case 1: c1_store_typed<std::int8_t>(src, base, index, stride, n); break;
      case 3: c1_store_typed<std::int16_t>(src, base, index, stride, n); break;
      case 4: c1_store_typed<std::uint16_t>(src, base, index, stride, n); break;
      case 5: c1_store_typed<std::int32_t>(src, base, index, stride, n); break;
      case 6: c1_store_typed<std::uint32_t>(src, base, index, stride, n); break;
      case 7: c1_store_typed<std::int64_t>(src, base, index, stride, n); break;
      case 8: c1_store_typed<std::uint64_t>(src, base, index, stride, n); break;
      case 9: c1_store_typed<float>(src, base, index, stride, n); break;
      default: c1_store_typed<double>(src, base, index, stride, n); break;
    }
  }
}

// ---- the sums ------------------------------------------------------------------------------

// Where tap t of lane c is: Strided{x, ts}: x[t * ts + c] (a line, or rows at a fixed pitch);
// Rows{p}: p[t][c] (rows of a ring buffer or of the input).
template <class A>
struct Strided {
  const A* x;
  i64 ts;
  const A* tap(i64 t, i64 c) const { return x + t * ts + c; }
};
template <class A>
struct Rows {
  const A* const* p;
  const A* tap(i64 t, i64 c) const { return p[t] + c; }
};

// acc + a * b: float32 sums with one rounding (an FMA where the family has one), float64 sums
// with two (SciPy's).
template <class A, class S = Simd<A>>
inline typename S::vec c1_madd(typename S::vec a, typename S::vec b, typename S::vec acc) {
  if constexpr (std::is_same_v<A, float>) return S::fma(a, b, acc);
  else return S::mul_add(a, b, acc);
}

// Along a line (Strided) the family's LineSimd<A> vectors are used (simd_<isa>.hpp).
template <class A>
inline A c1_madd1(A a, A b, A acc) {
  if constexpr (std::is_same_v<A, float>) {
    return Simd<A>::fma(a, b, acc);
  } else {
    const A product = a * b;
    return acc + product;
  }
}

// U vectors of lanes from lane c. Sym: 1 symmetric, -1 antisymmetric, 0 neither.
template <class A, int U, int Sym, class Src, class S = Simd<A>>
inline void c1_block(const Src& src, i64 c, const A* w, i64 k, A* out) {
  using V = typename S::vec;
  constexpr int L = S::lanes;
  V acc[U];
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    const V wc = S::set1(w[s1]);
    const A* centre = src.tap(s1, c);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(centre + u * L), wc);
    for (i64 t = 0; t < s1; ++t) {
      const V wt = S::set1(w[t]);
      const A* a = src.tap(t, c);
      const A* b = src.tap(k - 1 - t, c);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        const V pair =
            Sym > 0 ? S::add(S::load(a + u * L), S::load(b + u * L)) : S::sub(S::load(a + u * L), S::load(b + u * L));
        acc[u] = c1_madd<A, S>(pair, wt, acc[u]);
      }
    }
  } else {
    const V wl = S::set1(w[k - 1]);
    const A* last = src.tap(k - 1, c);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(last + u * L), wl);
    for (i64 t = 0; t < k - 1; ++t) {
      const V wt = S::set1(w[t]);
      const A* a = src.tap(t, c);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = c1_madd<A, S>(S::load(a + u * L), wt, acc[u]);
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) S::store(out + u * L, acc[u]);
}

// R consecutive output rows at once from k + R - 1 rows p[0..k+R-2] (row r reads p[r..r+k-1]),
// U vectors of lanes from lane c: each row is loaded once for all R (a window of R rows slides
// forward over the first taps and one backward over their mirrors), a fraction of the loads of
// R c1_block calls; each lane's sum is c1_block's, term for term and in the same order.
template <class A, int R, int U, int Sym>
inline void c1_block_rows(const A* const* p, i64 c, const A* w, i64 k, A* const* out) {
  using S = Simd<A>;
  using V = typename S::vec;
  constexpr int L = S::lanes;
  V acc[R][U], front[R][U];
  if constexpr (Sym != 0) {
    V back[R][U];
    // float64 sums (no FMA) are two adds and a multiply per pair of taps: the adds alone would
    // bound them (Zen 4: one 512-bit add per cycle on its two add pipes). Half of the rows form
    // their pair sums as fma(a, 1, b) on the multiply pipes instead: a * 1 is exact, so that is
    // a + b rounded once, the same value as the add. (Measured on the shared Zen 4 machine: a
    // 512x2048 float64 pass along axis 0 1.28 ms against 1.36 ms, one thread; within its noise.)
    constexpr bool BalanceAdds = std::is_same_v<A, double> && R > 1;
    const V one = S::set1(A(1)), minus_one = S::set1(A(-1));
    const i64 s1 = k / 2;
    const V wc = S::set1(w[s1]);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r][u] = S::mul(S::load(p[s1 + r] + c + u * L), wc);
        front[r][u] = S::load(p[r] + c + u * L);         // row r's tap t: p[t + r]
        back[r][u] = S::load(p[k - 1 + r] + c + u * L);  // row r's tap k - 1 - t: p[k - 1 - t + r]
      }
    }
    for (i64 t = 0; t < s1; ++t) {
      const V wt = S::set1(w[t]);
      const A* ahead = p[t + R] + c;      // row R - 1's tap t + 1
      const A* behind = p[k - 2 - t] + c;  // row 0's tap k - 2 - t
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const V pair = BalanceAdds && (r & 1) ? S::fma(Sym > 0 ? front[r][u] : back[r][u], Sym > 0 ? one : minus_one,
                                                         Sym > 0 ? back[r][u] : front[r][u])
                         : Sym > 0              ? S::add(front[r][u], back[r][u])
                                                : S::sub(front[r][u], back[r][u]);
          acc[r][u] = c1_madd<A>(pair, wt, acc[r][u]);
        }
        if (t + 1 < s1) {
#pragma GCC unroll 8
          for (int r = 0; r + 1 < R; ++r) front[r][u] = front[r + 1][u];
          front[R - 1][u] = S::load(ahead + u * L);
#pragma GCC unroll 8
          for (int r = R - 1; r > 0; --r) back[r][u] = back[r - 1][u];
          back[0][u] = S::load(behind + u * L);
        }
      }
    }
  } else {
    const V wl = S::set1(w[k - 1]);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r][u] = S::mul(S::load(p[k - 1 + r] + c + u * L), wl);
        front[r][u] = S::load(p[r] + c + u * L);
      }
    }
    for (i64 t = 0; t < k - 1; ++t) {
      const V wt = S::set1(w[t]);
      const A* ahead = p[t + R] + c;
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][u] = c1_madd<A>(front[r][u], wt, acc[r][u]);
        if (t + 2 < k) {
#pragma GCC unroll 8
          for (int r = 0; r + 1 < R; ++r) front[r][u] = front[r + 1][u];
          front[R - 1][u] = S::load(ahead + u * L);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) S::store(out[r] + c + u * L, acc[r][u]);
}

template <class A, int Sym, class Src>
inline A c1_scalar(const Src& src, i64 c, const A* w, i64 k) {
  A acc;
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    acc = *src.tap(s1, c) * w[s1];
    for (i64 t = 0; t < s1; ++t) {
      const A a = *src.tap(t, c), b = *src.tap(k - 1 - t, c);
      const A pair = Sym > 0 ? a + b : a - b;
      acc = c1_madd1<A>(pair, w[t], acc);
    }
  } else {
    acc = *src.tap(k - 1, c) * w[k - 1];
    for (i64 t = 0; t < k - 1; ++t) acc = c1_madd1<A>(*src.tap(t, c), w[t], acc);
  }
  return acc;
}

// Independent accumulators hide the add latency: 8 vectors where there are 32 registers.
constexpr int c1_unroll = simd_registers >= 32 ? 8 : 4;

// out[c] for c < n.
template <class A, int Sym, class Src>
void c1_lanes(const Src& src, const A* w, i64 k, A* out, i64 n) {
  constexpr i64 L = Simd<A>::lanes;
  constexpr int U = c1_unroll;
  i64 c = 0;
  if constexpr (std::is_same_v<Src, Strided<A>> && !std::is_same_v<LineSimd<A>, Simd<A>>) {
    using Y = LineSimd<A>;
    constexpr i64 LY = Y::lanes;
    for (; c + U * LY <= n; c += U * LY) c1_block<A, U, Sym, Src, Y>(src, c, w, k, out + c);
    for (; c + LY <= n; c += LY) c1_block<A, 1, Sym, Src, Y>(src, c, w, k, out + c);
  }
  for (; c + U * L <= n; c += U * L) c1_block<A, U, Sym>(src, c, w, k, out + c);
  for (; c + 4 * L <= n; c += 4 * L) c1_block<A, 4, Sym>(src, c, w, k, out + c);
  for (; c + L <= n; c += L) c1_block<A, 1, Sym>(src, c, w, k, out + c);
  for (; c < n; ++c) out[c] = c1_scalar<A, Sym>(src, c, w, k);
}

// R rows: out[r] from p[r..r+k-1].
template <class A, int R, int Sym>
void c1_lanes_rows(const A* const* p, const A* w, i64 k, A* const* out, i64 n) {
  constexpr i64 L = Simd<A>::lanes;
  // accumulators and the two windows: 3 R vectors per U
  constexpr int U = simd_registers >= 32 ? (R <= 2 ? 4 : 2) : (R <= 2 ? 2 : 1);
  i64 c = 0;
  for (; c + U * L <= n; c += U * L) c1_block_rows<A, R, U, Sym>(p, c, w, k, out);
  for (; c + L <= n; c += L) c1_block_rows<A, R, 1, Sym>(p, c, w, k, out);
  for (; c < n; ++c)
    for (int r = 0; r < R; ++r) out[r][c] = c1_scalar<A, Sym>(Rows<A>{p + r}, c, w, k);
}

template <class A, class Src>
void c1_filter_with(int symmetry, const A* w, i64 k, const Src& src, A* out, i64 n) {
  if (symmetry > 0) c1_lanes<A, 1>(src, w, k, out, n);
  else if (symmetry < 0) c1_lanes<A, -1>(src, w, k, out, n);
  else c1_lanes<A, 0>(src, w, k, out, n);
}

// Rows a sweep of the ring computes at once (R of c1_block_rows): fewer loads per output, as
// many as the registers allow.
constexpr i64 c1_group = simd_registers >= 32 ? 4 : 2;

// count (<= c1_group) consecutive output rows: out[r] from p[r..r+k-1].
template <class A>
void c1_filter_rows(int symmetry, const A* w, i64 k, const A* const* p, A* const* out, i64 count, i64 n) {
  for (i64 r = 0; r < count;) {
    const i64 left = count - r;
    if (c1_group >= 4 && left >= 4) {
      if (symmetry > 0) c1_lanes_rows<A, 4, 1>(p + r, w, k, out + r, n);
      else if (symmetry < 0) c1_lanes_rows<A, 4, -1>(p + r, w, k, out + r, n);
      else c1_lanes_rows<A, 4, 0>(p + r, w, k, out + r, n);
      r += 4;
    } else if (left >= 2) {
      if (symmetry > 0) c1_lanes_rows<A, 2, 1>(p + r, w, k, out + r, n);
      else if (symmetry < 0) c1_lanes_rows<A, 2, -1>(p + r, w, k, out + r, n);
      else c1_lanes_rows<A, 2, 0>(p + r, w, k, out + r, n);
      r += 2;
    } else {
      c1_filter_with<A>(symmetry, w, k, Rows<A>{p + r}, out[r], n);
      r += 1;
    }
  }
}

thread_local CachedWorkspace c1_workspace;  // kernel_support.hpp

// ---- the driver ----------------------------------------------------------------------------

template <class A>
KernelStatus c1_run_as(const Correlate1dJob& job) noexcept {
  const i64 n = job.length, k = job.size, inner = job.inner;
  const i64 ext = n + k - 1;
  constexpr i64 L = Simd<A>::lanes;
  constexpr i64 bytes = sizeof(A);
  // Line mode: each line filtered on its own (the last axis, or so few inner columns that
  // vectors across them would be mostly empty: strided lines).
  const bool last_axis = inner == 1 || (inner < L && job.weights2 == nullptr);
  const i64 lines = job.outer * (last_axis ? inner : 1);
  const bool in_place = job.input == job.output;
  // Tile width across inner columns: whole rows (sequential reads) when the ring's
  // k + c1_group - 1 of them fit the ring budget, else as many columns as fit. Rows are
  // converted into the ring just before the first group of output rows that reads them (see
  // below), so the working set is about that many rows of the tile whatever the length.
  const i64 ring_rows = k + c1_group - 1;  // the rows of a group of output rows
  i64 tile = 1;
  if (!last_axis) {
    tile = c1_ring_budget_bytes / (ring_rows * bytes);
    tile = tile >= inner ? inner : max_i64(4 * L, tile / (4 * L) * (4 * L));
    if (job.weights2 != nullptr) tile = inner;  // a fused second pass needs whole rows
  }
  i64 tile_count = last_axis ? 1 : ceil_div(inner, tile);
  // Slots of the ring an odd number of cache lines apart: the rows a vector of outputs reads
  // then sit in different cache sets (rows a power of two apart, as the input's
  // rows often are, all fall into one set of the 8-way L1 and evict each other).
  const i64 line_elements = 64 / bytes;
  const i64 pitch = (ceil_div(tile, line_elements) | 1) * line_elements;
  // Enough items for every thread when a few wide rows are all there is: bands of output rows
  // (each reads its own k - 1 halo rows, so whole rows stream sequentially), except in place,
  // where a band could overwrite rows another band still reads, and for the running sum of
  // uniform filters, whose order must start at the line's start; there, narrower tiles.
  i64 bands = 1, band_rows = n;
  const i64 wanted = 4 * i64(job.threads);
  if (!last_axis && job.outer * tile_count < wanted && job.threads > 1) {
    if (!in_place && job.kind == 0) {
      // bands of at least max(8, k) rows (each re-reads k - 1 halo rows), a multiple of the
      // thread count where there are that many (equal shares)
      bands = min_i64(ceil_div(wanted, job.outer * tile_count), max_i64(1, n / max_i64(8, k)));
      const i64 teams = job.outer * tile_count * bands;
      if (teams > job.threads) bands = max_i64(1, teams / job.threads * job.threads / (job.outer * tile_count));
      band_rows = ceil_div(n, bands);
      bands = ceil_div(n, band_rows);
    } else if (tile > 4 * L && job.weights2 == nullptr) {
      const i64 per = max_i64(4 * L, round_up(ceil_div(inner, ceil_div(wanted, job.outer)), 4 * L));
      tile = min_i64(tile, per);
      tile_count = ceil_div(inner, tile);
    }
  }
  // Last axis: short lines go several to an item (fewer scheduling steps), keeping enough items.
  const i64 lines_per_item =
      last_axis ? max_i64(1, min_i64(ceil_div(lines, 8 * i64(job.threads)), ceil_div(8192, n))) : 1;
  // Long lines, fewer than the threads want: segments of outputs (weights only: the running
  // sum's order starts at the line's start; not in place: a segment would overwrite input
  // another one still reads).
  i64 segments = 1;
  if (last_axis && job.kind == 0 && !in_place && lines < wanted && job.threads > 1)
    segments = max_i64(1, min_i64(ceil_div(wanted, lines), n / 4096));
  const i64 segment_length = ceil_div(n, segments);
  const i64 item_count =
      last_axis ? (segments > 1 ? lines * segments : ceil_div(lines, lines_per_item)) : job.outer * tile_count * bands;
  const bool fused = job.weights2 != nullptr && !last_axis;
  const bool planar = fused && job.plane_rows > 0;
  const i64 plane_width = planar ? inner / job.plane_rows : inner;  // the second pass' line length
  const i64 ext2 = fused ? plane_width + job.size2 - 1 : 0;
  const i64 line_pitch = round_up(ext2 + 8, 64 / bytes);
  // Per thread (elements of A): the extended line, or the ring of converted rows and in place
  // the side rows; a group of output rows and a row of running sums; fused second pass: a group
  // of extended rows (a pass writes its rows straight into them where no conversion to the
  // output type is needed), the filtered values, the row in the output type (planar: the
  // converted plane, a group of rows of the middle pass and a row of cval).
  const i64 buffer_elements = last_axis ? ext + 8 : ring_rows * pitch + (in_place ? (k - 1) * tile : 0);
  const i64 out_elements = last_axis ? n + 8 : tile;
  const i64 fused_elements =
      fused ? c1_group * line_pitch + inner + inner * (8 / bytes) + (planar ? inner + (c1_group + 1) * plane_width : 0)
            : 0;
  const i64 thread_bytes =
      round_up(bytes * (buffer_elements + (c1_group + 1) * out_elements + fused_elements) + 64, 64);
  if (thread_bytes > c1_max_thread_workspace_bytes) return KernelStatus::workspace_too_large;
  // job.threads is already what the work is worth (threads_for_work at the entry point)
  const int threads = int(min_i64(job.threads, item_count));
  const i64 table_entries = k + c1_group + (planar ? job.plane_size + c1_group : 0);
  const i64 weight_count = k + (fused ? job.size2 : 0) + (planar ? job.plane_size : 0);
  const i64 tables_bytes = round_up(i64(sizeof(A*)) * table_entries * threads, 64);
  const i64 weights_bytes = std::is_same_v<A, double> ? 0 : round_up(bytes * weight_count, 64);
  char* const memory = static_cast<char*>(
      c1_workspace.get(std::size_t(thread_bytes) * std::size_t(threads) + std::size_t(tables_bytes + weights_bytes)));
  if (memory == nullptr) return KernelStatus::out_of_memory;
  const A** const pointer_table = reinterpret_cast<const A**>(memory + thread_bytes * threads);
  // The weights as A (float sums: rounded to float32 once).
  const A *w1, *w2 = nullptr, *wp = nullptr;
  if constexpr (std::is_same_v<A, double>) {
    w1 = job.weights;
    w2 = job.weights2;
    wp = job.plane_weights;
  } else {
    A* const converted = reinterpret_cast<A*>(memory + thread_bytes * threads + tables_bytes);
    for (i64 t = 0; t < k; ++t) converted[t] = A(job.weights[t]);
    w1 = converted;
    if (fused) {
      for (i64 t = 0; t < job.size2; ++t) converted[k + t] = A(job.weights2[t]);
      w2 = converted + k;
    }
    if (planar) {
      for (i64 t = 0; t < job.plane_size; ++t) converted[k + job.size2 + t] = A(job.plane_weights[t]);
      wp = converted + k + job.size2;
    }
  }
  const A cval = A(job.cval), cval2 = A(job.cval2), plane_cval = A(job.plane_cval);
  const auto filter1 = [&](const auto& src, A* out, i64 count) {
    c1_filter_with<A>(job.symmetry, w1, k, src, out, count);
  };
  const auto filter2 = [&](const A* line, A* out, i64 count) {
    c1_filter_with<A>(job.symmetry2, w2, job.size2, Strided<A>{line, 1}, out, count);
  };

  const i64 plane = n * inner;  // elements per outer index
  auto body = [&](i64 item, int thread) {
    A* buffer = reinterpret_cast<A*>(memory + thread * thread_bytes);
    A* out = buffer + buffer_elements;
    A* sums = out + c1_group * out_elements;  // out: a group of output rows
    A* line2 = sums + out_elements;  // fused second pass: c1_group extended rows
    A* out2 = line2 + c1_group * line_pitch;
    void* typed2 = out2 + inner;
    A* plane_buffer = static_cast<A*>(typed2) + inner * (8 / bytes);  // planar only
    A* middle = plane_buffer + inner;
    A* cval_row = middle + c1_group * plane_width;
    if (last_axis) {
      const i64 stride = inner;
      const i64 first_line = segments > 1 ? item / segments : item * lines_per_item;
      const i64 end_line = segments > 1 ? first_line + 1 : min_i64(lines, (item + 1) * lines_per_item);
      const i64 a = segments > 1 ? (item % segments) * segment_length : 0;  // outputs [a, b)
      const i64 b = segments > 1 ? min_i64(n, a + segment_length) : n;
      const i64 lo = max_i64(job.identity_begin, a), hi = min_i64(job.identity_end, b + k - 1);
      for (i64 line = first_line; line < end_line; ++line) {
        const i64 base = (line / inner) * plane + line % inner;
        // Extended positions [a, b + k - 1) of the line at buffer[e - a]: the identity span by
        // one converting copy, the border elements through the map.
        if (hi > lo)
          c1_load<A>(job.input_type, job.input, base + (lo + job.shift) * stride, stride, buffer + (lo - a), hi - lo);
        for (i64 e = a; e < b + k - 1; ++e) {
          if (e >= lo && e < hi) {
            e = hi - 1;
            continue;
          }
          const i64 m = job.map[e];
          const i64 at = m - job.shift;  // the extended position where input index m sits
          if (m < 0) buffer[e - a] = cval;
          else if (at >= lo && at < hi) buffer[e - a] = buffer[at - a];
          else c1_load<A>(job.input_type, job.input, base + m * stride, 1, buffer + (e - a), 1);
        }
        const i64 count = b - a;
        A* const target =
            job.output_type == scalar_code<A> && stride == 1 ? static_cast<A*>(job.output) + base + a : out;
        if (job.kind == 0) {
          filter1(Strided<A>{buffer, 1}, target, count);
        } else {
          if constexpr (std::is_same_v<A, double>) {
            double tmp = 0.0;
            for (i64 t = 0; t < k; ++t) tmp += buffer[t];
            target[0] = tmp / double(k);
            for (i64 l = 1; l < n; ++l) {
              const double step = buffer[l + k - 1] - buffer[l - 1];
              tmp += step;
              target[l] = tmp / double(k);
            }
          }
        }
        if (target == out) c1_store<A>(job.output_type, out, job.output, base + a * stride, count, stride);
      }
      return;
    }
    const i64 band = item % bands;
    const i64 o = item / bands / tile_count;
    const i64 j0 = (item / bands % tile_count) * tile;
    const i64 row_begin = band * band_rows, row_end = min_i64(n, row_begin + band_rows);
    const i64 width = min_i64(tile, inner - j0);
    const i64 base = o * plane + j0;
    // A ring of ring_rows converted extended rows: row e sits in slot e % ring_rows and is
    // converted just before the first output row that reads it, so the working set is about
    // k + 1 rows of the tile; the filter reads its taps through a table of row pointers. Rows
    // whose input row an earlier output row may already have overwritten (in place, near the
    // end: wrap, reflect) are converted up front into a side buffer and read from there.
    A* const ring = buffer;
    A* const side = buffer + ring_rows * pitch;  // rows [ext - (k - 1), ext)
    const A** const table = pointer_table + thread * table_entries;
    const i64 side_first = ext - (k - 1);
    const auto early = [&](i64 e) { return in_place && e >= k - 1 && job.map[e] >= 0 && job.map[e] < e - (k - 1); };
    const auto convert_row = [&](i64 e, A* row) {
      const i64 m = job.map[e];
      if (m < 0) {
        for (i64 j = 0; j < width; ++j) row[j] = cval;
      } else {
        c1_load<A>(job.input_type, job.input, base + m * inner, 1, row, width);
      }
    };
    const auto row_of = [&](i64 e) -> const A* {
      return early(e) ? side + (e - side_first) * width : ring + (e % ring_rows) * pitch;
    };
    if (in_place)
      for (i64 e = side_first; e < ext; ++e)
        if (early(e)) convert_row(e, side + (e - side_first) * width);
    i64 next = row_begin;  // rows [row_begin, next) have been converted
    // Converts rows up to `high`, and points table[0..] at rows low..high.
    const auto rows = [&](i64 low, i64 high) {
      for (; next <= high; ++next)
        if (!early(next)) convert_row(next, ring + (next % ring_rows) * pitch);
      for (i64 e = low; e <= high; ++e) table[e - low] = row_of(e);
      return Rows<A>{table};
    };
    // First-pass output rows [i, i + count) (count <= c1_group) into dst[0..count).
    const auto first_pass = [&](i64 i, i64 count, A* const* dst) {
      if (count == 1) filter1(rows(i, i + k - 1), dst[0], width);
      else c1_filter_rows<A>(job.symmetry, w1, k, rows(i, i + k + count - 2).p, dst, count, width);
    };
    A* const direct = job.output_type == scalar_code<A> ? static_cast<A*>(job.output) + base : nullptr;
    // The second pass of a row already in line + lo: borders, filter, store.
    const auto last_pass = [&](A* line, i64 at) {
      const i64 lo = job.identity_begin2, hi = job.identity_end2;
      for (i64 e = 0; e < lo; ++e) line[e] = job.map2[e] < 0 ? cval2 : line[job.map2[e] - job.shift2];
      for (i64 e = hi; e < ext2; ++e) line[e] = job.map2[e] < 0 ? cval2 : line[job.map2[e] - job.shift2];
      if (direct != nullptr) {
        filter2(line, direct + at, plane_width);
      } else {
        filter2(line, out2, plane_width);
        c1_store<A>(job.output_type, out2, job.output, base + at, plane_width);
      }
    };
    // A first-pass row (or middle-pass row) into line2 + lo as a separate pass would leave it:
    // converted to the output type and back.
    const auto round_trip = [&](const A* row, A* dst, i64 count) {
      if (job.output_type == scalar_code<A>) {
        if (row != dst) vector_copy<A>(row, dst, count);
      } else {
        c1_store<A>(job.output_type, row, typed2, 0, count);
        c1_load<A>(job.output_type, typed2, 0, 1, dst, count);
      }
    };
    const bool same_out = job.output_type == scalar_code<A>;
    A* group[c1_group];
    if (planar) {  // whole planes: first pass, round trip, middle pass by rows, round trip, second pass
      const i64 lo = job.identity_begin2;
      const i64 kp = job.plane_size, W = plane_width;
      const A** plane_table = table + (k + c1_group);
      for (i64 j = 0; j < W; ++j) cval_row[j] = plane_cval;
      A* middle_rows[c1_group];
      for (i64 r = 0; r < c1_group; ++r) middle_rows[r] = same_out ? line2 + r * line_pitch + lo : middle + r * W;
      const auto plane_pass = [&](i64 i, const A* first) {
        const A* converted = first;
        if (!same_out) {
          round_trip(first, plane_buffer, width);
          converted = plane_buffer;
        }
        const i64 R = job.plane_rows;
        for (i64 r = 0; r < R; r += c1_group) {
          const i64 count = min_i64(c1_group, R - r);
          for (i64 t = 0; t < kp + count - 1; ++t) {
            const i64 m = job.plane_map[r + t];
            plane_table[t] = m < 0 ? cval_row : converted + m * W;
          }
          c1_filter_rows<A>(job.plane_symmetry, wp, kp, plane_table, middle_rows, count, W);
          for (i64 q = 0; q < count; ++q) {
            A* const line = same_out ? line2 + q * line_pitch : line2;
            round_trip(middle_rows[q], line + lo, W);
            last_pass(line, i * inner + (r + q) * W);
          }
        }
      };
      for (i64 r = 0; r < c1_group; ++r) group[r] = out + r * out_elements;
      for (i64 i = row_begin; i < row_end; i += c1_group) {
        const i64 count = min_i64(c1_group, row_end - i);
        first_pass(i, count, group);
        for (i64 q = 0; q < count; ++q) plane_pass(i + q, group[q]);
      }
    } else if (fused) {  // whole rows (tile == inner): first pass, output type round trip, second pass
      const i64 lo = job.identity_begin2;
      for (i64 r = 0; r < c1_group; ++r) group[r] = same_out ? line2 + r * line_pitch + lo : out + r * out_elements;
      for (i64 i = row_begin; i < row_end; i += c1_group) {
        const i64 count = min_i64(c1_group, row_end - i);
        first_pass(i, count, group);
        for (i64 q = 0; q < count; ++q) {
          A* const line = same_out ? line2 + q * line_pitch : line2;
          round_trip(group[q], line + lo, width);
          last_pass(line, (i + q) * inner);
        }
      }
    } else if (job.kind == 0) {
      for (i64 i = row_begin; i < row_end; i += c1_group) {
        const i64 count = min_i64(c1_group, row_end - i);
        for (i64 q = 0; q < count; ++q)
          group[q] = direct != nullptr ? direct + (i + q) * inner : out + q * out_elements;
        first_pass(i, count, group);
        if (direct == nullptr)
          for (i64 q = 0; q < count; ++q)
            c1_store<A>(job.output_type, group[q], job.output, base + (i + q) * inner, width);
      }
    } else if constexpr (std::is_same_v<A, double>) {
      const double size = double(k);
      const Rows<A> first = rows(0, k - 1);
      for (i64 j = 0; j < width; ++j) sums[j] = 0.0;
      for (i64 t = 0; t < k; ++t) {
        const double* row = first.p[t];
        for (i64 j = 0; j < width; ++j) sums[j] += row[j];
      }
      for (i64 j = 0; j < width; ++j) out[j] = sums[j] / size;
      c1_store<A>(job.output_type, out, job.output, base, width);
      for (i64 i = 1; i < n; ++i) {
        const Rows<A> src = rows(i - 1, i + k - 1);
        const double* leave = src.p[0];
        const double* enter = src.p[k];
        for (i64 j = 0; j < width; ++j) {
          const double step = enter[j] - leave[j];
          sums[j] += step;
          out[j] = sums[j] / size;
        }
        c1_store<A>(job.output_type, out, job.output, base + i * inner, width);
      }
    }
  };
  parallel_for(item_count, threads, body);
  c1_workspace.trim();
  return KernelStatus::ok;
}

KernelStatus c1_run(const Correlate1dJob& job) noexcept {
  if (job.outer == 0 || job.length == 0 || job.inner == 0) return KernelStatus::ok;
  if (job.float_sums != 0 && job.kind == 0) return c1_run_as<float>(job);
  return c1_run_as<double>(job);
}

}  // namespace

Correlate1dKernels correlate1d_kernels() noexcept { return {kernel_isa_name, &c1_run}; }

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
