// Winograd F(m x m, 3 x 3) convolution, one implementation for every kernel family. Included by
// winograd_<isa>.cpp inside that family's namespace, after simd_<isa>.hpp (Simd<T>, RangeCheck<T>,
// Float8 and the Winograd traits: intrinsics live there only).
//
// Per work item = (group, block of tiles of the batch, range of out-channel panels):
//   1. input transform: for each vector of `lanes` input channels and each tile of the block,
//      gather the alpha x alpha patch (zero outside the image: padding; float in families with
//      has_transpose8: rows of 8 channels transposed in registers), V = B^T d B on vectors (one
//      lane per channel), stored as V[position][tile][channel];
//   2. batched GEMM: for each of the alpha^2 positions, M[pos] = V[pos] (tiles x C_in) times
//      U[pos] (C_in x C_out panel), by a register-blocked microkernel of 6 tiles x 2 vectors of
//      out-channels (broadcast one V value, FMA with two U vectors: 12 FMAs per 2 loads + 6
//      broadcasts), as the direct kernel and BLIS-style GEMMs do;
//   3. output transform Y = A^T M A (+ bias) on vectors of out-channels, written into NCHW (float
//      with has_transpose8: transposed in registers, stored a row of the tile at a time), with
//      the epilogue (residual, activation) on the stored rows' registers.
// The scratch of an item is bounded (a block of at most max_block_tiles tiles, V and M budgets
// below), never a transformed copy of the whole input. Each output value is computed by the
// same sequence of operations whatever the partition, so results do not depend on the thread
// count. Transformed inputs are range-checked (see WinogradJob::value_limit).

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/kernel_support.hpp"
#include "kernels/kernels.hpp"
#include "kernels/winograd_transforms.hpp"
#include "kernels/epilogue_impl.hpp"
#include "parallel.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Budgets per thread (sized for 1 MiB L2 per core). V (transformed inputs of one block) is read
// once per out-channel panel, the transformed weights once per block: V gets 1 MiB, or up to
// 4 MiB when the weights are so large (> 8 MiB per group) that re-reading them per block costs
// more than V spilling to L3. M (GEMM results of a block and out-channel chunk) is written and
// read once.
constexpr i64 v_budget_min_bytes = 1024 * 1024;
constexpr i64 v_budget_max_bytes = 4 * 1024 * 1024;
constexpr i64 m_budget_bytes = 384 * 1024;
constexpr i64 max_block_tiles = 96;
constexpr i64 min_chunk_panels = winograd_min_chunk_panels;
constexpr int gemm_rows = 6;                  // tiles per microkernel call

// Rows of Transform<M>::BT (input) and ::AT (output) applied to alpha values, with the common subexpressions
// of each matrix's symmetric row pairs (points +-p give rows that differ only in the sign of the
// odd terms) factored out: F(4) input 14 operations per 6 values instead of 22, output 10
// instead of 21 (Lavin & Gray 2016, section 5; NNPACK's and ncnn's formulation for F(6)).
template <class T, int M>
struct Transform1d;

template <class T>
struct Transform1d<T, 2> {
  using S = Simd<T>;
  using vec = typename S::vec;
  static void input(const vec* d, int step, vec* o, int ostep) {
    const vec d0 = d[0], d1 = d[step], d2 = d[2 * step], d3 = d[3 * step];
    o[0] = S::sub(d0, d2);
    o[ostep] = S::add(d1, d2);
    o[2 * ostep] = S::sub(d2, d1);
    o[3 * ostep] = S::sub(d1, d3);
  }
  static void output(const vec* m, int step, vec* y, int ystep) {
    const vec m1 = m[step], m2 = m[2 * step];
    y[0] = S::add(S::add(m[0], m1), m2);
    y[ystep] = S::sub(S::sub(m1, m2), m[3 * step]);
  }
};

template <class T>
struct Transform1d<T, 4> {
  using S = Simd<T>;
  using vec = typename S::vec;
  static void input(const vec* d, int step, vec* o, int ostep) {
    const vec d0 = d[0], d1 = d[step], d2 = d[2 * step], d3 = d[3 * step], d4 = d[4 * step], d5 = d[5 * step];
    o[0] = S::fma(S::set1(T(4)), d0, S::fma(S::set1(T(-5)), d2, d4));
    o[ostep] = S::fma(S::set1(T(-4)), S::add(d1, d2), S::add(d3, d4));
    o[2 * ostep] = S::fma(S::set1(T(4)), S::sub(d1, d2), S::sub(d4, d3));
    const vec odd = S::sub(d3, d1), even = S::sub(d4, d2);
    o[3 * ostep] = S::fma(S::set1(T(2)), odd, even);
    o[4 * ostep] = S::fma(S::set1(T(-2)), odd, even);
    o[5 * ostep] = S::fma(S::set1(T(4)), d1, S::fma(S::set1(T(-5)), d3, d5));
  }
  static void output(const vec* m, int step, vec* y, int ystep) {
    const vec m1 = m[step], m2 = m[2 * step], m3 = m[3 * step], m4 = m[4 * step];
    const vec a = S::add(m1, m2), b = S::sub(m1, m2), c = S::add(m3, m4), d = S::sub(m3, m4);
    y[0] = S::add(S::add(m[0], a), c);
    y[ystep] = S::fma(S::set1(T(2)), d, b);
    y[2 * ystep] = S::fma(S::set1(T(4)), c, a);
    y[3 * ystep] = S::add(S::fma(S::set1(T(8)), d, b), m[5 * step]);
  }
};

template <class T>
struct Transform1d<T, 6> {
  using S = Simd<T>;
  using vec = typename S::vec;
  static void input(const vec* d, int step, vec* o, int ostep) {
    const vec d0 = d[0], d1 = d[step], d2 = d[2 * step], d3 = d[3 * step], d4 = d[4 * step], d5 = d[5 * step],
              d6 = d[6 * step], d7 = d[7 * step];
    o[0] = S::fma(S::set1(T(5.25)), S::sub(d4, d2), S::sub(d0, d6));
    o[7 * ostep] = S::fma(S::set1(T(5.25)), S::sub(d3, d5), S::sub(d7, d1));
    const vec p1 = S::fma(S::set1(T(-4.25)), d3, S::add(d1, d5));  // odd terms of rows 1, 2
    const vec q1 = S::fma(S::set1(T(-4.25)), d4, S::add(d2, d6));  // even terms
    o[ostep] = S::add(q1, p1);
    o[2 * ostep] = S::sub(q1, p1);
    const vec p2 = S::fma(S::set1(T(2)), d5, S::fma(S::set1(T(-2.5)), d3, S::mul(S::set1(T(0.5)), d1)));
    const vec q2 = S::fma(S::set1(T(-1.25)), d4, S::fma(S::set1(T(0.25)), d2, d6));
    o[3 * ostep] = S::add(q2, p2);
    o[4 * ostep] = S::sub(q2, p2);
    const vec p3 = S::fma(S::set1(T(0.5)), d5, S::fma(S::set1(T(-2.5)), d3, S::mul(S::set1(T(2)), d1)));
    const vec q3 = S::fma(S::set1(T(-5)), d4, S::fma(S::set1(T(4)), d2, d6));
    o[5 * ostep] = S::add(q3, p3);
    o[6 * ostep] = S::sub(q3, p3);
  }
  static void output(const vec* m, int step, vec* y, int ystep) {
    const vec m1 = m[step], m2 = m[2 * step], m3 = m[3 * step], m4 = m[4 * step], m5 = m[5 * step], m6 = m[6 * step];
    const vec a1 = S::add(m1, m2), b1 = S::sub(m1, m2), a2 = S::add(m3, m4), b2 = S::sub(m3, m4), a3 = S::add(m5, m6),
              b3 = S::sub(m5, m6);
    y[0] = S::add(S::add(S::add(m[0], a1), a2), a3);
    y[ystep] = S::fma(S::set1(T(0.5)), b3, S::fma(S::set1(T(2)), b2, b1));
    y[2 * ystep] = S::fma(S::set1(T(0.25)), a3, S::fma(S::set1(T(4)), a2, a1));
    y[3 * ystep] = S::fma(S::set1(T(0.125)), b3, S::fma(S::set1(T(8)), b2, b1));
    y[4 * ystep] = S::fma(S::set1(T(0.0625)), a3, S::fma(S::set1(T(16)), a2, a1));
    y[5 * ystep] = S::add(S::fma(S::set1(T(0.03125)), b3, S::fma(S::set1(T(32)), b2, b1)), m[7 * step]);
  }
};

// C[i][0 .. 2L) = sum_k A[i][k] * B[k][0 .. 2L) for i < P rows (A rows lda apart, B packed
// [k][2L], C rows ldc apart). Overwrites C.
template <class T, int P>
inline __attribute__((always_inline)) void gemm_microkernel(i64 k_count, const T* a, i64 lda, const T* b, T* c,
                                                            i64 ldc) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  typename S::vec acc0[P], acc1[P];
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i) acc0[i] = acc1[i] = S::zero();
  const T* rows[P];
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i) rows[i] = a + i * lda;
  for (i64 k = 0; k < k_count; ++k) {
    const typename S::vec b0 = S::load(b), b1 = S::load(b + L);
    b += 2 * L;
#pragma GCC unroll 6
    for (int i = 0; i < P; ++i) {
      const typename S::vec x = S::broadcast(rows[i] + k);
      acc0[i] = S::fma(x, b0, acc0[i]);
      acc1[i] = S::fma(x, b1, acc1[i]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i) {
    S::store(c + i * ldc, acc0[i]);
    S::store(c + i * ldc + L, acc1[i]);
  }
}

template <class T>
using GemmMicrokernel = void (*)(i64, const T*, i64, const T*, T*, i64);

// Wide GEMM (families with winograd_wide_gemm): one vector is exactly one weight panel
// (panel_width = 64 bytes for every family), so a microkernel call covers P tiles x NV panels
// (NV <= 4: 6 x 4 = 24 accumulators + 4 weight vectors + 1 broadcast of 32 registers). The
// weight panels of one position lie panel_stride apart. Same summation order as
// gemm_microkernel (k ascending, one accumulator per output), so the families differ only by
// FMA vs FMA.
constexpr int wide_max_panels = 4;

template <class T, int P, int NV>
inline __attribute__((always_inline)) void gemm_microkernel_wide(i64 k_count, const T* a, i64 lda, const T* b,
                                                                 i64 panel_stride, T* c, i64 ldc) {
  using W = Simd<T>;
  constexpr int L = W::lanes;
  static_assert(L * sizeof(T) == 64, "one vector per weight panel");
  typename W::vec acc[P][NV];
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = W::zero();
  const T* rows[P];
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i) rows[i] = a + i * lda;
  const T* panel[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) panel[j] = b + j * panel_stride;
  for (i64 k = 0; k < k_count; ++k) {
    typename W::vec bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = W::load(panel[j] + k * L);
#pragma GCC unroll 6
    for (int i = 0; i < P; ++i) {
      const typename W::vec x = W::broadcast(rows[i] + k);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = W::fma(x, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < P; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) W::store(c + i * ldc + j * L, acc[i][j]);
}

// All rows of a block (row_panels full microkernels of gemm_rows, then the tail) for NV panels.
template <class T, int NV>
void gemm_block_wide(i64 tile_count, i64 k_count, const T* a, i64 lda, const T* b, i64 panel_stride, T* c, i64 ldc) {
  constexpr int R = 6;
  i64 r = 0;
  for (; r + R <= tile_count; r += R)
    gemm_microkernel_wide<T, R, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc);
  switch (tile_count - r) {
    case 0: break;
    case 1: gemm_microkernel_wide<T, 1, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc); break;
    case 2: gemm_microkernel_wide<T, 2, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc); break;
    case 3: gemm_microkernel_wide<T, 3, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc); break;
    case 4: gemm_microkernel_wide<T, 4, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc); break;
    default: gemm_microkernel_wide<T, 5, NV>(k_count, a + r * lda, lda, b, panel_stride, c + r * ldc, ldc); break;
  }
}

template <class T>
void gemm_block_wide(int panels, i64 tile_count, i64 k_count, const T* a, i64 lda, const T* b, i64 panel_stride, T* c,
                     i64 ldc) {
  switch (panels) {
    case 1: gemm_block_wide<T, 1>(tile_count, k_count, a, lda, b, panel_stride, c, ldc); break;
    case 2: gemm_block_wide<T, 2>(tile_count, k_count, a, lda, b, panel_stride, c, ldc); break;
    case 3: gemm_block_wide<T, 3>(tile_count, k_count, a, lda, b, panel_stride, c, ldc); break;
    default: gemm_block_wide<T, 4>(tile_count, k_count, a, lda, b, panel_stride, c, ldc); break;
  }
}

template <class T>
GemmMicrokernel<T> gemm_microkernel_for(i64 rows) {
  switch (rows) {
    case 1: return &gemm_microkernel<T, 1>;
    case 2: return &gemm_microkernel<T, 2>;
    case 3: return &gemm_microkernel<T, 3>;
    case 4: return &gemm_microkernel<T, 4>;
    case 5: return &gemm_microkernel<T, 5>;
    default: return &gemm_microkernel<T, 6>;
  }
}

thread_local CachedWorkspace cached_workspace;

template <class T, int M>
KernelStatus winograd_tiled(const WinogradJob<T>& job) noexcept {
  using S = Simd<T>;
  using vec = typename S::vec;
  using Tr = winograd::Transform<M>;
  constexpr int L = S::lanes;
  constexpr int alpha = Tr::alpha;
  // Float tiles gathered and stored by Float8 rows transposed in registers (1 or 2 per vector).
  constexpr bool transposed_float = std::is_same_v<T, float> && has_transpose8;
  constexpr int positions = alpha * alpha;
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  if (s.output_elements == 0) return KernelStatus::ok;

  const i64 in_channels = s.in_channels_per_group;
  const i64 in_stride = ceil_div(in_channels, L) * L;  // V row length (channels, padded)
  const i64 out_channels = s.out_channels_per_group;
  const i64 panel_width = job.weight.panel_width;  // 2 * L
  const i64 panels = job.weight.panels_per_group;
  const i64 tiles_h = ceil_div(s.out_height, M), tiles_w = ceil_div(s.out_width, M);
  const i64 tiles_per_image = tiles_h * tiles_w;
  // Tiles are numbered across the whole batch, so a block of a small map holds tiles of several
  // images and each transformed weight read from memory serves more of them.
  const i64 tile_total = p.batch * tiles_per_image;

  // Tile blocks: as many tiles as the V budget allows (at most max_block_tiles).
  const i64 v_tile_bytes = positions * in_stride * i64(sizeof(T));
  const i64 weight_bytes = job.weight.group_stride * i64(sizeof(T));
  const i64 v_budget_bytes = max_i64(v_budget_min_bytes, min_i64(v_budget_max_bytes, weight_bytes / 8));
  i64 block_tiles = max_i64(1, min_i64(max_block_tiles, v_budget_bytes / v_tile_bytes));
  if (block_tiles >= gemm_rows) block_tiles = block_tiles / gemm_rows * gemm_rows;
  i64 block_count = ceil_div(tile_total, block_tiles);
  // Keep every thread equally busy with as little duplicated work as possible: make the item
  // count a multiple of the thread count, by more (smaller) tile blocks (each re-reads the
  // transformed weights: ~9 cycles per C_in x C_out pair) or, when there are fewer blocks than
  // threads and few tiles, by splitting the out-channel panels over items (each repeats the input
  // transform: ~20 cycles per tile and input channel). No choice changes the arithmetic of any
  // output value, so results do not depend on the thread count.
  const i64 threads_wanted = job.threads;
  i64 splits = 1;
  if ((p.groups * block_count) % threads_wanted != 0) {
    const i64 items_wanted = ceil_div(p.groups * block_count, threads_wanted) * threads_wanted;
    const i64 blocks_wanted = ceil_div(items_wanted, p.groups);
    const bool fewer_than_threads = p.groups * block_count < threads_wanted;
    if (fewer_than_threads && 20 * tile_total < 9 * out_channels) {
      splits = min_i64(panels, ceil_div(threads_wanted, p.groups * block_count));
    } else if (tile_total >= blocks_wanted) {
      block_count = blocks_wanted;
    }
  }
  block_tiles = ceil_div(tile_total, block_count);
  if (block_tiles > gemm_rows) block_tiles = ceil_div(block_tiles, gemm_rows) * gemm_rows;
  block_count = ceil_div(tile_total, block_tiles);
  const i64 panels_per_split = ceil_div(panels, splits);
  splits = ceil_div(panels, panels_per_split);
  const i64 spatial_items = p.groups * block_count;
  // Out-channel chunk: panels whose M fits the budget.
  const i64 m_panel_bytes = positions * block_tiles * panel_width * i64(sizeof(T));
  // The AVX-512 GEMM covers 4 panels per call: a chunk of fewer (F6 with 64 channels fits one
  // panel in the M budget) re-reads V 4x as often and ran 15% slower (64@56 N=8, one thread), so
  // there the chunk is at least 4 panels even if M then spills from L2.
  const i64 chunk_panels = min_i64(panels_per_split, max_i64(min_chunk_panels, m_budget_bytes / m_panel_bytes));
  const i64 item_count = spatial_items * splits;
  const int threads = int(min_i64(job.threads, item_count));

  const auto round_up = [](i64 bytes) { return (bytes + 63) / 64 * 64; };
  // Position strides get one extra cache line: a multiple of 4 KiB (e.g. 96 tiles x 64 channels)
  // would put all alpha^2 positions of a tile in one L1 set (measured 4x slower transforms).
  const i64 line = 64 / i64(sizeof(T));
  const i64 v_position_stride = block_tiles * in_stride + line;
  const i64 v_bytes = round_up(positions * v_position_stride * i64(sizeof(T)));
  const i64 m_stride = chunk_panels * panel_width;  // M row length (out-channels of a chunk)
  const i64 m_position_stride = block_tiles * m_stride + line;
  const i64 m_bytes = round_up(positions * m_position_stride * i64(sizeof(T)));
  const i64 patch_bytes = round_up(positions * L * i64(sizeof(T)));
  const i64 bias_bytes = round_up(m_stride * i64(sizeof(T)));
  const i64 thread_bytes = v_bytes + m_bytes + patch_bytes + bias_bytes;
  // As the direct kernel: refuse (ValueError upstream) rather than allocate over 1 GiB per thread.
  if (thread_bytes > (i64{1} << 30)) return KernelStatus::workspace_too_large;
  char* const workspace = static_cast<char*>(cached_workspace.get(std::size_t(thread_bytes) * threads));
  if (workspace == nullptr) return KernelStatus::out_of_memory;

  const i64 in_plane = p.in_height * p.in_width;
  const i64 out_plane = s.out_height * s.out_width;
  const T* const residual = job.epilogue.residual;
  const Activation activation = job.epilogue.activation;
  const bool epilogue = epilogue_active(job.epilogue);

  parallel_for(item_count, threads, [&](i64 item, int thread) {
    if (__atomic_load_n(job.out_of_range, __ATOMIC_RELAXED)) return;
    char* base = workspace + thread * thread_bytes;
    T* v_buffer = reinterpret_cast<T*>(base);
    T* m_buffer = reinterpret_cast<T*>(base + v_bytes);
    T* patch = reinterpret_cast<T*>(base + v_bytes + m_bytes);
    T* bias_chunk = reinterpret_cast<T*>(base + v_bytes + m_bytes + patch_bytes);

    const i64 split = item % splits;
    i64 rest = item / splits;
    const i64 block = rest % block_count;
    const i64 group = rest / block_count;
    const i64 tile0 = block * block_tiles;  // global tile index (image * tiles_per_image + tile)
    const i64 tile_count = min_i64(block_tiles, tile_total - tile0);
    const i64 panel0 = split * panels_per_split;
    const i64 panel_end = min_i64(panels, panel0 + panels_per_split);

    // With a residual, every stored value must stay within largest T / 2 (see WinogradJob).
    const T stored_limit = std::numeric_limits<T>::max() / 2;
    RangeCheck<T> stored_range(stored_limit);
    bool stored_in_range = true;

    // 1. Input transform.
    RangeCheck<T> range(job.value_limit);
    for (i64 c0 = 0; c0 < in_stride; c0 += L) {
      const i64 lanes_used = min_i64(L, in_channels - c0);
      for (i64 t = 0; t < tile_count; ++t) {
        const i64 image = (tile0 + t) / tiles_per_image, tile = (tile0 + t) % tiles_per_image;
        const T* group_input = job.input + (image * p.in_channels + group * in_channels) * in_plane;
        const i64 row0 = (tile / tiles_w) * M - p.pad_top;
        const i64 col0 = (tile % tiles_w) * M - p.pad_left;
        vec d[positions], tmp[positions], v[positions];
        if constexpr (transposed_float && L == 8) {
          // Rows of 8 columns of 8 channels, transposed in registers: one vector per (i, j).
          const bool interior = row0 >= 0 && col0 >= 0 && row0 + alpha <= p.in_height && col0 + 8 <= p.in_width;
          if (interior && lanes_used == L) {
            const float* rows[8];
            const i64 row_step = p.in_width;
            for (int l = 0; l < 8; ++l) rows[l] = group_input + (c0 + l) * in_plane + row0 * p.in_width + col0;

#pragma GCC unroll 8
            for (int i = 0; i < alpha; ++i) {
              Float8::vec r[8];
#pragma GCC unroll 8
              for (int l = 0; l < 8; ++l) r[l] = Float8::load(rows[l] + i * row_step);
              Float8::transpose(r);
#pragma GCC unroll 8
              for (int j = 0; j < alpha; ++j) d[i * alpha + j] = r[j];
            }
          } else {
            // Border tile (or last channels): masked loads of the columns inside the image; the
            // masked-out lanes are not read, so nothing past a row's ends is touched.
            alignas(32) int column_mask[8];
            for (int j = 0; j < 8; ++j) column_mask[j] = (col0 + j >= 0 && col0 + j < p.in_width) ? -1 : 0;
            const Float8::mask inside = Float8::load_mask(column_mask);
            for (int i = 0; i < alpha; ++i) {
              const i64 row = row0 + i;
              Float8::vec r[8];
              if (row >= 0 && row < p.in_height) {
                const float* src = group_input + c0 * in_plane + row * p.in_width + col0;
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l)
                  r[l] = l < lanes_used ? Float8::masked_load(src + l * in_plane, inside) : Float8::zero();
              } else {
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l) r[l] = Float8::zero();
              }
              Float8::transpose(r);
#pragma GCC unroll 8
              for (int j = 0; j < alpha; ++j) d[i * alpha + j] = r[j];
            }
          }
        } else if constexpr (transposed_float && L == 16) {
          // Rows of 8 columns of 16 channels: two 8 x 8 transposes (as the AVX2 family) joined
          // into one 512-bit vector per (i, j). Each row is transformed as it arrives (d B) and
          // each column of that is transformed and stored (B^T (d B)), so no alpha^2 array of
          // inputs or results is kept (they would spill).
          const bool interior = row0 >= 0 && col0 >= 0 && row0 + alpha <= p.in_height && col0 + 8 <= p.in_width;
          const i64 channel_step = in_plane, row_step = p.in_width;
          if (interior && lanes_used == L) {
            const float* src = group_input + c0 * channel_step + row0 * row_step + col0;
#pragma GCC unroll 8
            for (int i = 0; i < alpha; ++i) {
              Float8::vec low[8], high[8];
#pragma GCC unroll 8
              for (int l = 0; l < 8; ++l) {
                low[l] = Float8::load(src + l * channel_step + i * row_step);
                high[l] = Float8::load(src + (l + 8) * channel_step + i * row_step);
              }
              Float8::transpose(low);
              Float8::transpose(high);
              vec joined[alpha];
#pragma GCC unroll 8
              for (int j = 0; j < alpha; ++j) joined[j] = S::join_halves(low[j], high[j]);
              Transform1d<T, M>::input(joined, 1, tmp + i * alpha, 1);
            }
          } else {
            alignas(32) int column_mask[8];
            for (int j = 0; j < 8; ++j) column_mask[j] = (col0 + j >= 0 && col0 + j < p.in_width) ? -1 : 0;
            const Float8::mask inside = Float8::load_mask(column_mask);
            for (int i = 0; i < alpha; ++i) {
              const i64 row = row0 + i;
              Float8::vec low[8], high[8];
              if (row >= 0 && row < p.in_height) {
                const float* src = group_input + c0 * channel_step + row * row_step + col0;
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l) {
                  low[l] = l < lanes_used ? Float8::masked_load(src + l * channel_step, inside) : Float8::zero();
                  high[l] =
                      l + 8 < lanes_used ? Float8::masked_load(src + (l + 8) * channel_step, inside) : Float8::zero();
                }
              } else {
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l) low[l] = high[l] = Float8::zero();
              }
              Float8::transpose(low);
              Float8::transpose(high);
              vec joined[alpha];
#pragma GCC unroll 8
              for (int j = 0; j < alpha; ++j) joined[j] = S::join_halves(low[j], high[j]);
              Transform1d<T, M>::input(joined, 1, tmp + i * alpha, 1);
            }
          }
          T* dst = v_buffer + t * in_stride + c0;
          const i64 dst_step = v_position_stride;
#pragma GCC unroll 8
          for (int j = 0; j < alpha; ++j) {
            vec column[alpha];
            Transform1d<T, M>::input(tmp + j, alpha, column, 1);
#pragma GCC unroll 8
            for (int i = 0; i < alpha; ++i) {
              range.add(column[i]);
              S::store(dst + (i * alpha + j) * dst_step, column[i]);
            }
          }
          continue;
        } else {
          const bool interior = row0 >= 0 && col0 >= 0 && row0 + alpha <= p.in_height && col0 + alpha <= p.in_width;
          if (interior && lanes_used == L) {
            for (int l = 0; l < L; ++l) {
              const T* src = group_input + (c0 + l) * in_plane + row0 * p.in_width + col0;
              for (int i = 0; i < alpha; ++i)
#pragma GCC unroll 8
                for (int j = 0; j < alpha; ++j) patch[(i * alpha + j) * L + l] = src[i * p.in_width + j];
            }
          } else {
            for (int l = 0; l < L; ++l) {
              const T* src = group_input + (c0 + l) * in_plane;
              for (int i = 0; i < alpha; ++i) {
                const i64 row = row0 + i;
                const bool row_ok = l < lanes_used && row >= 0 && row < p.in_height;
                for (int j = 0; j < alpha; ++j) {
                  const i64 col = col0 + j;
                  patch[(i * alpha + j) * L + l] =
                      (row_ok && col >= 0 && col < p.in_width) ? src[row * p.in_width + col] : T(0);
                }
              }
            }
          }
#pragma GCC unroll 8
          for (int k = 0; k < positions; ++k) d[k] = S::load(patch + k * L);
        }
        // tmp = B^T d (columns), v = tmp B (rows)
#pragma GCC unroll 8
        for (int j = 0; j < alpha; ++j) Transform1d<T, M>::input(d + j, alpha, tmp + j, alpha);
#pragma GCC unroll 8
        for (int i = 0; i < alpha; ++i) Transform1d<T, M>::input(tmp + i * alpha, 1, v + i * alpha, 1);
        T* dst = v_buffer + t * in_stride + c0;
        const i64 dst_step = v_position_stride;  // a local: vector stores may alias captured values
#pragma GCC unroll 8
        for (int k = 0; k < positions; ++k) {
          range.add(v[k]);
          S::store(dst + k * dst_step, v[k]);
        }
      }
    }
    if (!range.passed()) {
      __atomic_store_n(job.out_of_range, 1, __ATOMIC_RELAXED);
      return;
    }

    const T* group_weights = job.weight.data + group * job.weight.group_stride;
    // gemm_microkernel's full row panels and tail (not used with the wide GEMM)
    const i64 row_panels = tile_count / gemm_rows;
    const i64 row_tail = tile_count % gemm_rows;
    const GemmMicrokernel<T> tail_kernel = winograd_wide_gemm ? nullptr : gemm_microkernel_for<T>(row_tail);
    for (i64 chunk0 = panel0; chunk0 < panel_end; chunk0 += chunk_panels) {
      const i64 chunk_end = min_i64(panel_end, chunk0 + chunk_panels);
      // 2. Batched GEMM, one per position.
      for (int pos = 0; pos < positions; ++pos) {
        const T* a = v_buffer + pos * v_position_stride;
        T* c = m_buffer + pos * m_position_stride;
        if constexpr (winograd_wide_gemm) {
          for (i64 panel = chunk0; panel < chunk_end; panel += wide_max_panels) {
            const T* b = group_weights + pos * job.weight.position_stride + panel * in_channels * panel_width;
            gemm_block_wide<T>(int(min_i64(wide_max_panels, chunk_end - panel)), tile_count, in_channels, a, in_stride,
                               b, in_channels * panel_width, c + (panel - chunk0) * panel_width, m_stride);
          }
        } else {
          for (i64 panel = chunk0; panel < chunk_end; ++panel) {
            const T* b = group_weights + pos * job.weight.position_stride + panel * in_channels * panel_width;
            T* c_panel = c + (panel - chunk0) * panel_width;
            for (i64 r = 0; r < row_panels; ++r)
              gemm_microkernel<T, gemm_rows>(in_channels, a + r * gemm_rows * in_stride, in_stride, b,
                                             c_panel + r * gemm_rows * m_stride, m_stride);
            if (row_tail)
              tail_kernel(in_channels, a + row_panels * gemm_rows * in_stride, in_stride, b,
                          c_panel + row_panels * gemm_rows * m_stride, m_stride);
          }
        }
      }
      // 3. Output transform, vectors of out-channels, and the epilogue.
      const i64 oc_begin = chunk0 * panel_width;
      const i64 oc_end = min_i64(out_channels, chunk_end * panel_width);
      for (i64 oc = oc_begin; oc < chunk_end * panel_width; ++oc)  // zero past the group's channels
        bias_chunk[oc - oc_begin] =
            (job.bias != nullptr && oc < out_channels) ? job.bias[group * out_channels + oc] : T(0);
      for (i64 t = 0; t < tile_count; ++t) {
        const i64 image = (tile0 + t) / tiles_per_image, tile = (tile0 + t) % tiles_per_image;
        const i64 out_row0 = (tile / tiles_w) * M, out_col0 = (tile % tiles_w) * M;
        const i64 rows_used = min_i64(M, s.out_height - out_row0), cols_used = min_i64(M, s.out_width - out_col0);
        // the residual's columns of this tile (Float8 rows): nothing past the output's row is read
        alignas(32) int column_flags[8] = {};
        if (residual != nullptr)
          for (int j = 0; j < 8; ++j) column_flags[j] = j < cols_used ? -1 : 0;
        const Float8::mask tile_columns = Float8::load_mask(column_flags);
        for (i64 oc = oc_begin; oc < oc_end; oc += L) {
          vec tmp[M * alpha], y[M * M];
          const T* src = m_buffer + t * m_stride + (oc - oc_begin);
          const i64 src_step = m_position_stride;
          // A^T M one column at a time, straight from the loads (no alpha^2 array to spill).
#pragma GCC unroll 8
          for (int j = 0; j < alpha; ++j) {
            vec column[alpha];
#pragma GCC unroll 8
            for (int i = 0; i < alpha; ++i) column[i] = S::load(src + (i * alpha + j) * src_step);
            Transform1d<T, M>::output(column, 1, tmp + j, alpha);
          }
#pragma GCC unroll 8
          for (int i = 0; i < M; ++i) Transform1d<T, M>::output(tmp + i * alpha, 1, y + i * M, 1);
          const i64 lanes_used = min_i64(L, oc_end - oc);
          const vec bias = S::load(bias_chunk + (oc - oc_begin));
          const i64 out_offset =
              (image * p.out_channels + group * out_channels + oc) * out_plane + out_row0 * s.out_width + out_col0;
          T* out0 = job.output + out_offset;
          const T* residual0 = residual != nullptr ? residual + out_offset : nullptr;
          if constexpr (transposed_float && L == 8) {
            if (lanes_used == L) {
              // Row i of the tile for 8 channels: transpose (j, channel) -> (channel, j).
              for (i64 i = 0; i < rows_used; ++i) {
                Float8::vec r[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; ++j) r[j] = j < M ? S::add(y[i * M + j], bias) : Float8::zero();
                Float8::transpose(r);
                if (epilogue) {
                  for (int l = 0; l < 8; ++l) {
                    if (residual0 != nullptr) {
                      r[l] = Float8::add(
                          r[l], Float8::masked_load(residual0 + l * out_plane + i * s.out_width, tile_columns));
                      stored_range.add(r[l]);
                    }
                    r[l] = activate<Float8>(r[l], activation);
                  }
                }
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l)
                  Float8::store_first(out0 + l * out_plane + i * s.out_width, r[l], cols_used);
              }
              continue;
            }
          } else if constexpr (transposed_float && L == 16) {
            if (lanes_used == L) {
              // Row i of the tile for 16 channels: two 8 x 8 transposes of the halves.
              const i64 channel_step = out_plane, row_step = s.out_width;
              for (i64 i = 0; i < rows_used; ++i) {
                Float8::vec low[8], high[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; ++j) {
                  if (j < M) {
                    const vec value = S::add(y[i * M + j], bias);
                    low[j] = S::low_half(value);
                    high[j] = S::high_half(value);
                  } else {
                    low[j] = high[j] = Float8::zero();
                  }
                }
                Float8::transpose(low);
                Float8::transpose(high);
                float* dst = out0 + i * row_step;
                if (epilogue) {
                  for (int l = 0; l < 8; ++l) {
                    if (residual0 != nullptr) {
                      const float* res = residual0 + i * row_step;
                      low[l] = Float8::add(low[l], Float8::masked_load(res + l * channel_step, tile_columns));
                      high[l] = Float8::add(high[l], Float8::masked_load(res + (l + 8) * channel_step, tile_columns));
                      stored_range.add(S::join_halves(low[l], high[l]));
                    }
                    low[l] = activate<Float8>(low[l], activation);
                    high[l] = activate<Float8>(high[l], activation);
                  }
                }
#pragma GCC unroll 8
                for (int l = 0; l < 8; ++l) {
                  Float8::store_first(dst + l * channel_step, low[l], cols_used);
                  Float8::store_first(dst + (l + 8) * channel_step, high[l], cols_used);
                }
              }
              continue;
            }
          }
#pragma GCC unroll 8
          for (int k = 0; k < M * M; ++k) S::store(patch + k * L, S::add(y[k], bias));
          for (i64 l = 0; l < lanes_used; ++l) {
            T* out = out0 + l * out_plane;
            for (i64 i = 0; i < rows_used; ++i)
              for (i64 j = 0; j < cols_used; ++j) out[i * s.out_width + j] = patch[(i * M + j) * L + l];
          }
          if (epilogue)
            for (i64 l = 0; l < lanes_used; ++l)
              for (i64 i = 0; i < rows_used; ++i) {
                const i64 at = l * out_plane + i * s.out_width;
                T* out = out0 + at;
                for (i64 j = 0; j < cols_used; ++j) {
                  T value = out[j];
                  if (residual0 != nullptr) {
                    value = value + residual0[at + j];
                    if (!(value <= stored_limit && value >= -stored_limit)) stored_in_range = false;
                  }
                  out[j] = activate_value(value, activation);
                }
              }
        }
      }
    }
    if (!stored_in_range || !stored_range.passed()) __atomic_store_n(job.out_of_range, 1, __ATOMIC_RELAXED);
  });
  cached_workspace.trim();
  return KernelStatus::ok;
}

}  // namespace

template <class T>
KernelStatus conv2d_winograd(const WinogradJob<T>& job) noexcept {
  switch (job.weight.tile) {
    case 2: return winograd_tiled<T, 2>(job);
    case 4: return winograd_tiled<T, 4>(job);
    default: return winograd_tiled<T, 6>(job);
  }
}

WinogradKernels winograd_kernels() noexcept {
  return {kernel_isa_name,
          {{&conv2d_winograd<float>}, {&conv2d_winograd<double>}},
          {i64(sizeof(typename Simd<float>::vec)), v_budget_min_bytes, v_budget_max_bytes, m_budget_bytes,
           max_block_tiles, gemm_rows, min_chunk_panels}};
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
