// Direct 2-D filter (fieldconv/filter2d.hpp), one implementation for every kernel family.
// Included by filter2d_<isa>.cpp inside that family's namespace, after Simd<T> is defined.
//
// Work items are (plane, tile of output rows, tile of output columns), shared among threads by
// parallel_for. An item first builds a
// "strip": the extended input rows and columns its outputs read, converted to the accumulator
// type, with the border rule applied once per strip row and column through precomputed index
// maps (FilterAxisMap: the columns inside the image are one contiguous converting copy).
// The interior loop then has no branches: for each output row, for each register block of
// U vectors of outputs, for each tap, broadcast the weight and FMA it with an unaligned load of
// the strip. Accumulators stay in registers for all taps, so each output is written once.
// Integer (wrapping) accumulators use plain loops over a row buffer, which the compiler
// vectorises with the family's flags.
// N-D jobs (filter_nd) add depth slots: the strip then holds one extended plane per slot (the
// input plane that slot of the item's output plane reads), and tap offsets point into it.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kernels.hpp"
#include "kernels/kernel_support.hpp"
#include "kernels/convert_impl.hpp"
#include "parallel.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Per-thread strip budget: about half of this CPU's 512 KiB L2.
constexpr i64 f2_strip_budget_bytes = 192 * 1024;
constexpr i64 f2_max_tile_cols = 512;
constexpr i64 f2_max_tile_rows = 64;
constexpr i64 f2_max_thread_workspace_bytes = i64{1} << 30;
// Output rows computed together by the dense-grid loop (float_rows). With 32 registers, four:
// 6 strip rows loaded per 4 output rows of a 3 x 3 kernel instead of 4 per 2 (64^3 float64
// 3x3x3, one thread: 0.42 ms against 0.53 with two rows; six rows spill registers, 2x slower).
// With 16, four rows leave room for only 2 vectors per row: 5 x 5 kernels measured 25-35% slower.
constexpr int f2_rows_at_once = simd_registers >= 32 ? 4 : 2;
// Float outputs at least this large are written with streaming stores: they would not stay in
// the cache for the caller anyway, and a streaming store does not first read the output line
// from memory (128^3 float64 3x3x3: 2 threads 1.8-2.0 ms against 2.3-2.6, 1 thread 4.4 against
// 5.6). Python allocates large outputs on a cache line (_filter_args.empty_output).
constexpr i64 f2_stream_min_bytes = i64{8} << 20;

// Conversions (SciPy's x86-64 C casts): kernels/convert_impl.hpp.

template <class In, class A>
void load_span(const In* src, A* dst, i64 n) {
  for (i64 j = 0; j < n; ++j) dst[j] = load_value<A>(src[j]);
}
template <class In, class A>
void load_gather(const In* src, const i64* map, A fill, A* dst, i64 n) {
  for (i64 j = 0; j < n; ++j) {
    const i64 k = map[j];
    dst[j] = k < 0 ? fill : load_value<A>(src[k]);
  }
}
template <class Out, class A>
void store_span(const A* src, Out* dst, i64 n) {
  for (i64 j = 0; j < n; ++j) dst[j] = store_value<Out>(src[j]);
}

// One strip row: extended columns [c0, c0 + n) of input row `row` (nullptr: fill row).
template <class In, class A>
void fill_strip_row_typed(const Filter2dJob<A>& job, const In* row, i64 c0, i64 n, A* dst) {
  if (row == nullptr) {
    for (i64 j = 0; j < n; ++j) dst[j] = job.fill;
    return;
  }
  // positions before the identity run read the left table, those from its end the right one
  const i64 lo = min_i64(n, max_i64(0, job.cols.begin - c0));
  const i64 hi = max_i64(lo, min_i64(n, job.cols.end - c0));
  if (lo > 0) load_gather(row, job.cols.left + c0, job.fill, dst, lo);
  if (hi > lo) {
    if constexpr (sizeof(In) == sizeof(A) && std::is_same_v<In, A> && std::is_floating_point_v<A>)
      vector_copy(row + c0 + lo + job.cols.shift, dst + lo, hi - lo);  // (glibc's memcpy: slower)
    else if constexpr (sizeof(In) == sizeof(A) && std::is_same_v<In, A>)
      std::memcpy(static_cast<void*>(dst + lo), row + c0 + lo + job.cols.shift, sizeof(A) * (hi - lo));
    else load_span(row + c0 + lo + job.cols.shift, dst + lo, hi - lo);
  }
  if (n > hi) load_gather(row, job.cols.right + (c0 + hi - job.cols.end), job.fill, dst + hi, n - hi);
}

template <class A>
void fill_strip_row(const Filter2dJob<A>& job, const void* plane, i64 input_row, i64 c0, i64 n, A* dst) {
  const i64 offset = input_row * job.in_width;
  const bool fill = input_row < 0;
#define FIELDCONV_F2_CASE(code, type)                                                                          \
  case code:                                                                                                   \
    fill_strip_row_typed<type, A>(job, fill ? nullptr : static_cast<const type*>(plane) + offset, c0, n, dst); \
    break;
  switch (job.input_type) {
    FIELDCONV_F2_CASE(0, std::uint8_t
    )  // bool read as its byte, as SciPy reads npy_bool
    FIELDCONV_F2_CASE(1, std::int8_t)
    FIELDCONV_F2_CASE(2, std::uint8_t)
    FIELDCONV_F2_CASE(3, std::int16_t)
    FIELDCONV_F2_CASE(4, std::uint16_t)
    FIELDCONV_F2_CASE(5, std::int32_t)
    FIELDCONV_F2_CASE(6, std::uint32_t)
    FIELDCONV_F2_CASE(7, std::int64_t)
    FIELDCONV_F2_CASE(8, std::uint64_t)
    FIELDCONV_F2_CASE(9, float)
    default:
      fill_strip_row_typed<double, A>(job, fill ? nullptr : static_cast<const double*>(plane) + offset, c0, n, dst);
  }
#undef FIELDCONV_F2_CASE
}

template <class A>
void store_row(const Filter2dJob<A>& job, const A* src, void* plane, i64 index, i64 n) {
#define FIELDCONV_F2_CASE(code, type) \
  case code: store_span(src, static_cast<type*>(plane) + index, n); break;
  switch (job.output_type) {
    case 0:  // bool outputs hold the byte the x86 conversion gives, as SciPy's
      store_span(src, reinterpret_cast<std::uint8_t*>(static_cast<bool*>(plane) + index), n);
      break;
    FIELDCONV_F2_CASE(1, std::int8_t)
    FIELDCONV_F2_CASE(2, std::uint8_t)
    FIELDCONV_F2_CASE(3, std::int16_t)
    FIELDCONV_F2_CASE(4, std::uint16_t)
    FIELDCONV_F2_CASE(5, std::int32_t)
    FIELDCONV_F2_CASE(6, std::uint32_t)
    FIELDCONV_F2_CASE(7, std::int64_t)
    FIELDCONV_F2_CASE(8, std::uint64_t)
    FIELDCONV_F2_CASE(9, float)
    default: store_span(src, static_cast<double*>(plane) + index, n);
  }
#undef FIELDCONV_F2_CASE
}

inline i64 scalar_size(int type) {
  switch (type) {
    case 0:
    case 1:
    case 2: return 1;
    case 3:
    case 4: return 2;
    case 5:
    case 6:
    case 9: return 4;
    default: return 8;
  }
}

template <class A>
constexpr int output_code_of() {
  if constexpr (std::is_same_v<A, float>) return 9;
  else if constexpr (std::is_same_v<A, double>) return 10;
  else return -1;
}

// ---- floating-point row kernel ----------------------------------------------------------------

// Fused: multiply-adds with one rounding (FMA where the family has it), for float outputs.
// Unfused: acc + w * x with two roundings, taps in the order listed, starting from 0: the sum
// SciPy's ndimage forms (tmp += w * x, C order of the kept weights, no FMA), so that a sum
// converted to an integer output equals SciPy's bit for bit.
template <bool Fused, class S, class V>
inline V madd(V x, V w, V acc) {
  if constexpr (Fused) return S::fma(x, w, acc);
  else return S::mul_add(x, w, acc);
}
template <bool Fused, class S, class T>
inline T madd_scalar(T x, T w, T acc) {
  if constexpr (Fused) return S::fma(x, w, acc);
  else {
    const T product = x * w;
    return acc + product;
  }
}

// out[c] = sum_t w[t] * base[offset[t] + c] for c in [0, n).
template <class A, int U, bool Fused>
inline void float_row_block(const A* base, const i64* offsets, const A* weights, i64 taps, A* out) {
  using S = Simd<A>;
  constexpr int L = S::lanes;
  typename S::vec acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = S::zero();
  for (i64 t = 0; t < taps; ++t) {
    const A* p = base + offsets[t];
    const typename S::vec w = S::set1(weights[t]);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = madd<Fused, S>(S::load(p + u * L), w, acc[u]);
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) S::store(out + u * L, acc[u]);
}

template <class A, bool Fused>
void float_row(const A* base, const i64* offsets, const A* weights, i64 taps, A* out, i64 n) {
  using S = Simd<A>;
  constexpr i64 L = S::lanes;
  i64 c = 0;
  for (; c + 8 * L <= n; c += 8 * L) float_row_block<A, 8, Fused>(base + c, offsets, weights, taps, out + c);
  for (; c + 2 * L <= n; c += 2 * L) float_row_block<A, 2, Fused>(base + c, offsets, weights, taps, out + c);
  for (; c + L <= n; c += L) float_row_block<A, 1, Fused>(base + c, offsets, weights, taps, out + c);
  for (; c < n; ++c) {
    A acc = A(0);
    for (i64 t = 0; t < taps; ++t) acc = madd_scalar<Fused, S>(base[offsets[t] + c], weights[t], acc);
    out[c] = acc;
  }
}

// R output rows at once for a dense slots x kh x kw tap grid (weights in C order; slot sl's
// rows start at base + slot_offsets[sl]): each strip vector loaded serves kernel row s - r of
// output row r, so a block needs (kh + R - 1) * kw loads per slot instead of R * kh * kw (the
// loads, not the FMAs, bound the one-row loop). Each output gets the same FMAs in the same
// order as from float_row.
template <class A, int R, int U, bool Fused, int KH = 0, int KW = 0, bool Stream = false>
inline void float_rows_block(const A* base, i64 pitch, i64 slots, const i64* slot_offsets, i64 kh_runtime,
                             i64 kw_runtime, const A* weights, A* const* out, i64 c) {
  using S = Simd<A>;
  constexpr int L = S::lanes;
  // KH, KW > 0: the kernel's shape known at compile time (3 x 3, 5 x 5), so the row and tap
  // loops unroll and the test of which output rows a strip row serves disappears (64^3
  // float64 3x3x3 7-12% faster, 5x5x5 14%; 5 x 5 only with 32 registers: with 16 the unrolled
  // body spills, 1.7x slower).
  const i64 kh = KH > 0 ? KH : kh_runtime, kw = KW > 0 ? KW : kw_runtime;
  typename S::vec acc[R][U];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[r][u] = S::zero();
  for (i64 sl = 0; sl < slots; ++sl) {
    const A* const slot_weights = weights + sl * kh * kw;
#pragma GCC unroll 8
    for (i64 s = 0; s < kh + R - 1; ++s) {
      const A* row = base + slot_offsets[sl] + s * pitch + c;
#pragma GCC unroll 8
      for (i64 tc = 0; tc < kw; ++tc) {
        typename S::vec v[U];
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) {
          v[u] = S::load(row + tc + u * L);
          keep_in_register(v[u]);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          if (s - r >= 0 && s - r < kh) {
            const typename S::vec w = S::set1(slot_weights[(s - r) * kw + tc]);
#pragma GCC unroll 4
            for (int u = 0; u < U; ++u) acc[r][u] = madd<Fused, S>(v[u], w, acc[r][u]);
          }
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      if constexpr (Stream) S::stream(out[r] + c + u * L, acc[r][u]);
      else S::store(out[r] + c + u * L, acc[r][u]);
    }
}

// Vector blocks of output rows out[0..R) over columns [c, n), for a KH x KW kernel (0: the
// shape read at run time); returns the first column left over.
template <class A, int R, bool Fused, bool Stream, int KH, int KW>
i64 float_rows_span(const A* base, i64 pitch, i64 slots, const i64* slot_offsets, i64 kh, i64 kw, const A* weights,
                    A* const* out, i64 c, i64 n) {
  constexpr i64 L = Simd<A>::lanes;
  // R x U accumulators, U loaded vectors and a weight in registers
  constexpr int U = R * 4 + 4 + 1 <= simd_registers ? 4 : 2;
  for (; c + U * L <= n; c += U * L)
    float_rows_block<A, R, U, Fused, KH, KW, Stream>(base, pitch, slots, slot_offsets, kh, kw, weights, out, c);
  if (!Stream && c < n && n >= U * L && c > 0) {
    // the rest in one block ending at n (overlapping the last one's columns; not when
    // streaming: a cached store to a line just streamed waits for the line from memory)
    float_rows_block<A, R, U, Fused, KH, KW, false>(base, pitch, slots, slot_offsets, kh, kw, weights, out, n - U * L);
    return n;
  }
  for (; c + L <= n; c += L)
    float_rows_block<A, R, 1, Fused, KH, KW, Stream>(base, pitch, slots, slot_offsets, kh, kw, weights, out, c);
  return c;
}

template <class A, int R, bool Fused, bool Stream>
i64 float_rows_blocks(const A* base, i64 pitch, i64 slots, const i64* slot_offsets, i64 kh, i64 kw, const A* weights,
                      A* const* out, i64 c, i64 n) {
  if (kh == 3 && kw == 3)
    return float_rows_span<A, R, Fused, Stream, 3, 3>(base, pitch, slots, slot_offsets, kh, kw, weights, out, c, n);
  if (simd_registers >= 32 && kh == 5 && kw == 5)
    return float_rows_span<A, R, Fused, Stream, 5, 5>(base, pitch, slots, slot_offsets, kh, kw, weights, out, c, n);
  return float_rows_span<A, R, Fused, Stream, 0, 0>(base, pitch, slots, slot_offsets, kh, kw, weights, out, c, n);
}

// Output rows out[0..R) (strip rows base + r * pitch on) over columns [0, n). Rows of at least
// one vector end with a vector block overlapping the previous one (its columns are recomputed
// to the same values) instead of a scalar loop. stream: streaming stores, for rows that start
// on a cache line and hold whole vectors.
template <class A, int R, bool Fused>
void float_rows(const A* base, i64 pitch, i64 slots, const i64* slot_offsets, const i64* offsets, i64 kh, i64 kw,
                const A* weights, A* const* out, i64 n, bool stream) {
  constexpr i64 L = Simd<A>::lanes;
  const i64 c =
      stream ? float_rows_blocks<A, R, Fused, true>(base, pitch, slots, slot_offsets, kh, kw, weights, out, 0, n)
             : float_rows_blocks<A, R, Fused, false>(base, pitch, slots, slot_offsets, kh, kw, weights, out, 0, n);
  if (c == n) return;
  if (n >= L) {
    float_rows_blocks<A, R, Fused, false>(base, pitch, slots, slot_offsets, kh, kw, weights, out, n - L, n);
    return;
  }
  for (int r = 0; r < R; ++r)
    float_row<A, Fused>(base + r * pitch + c, offsets, weights, slots * kh * kw, out[r] + c, n - c);
}

// One output row of a single-row kernel whose taps are columns 0..k-1 (fused sums only: the
// taps are not summed in order). For shift s < L and tap t = s + L * q, output vector u reads
// the vector at base + s + L * (q + u), which is vector u + 1 of tap t - L: a window of U
// vectors slides by one load per tap and each weight is broadcast once for U FMAs, instead of
// one unaligned (mostly cache-line-splitting) load per FMA.
template <class A, int U>
inline void float_line_block(const A* base, const A* weights, i64 k, A* out) {
  using S = Simd<A>;
  constexpr int L = S::lanes;
  typename S::vec acc[U];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u) acc[u] = S::zero();
  for (i64 s = 0; s < L && s < k; ++s) {
    // The vector at position p (base + s + L * p) sits in window[p % U]; step q reads
    // positions q .. q + U - 1, then position q + U replaces position q. Unrolling the steps U
    // at a time makes every window index a constant: no register moves.
    const i64 groups = (k - 1 - s) / L + 1;  // taps s, s + L, ... below k
    typename S::vec window[U];
#pragma GCC unroll 16
    for (int u = 0; u < U; ++u) window[u] = S::load(base + s + u * L);
    const A* next = base + s + U * L;
    for (i64 q0 = 0; q0 < groups; q0 += U) {
#pragma GCC unroll 16
      for (int j = 0; j < U; ++j) {
        const i64 q = q0 + j;
        if (q >= groups) break;
        const typename S::vec w = S::set1(weights[s + L * q]);
#pragma GCC unroll 16
        for (int u = 0; u < U; ++u) acc[u] = S::fma(window[(u + j) % U], w, acc[u]);
        if (q + 1 < groups) {
          window[j] = S::load(next);
          next += L;
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u) S::store(out + u * L, acc[u]);
}

template <class A>
void float_line(const A* base, const i64* offsets, const A* weights, i64 k, A* out, i64 n) {
  using S = Simd<A>;
  constexpr i64 L = S::lanes;
  // accumulators + window + the weight in registers
  constexpr int U = simd_registers >= 32 ? 12 : 6;
  i64 c = 0;
  for (; c + U * L <= n; c += U * L) float_line_block<A, U>(base + c, weights, k, out + c);
  for (; c + 2 * L <= n; c += 2 * L) float_line_block<A, 2>(base + c, weights, k, out + c);
  if (c < n) float_row<A, true>(base + c, offsets, weights, k, out + c, n - c);
}

template <class A>
void integer_row(const A* base, const i64* offsets, const A* weights, i64 taps, A* out, i64 n) {
  for (i64 c = 0; c < n; ++c) out[c] = A(0);
  for (i64 t = 0; t < taps; ++t) {
    const A* p = base + offsets[t];
    const A w = weights[t];
    for (i64 c = 0; c < n; ++c) out[c] += w * p[c];
  }
}

thread_local CachedWorkspace f2_workspace;  // the strips (kernel_support.hpp)

// The input plane slot `slot` of output plane `plane` reads (-1: fill rows), N-D jobs only.
template <class A>
i64 depth_plane(const Filter2dJob<A>& job, i64 plane, i64 slot) {
  const FilterDepth& d = *job.depth;
  i64 index = 0, rest = plane;
  for (int a = d.axes - 1; a >= 0; --a) {
    const i64 z = rest % d.out_shape[a];
    rest /= d.out_shape[a];
    const i64 m = d.maps[a].at(z + d.slot_coords[slot * d.axes + a]);
    if (m < 0) return -1;
    index += m * d.plane_strides[a];
  }
  return index;
}

template <class A>
KernelStatus filter2d_run(const Filter2dJob<A>& job) noexcept {
  const i64 out_plane = job.out_height * job.out_width;
  if (job.planes == 0 || out_plane == 0) return KernelStatus::ok;
  const i64 kh = job.kernel_height, kw = job.kernel_width;
  const i64 slots = job.depth_slots;

  // Tiles: up to f2_max_tile_cols output columns (more for single-row kernels, whose strip is
  // one row), and as many rows as keep the strip (slots extended planes) in budget.
  const i64 max_cols = kh == 1 && slots == 1 ? 8 * f2_max_tile_cols : f2_max_tile_cols;
  const i64 tile_cols = min_i64(job.out_width, max_cols);
  // Strip rows start on cache lines, an odd number of lines apart: rows a power of two apart
  // would alias in 4 KiB (loads of one row stalled by stores to another; measured 2-3x slower).
  constexpr i64 line_elements = 64 / i64(sizeof(A));
  i64 pitch = round_up(tile_cols + kw - 1, line_elements);
  if ((pitch / line_elements) % 2 == 0) pitch += line_elements;
  i64 tile_rows = max_i64(1, f2_strip_budget_bytes / (slots * pitch * i64(sizeof(A))) - (kh - 1));
  tile_rows = min_i64(min_i64(tile_rows, f2_max_tile_rows), job.out_height);
  const i64 col_tiles = ceil_div(job.out_width, tile_cols);
  // Enough items for every thread on small images.
  i64 row_tiles = ceil_div(job.out_height, tile_rows);
  const i64 wanted = 4 * i64(job.threads);
  if (job.planes * row_tiles * col_tiles < wanted && job.out_height > 1) {
    const i64 per = max_i64(1, ceil_div(job.out_height, ceil_div(wanted, job.planes * col_tiles)));
    tile_rows = min_i64(tile_rows, per);
    row_tiles = ceil_div(job.out_height, tile_rows);
  }
  const i64 strip_rows = tile_rows + kh - 1;
  if (strip_rows > f2_max_thread_workspace_bytes / i64(sizeof(A)) / pitch / slots)
    return KernelStatus::workspace_too_large;
  const i64 slot_pitch = strip_rows * pitch;  // a slot's extended plane in the strip
  // N-D: an item is a run of consecutive output planes of one tile, so that the input planes
  // converted for one output plane serve the next ones (a plane cache of `slots` entries, each
  // input plane converted about once per run); runs short enough for 8 items per thread.
  const bool nd = job.depth != nullptr;
  const i64 tiles = row_tiles * col_tiles;
  const i64 run = nd ? ceil_div(job.planes, min_i64(job.planes, max_i64(1, ceil_div(8 * i64(job.threads), tiles)))) : 1;
  const i64 item_count = ceil_div(job.planes, run) * tiles;
  const int threads = int(min_i64(job.threads, item_count));

  const i64 strip_bytes = round_up(slots * slot_pitch * i64(sizeof(A)) + 64, 64);
  const i64 row_bytes = round_up(f2_rows_at_once * tile_cols * i64(sizeof(A)), 64);  // a row buffer per row at once
  // per slot: its strip offset, cache entry, wanted plane; per cache entry: its plane, in use;
  // per tap: its strip offset for the current output plane
  const i64 planes_bytes = round_up((5 * slots + max_i64(1, job.tap_count)) * i64(sizeof(i64)), 64);
  const i64 thread_bytes = strip_bytes + row_bytes + planes_bytes;
  Workspace offsets_memory(2 * sizeof(i64) * std::size_t(max_i64(1, job.tap_count)));
  char* const thread_memory = static_cast<char*>(f2_workspace.get(std::size_t(thread_bytes) * threads));
  if (offsets_memory.get() == nullptr || thread_memory == nullptr) return KernelStatus::out_of_memory;
  // Tap offsets in the strip and, for the in-place path, in the input plane (in_width).
  i64* offsets = static_cast<i64*>(offsets_memory.get());
  i64* input_offsets = offsets + max_i64(1, job.tap_count);
  for (i64 t = 0; t < job.tap_count; ++t) {
    const i64 slot = job.tap_slots != nullptr ? job.tap_slots[t] : 0;
    offsets[t] = slot * slot_pitch + job.tap_rows[t] * pitch + job.tap_cols[t];
    input_offsets[t] = job.tap_rows[t] * job.in_width + job.tap_cols[t];
  }

  const i64 in_plane_bytes = job.in_height * job.in_width * scalar_size(job.input_type);
  const bool direct_store = output_code_of<A>() == job.output_type;
  // Single-row kernels whose window lies inside the image read the input in place (no strip
  // copy) when it already has the accumulator's type. Taller kernels are faster through the
  // strip: measured 1.3-2.5x slower reading kh input rows in place (many streams, and 4 KiB
  // aliasing between rows of power-of-two widths).
  const bool direct_input = kh == 1 && job.depth == nullptr && output_code_of<A>() == job.input_type;
  // Sums converted to an integer (or bool) output are formed as SciPy forms them (no FMA).
  const bool fused = job.output_type >= 9;
  // Every tap of the slots x kh x kw grid, listed in C order: the two-row loop applies.
  const i64 grid = kh * kw;
  bool dense = kh > 1 && job.tap_count == slots * grid;
  for (i64 t = 0; dense && t < job.tap_count; ++t)
    dense = (job.tap_slots == nullptr ? 0 : job.tap_slots[t]) == t / grid && job.tap_rows[t] == t % grid / kw &&
            job.tap_cols[t] == t % kw;
  // Large float outputs whose rows all start on a cache line, written by the dense-grid loop:
  // streaming stores. (Misaligned rows measured slower streamed: the unaligned blocks at their
  // ends store into lines the aligned ones streamed.)
  const bool stream =
      fused && dense && direct_store && job.planes * out_plane * i64(sizeof(A)) >= f2_stream_min_bytes &&
      job.out_width * i64(sizeof(A)) % 64 == 0 && reinterpret_cast<std::uintptr_t>(job.output) % 64 == 0;
  // A single dense row of taps (1-D signals, 1 x k kernels): the sliding-window loop.
  bool line = fused && kh == 1 && slots == 1 && job.tap_count == kw;
  for (i64 t = 0; line && t < job.tap_count; ++t) line = job.tap_cols[t] == t;

  auto body = [&](i64 item, int thread) {
    char* memory = thread_memory + thread * thread_bytes;
    A* strip = reinterpret_cast<A*>(memory);
    A* row_buffer = reinterpret_cast<A*>(memory + strip_bytes);
    i64* slot_offsets = reinterpret_cast<i64*>(memory + strip_bytes + row_bytes);
    i64* slot_entry = slot_offsets + slots;
    i64* wanted_plane = slot_entry + slots;
    i64* entry_plane = wanted_plane + slots;
    i64* entry_used = entry_plane + slots;
    i64* plane_offsets = entry_used + slots;
    const i64 col_tile = item % col_tiles;
    i64 rest = item / col_tiles;
    const i64 row_tile = rest % row_tiles;
    const i64 first_plane = rest / row_tiles * run;
    const i64 r0 = row_tile * tile_rows, c0 = col_tile * tile_cols;
    const i64 rows = min_i64(tile_rows, job.out_height - r0);
    const i64 cols = min_i64(tile_cols, job.out_width - c0);
    i64 out_index0 = first_plane * out_plane + r0 * job.out_width;
    for (i64 sl = 0; sl < slots; ++sl) slot_offsets[sl] = sl * slot_pitch;

    // N-D: the input plane the next output plane will convert (nullptr: none), prefetched a few rows
    // per block of output rows while this plane's sums run, so that converting it reads the
    // cache instead of waiting on memory row by row (it was 30% of a 128^3 float64 3x3x3 call).
    const void* ahead_plane = nullptr;
    i64 ahead_row = 0, ahead_rows_per_step = 0;
    const i64 ahead_first = min_i64(cols + kw - 1, max_i64(0, job.cols.begin - c0));
    const i64 ahead_last = max_i64(ahead_first, min_i64(cols + kw - 1, job.cols.end - c0));
    const i64 ahead_bytes = (ahead_last - ahead_first) * scalar_size(job.input_type);
    const auto prefetch_ahead = [&]() {
      if (ahead_plane == nullptr) return;
      const i64 end = min_i64(rows + kh - 1, ahead_row + ahead_rows_per_step);
      for (; ahead_row < end; ++ahead_row) {
        const i64 input_row = job.rows.at(r0 + ahead_row);
        if (input_row < 0 || ahead_bytes == 0) continue;
        const char* first =
            static_cast<const char*>(ahead_plane) +
            (input_row * job.in_width + c0 + ahead_first + job.cols.shift) * scalar_size(job.input_type);
        for (i64 b = 0; b < ahead_bytes; b += 64) __builtin_prefetch(first + b, 0, 2);
        __builtin_prefetch(first + ahead_bytes - 1, 0, 2);
      }
    };

    // Output columns [cb, cb + n) of the tile's rows from a source laid out with src_pitch.
    const auto run_rows = [&](const A* source, i64 src_pitch, const i64* tap_offsets, i64 cb, i64 n) {
      i64 r = 0;
      if constexpr (std::is_floating_point_v<A>) {
        constexpr int R = f2_rows_at_once;
        for (; dense && r + R <= rows; r += R) {
          prefetch_ahead();
          const i64 out_index = out_index0 + r * job.out_width + cb;
          A* dst[R];
          for (int q = 0; q < R; ++q)
            dst[q] =
                direct_store ? static_cast<A*>(job.output) + out_index + q * job.out_width : row_buffer + q * tile_cols;
          if (fused)
            float_rows<A, R, true>(source + r * src_pitch, src_pitch, slots, slot_offsets, tap_offsets, kh, kw,
                                   job.tap_weights, dst, n, stream);
          else
            float_rows<A, R, false>(source + r * src_pitch, src_pitch, slots, slot_offsets, tap_offsets, kh, kw,
                                    job.tap_weights, dst, n, false);
          if (!direct_store)
            for (int q = 0; q < R; ++q)
              store_row(job, row_buffer + q * tile_cols, job.output, out_index + q * job.out_width, n);
        }
      }
      for (; r < rows; ++r) {
        prefetch_ahead();
        const A* base = source + r * src_pitch;
        const i64 out_index = out_index0 + r * job.out_width + cb;
        A* dst = direct_store ? static_cast<A*>(job.output) + out_index : row_buffer;
        if constexpr (std::is_floating_point_v<A>) {
          if (line) float_line<A>(base, tap_offsets, job.tap_weights, kw, dst, n);
          else if (fused) float_row<A, true>(base, tap_offsets, job.tap_weights, job.tap_count, dst, n);
          else float_row<A, false>(base, tap_offsets, job.tap_weights, job.tap_count, dst, n);
        } else integer_row(base, tap_offsets, job.tap_weights, job.tap_count, dst, n);
        if (!direct_store) store_row(job, row_buffer, job.output, out_index, n);
      }
    };
    // The tile's extended rows of input plane `source_plane` (-1: fill rows) into strip entry e.
    const auto convert_plane = [&](i64 source_plane, i64 e) {
      const void* source =
          source_plane < 0 ? job.input : static_cast<const char*>(job.input) + source_plane * in_plane_bytes;
      for (i64 s = 0; s < rows + kh - 1; ++s)
        fill_strip_row(job, source, source_plane < 0 ? -1 : job.rows.at(r0 + s), c0, cols + kw - 1,
                       strip + e * slot_pitch + s * pitch);
    };

    if (nd) {
      constexpr i64 empty = -2;  // an entry holding no plane yet (-1 is the fill plane)
      for (i64 e = 0; e < slots; ++e) entry_plane[e] = empty;
      const i64 last_plane = min_i64(job.planes, first_plane + run);
      for (i64 plane = first_plane; plane < last_plane; ++plane, out_index0 += out_plane) {
        // Which planes the slots read; keep the entries that hold one of them, convert the rest
        // into entries no slot needs (there are enough: at most `slots` distinct planes).
        for (i64 e = 0; e < slots; ++e) entry_used[e] = 0;
        for (i64 sl = 0; sl < slots; ++sl) {
          wanted_plane[sl] = depth_plane(job, plane, sl);
          slot_entry[sl] = -1;
          for (i64 e = 0; e < slots; ++e)
            if (entry_plane[e] == wanted_plane[sl]) {
              slot_entry[sl] = e;
              entry_used[e] = 1;
              break;
            }
        }
        for (i64 sl = 0; sl < slots; ++sl) {
          if (slot_entry[sl] >= 0) continue;
          i64 e = 0;
          while (entry_used[e] && entry_plane[e] != wanted_plane[sl]) ++e;  // its plane, converted for an earlier slot
          if (entry_plane[e] != wanted_plane[sl] || !entry_used[e]) {
            convert_plane(wanted_plane[sl], e);
            entry_plane[e] = wanted_plane[sl];
            entry_used[e] = 1;
          }
          slot_entry[sl] = e;
        }
        for (i64 sl = 0; sl < slots; ++sl) slot_offsets[sl] = slot_entry[sl] * slot_pitch;
        for (i64 t = 0; t < job.tap_count; ++t)
          plane_offsets[t] = offsets[t] - job.tap_slots[t] * slot_pitch + slot_offsets[job.tap_slots[t]];
        // The next plane's first input plane not read by this one (a sliding window reads one).
        ahead_plane = nullptr;
        for (i64 sl = 0; plane + 1 < last_plane && sl < slots && ahead_plane == nullptr; ++sl) {
          const i64 next = depth_plane(job, plane + 1, sl);
          bool held = next < 0;
          for (i64 e = 0; e < slots && !held; ++e) held = wanted_plane[e] == next;
          if (!held) ahead_plane = static_cast<const char*>(job.input) + next * in_plane_bytes;
        }
        ahead_row = 0;
        ahead_rows_per_step = ceil_div(rows + kh - 1, max_i64(1, rows / f2_rows_at_once));
        run_rows(strip, pitch, plane_offsets, c0, cols);
      }
      return;
    }

    const i64 plane = first_plane;
    const void* in_plane = static_cast<const char*>(job.input) + plane * in_plane_bytes;
    // Through a strip built with the border rule.
    const auto run_band = [&](i64 cb, i64 n) {
      if (n <= 0) return;
      for (i64 s = 0; s < rows + kh - 1; ++s)
        fill_strip_row(job, in_plane, job.rows.at(r0 + s), cb, n + kw - 1, strip + s * pitch);
      run_rows(strip, pitch, offsets, cb, n);
    };

    const bool rows_inside = direct_input && r0 >= job.rows.begin && r0 + rows + kh - 1 <= job.rows.end;
    const i64 inner_begin = max_i64(c0, job.cols.begin);
    const i64 inner_end = min_i64(c0 + cols, job.cols.end - (kw - 1));
    if (rows_inside && inner_end > inner_begin) {
      run_band(c0, inner_begin - c0);
      const A* source =
          static_cast<const A*>(in_plane) + (r0 + job.rows.shift) * job.in_width + inner_begin + job.cols.shift;
      run_rows(source, job.in_width, input_offsets, inner_begin, inner_end - inner_begin);
      run_band(inner_end, c0 + cols - inner_end);
    } else {
      run_band(c0, cols);
    }
  };
  parallel_for(item_count, threads, [&](i64 item, int thread) {
    body(item, thread);
    if (stream) stream_fence();
  });
  f2_workspace.trim();
  return KernelStatus::ok;
}

}  // namespace

template <class A>
KernelStatus filter2d_direct(const Filter2dJob<A>& job) noexcept {
  return filter2d_run(job);
}

Filter2dKernels filter2d_kernels() noexcept {
  return {kernel_isa_name, &filter2d_direct<float>, &filter2d_direct<double>, &filter2d_direct<std::uint32_t>,
          &filter2d_direct<std::uint64_t>};
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
