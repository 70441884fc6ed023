// Max and average pooling, one implementation for every kernel family. Included by
// pool2d_<isa>.cpp inside that family's namespace, after simd_<isa>.hpp, whose PoolVec<T> holds
// the vector operations of pooling: NaN-propagating max, add, divide, even/odd deinterleave, and
// the integer lanes and PyTorch's update rule of the index path.
//
// Pooling is memory-bound: each item (one input plane, a block of output rows, a tile of output
// columns) reads its input rows straight from the plane, separably. Rows are first copied into a
// row buffer split into `stride_width` phases (phase p, index i holds padded column
// i * stride + p), so that every horizontal tap k of every output column is one contiguous
// vector load (phase (k * dilation) % stride, offset (k * dilation) / stride), vectorised along
// the output width. Stride 2 (the common downsampling) deinterleaves even/odd columns in
// registers; stride 1 stores in place; other strides scatter lane by lane. The buffer's padding
// positions hold the padding value (-inf for max, 0 for the sum), set once per item.
//   * Average: vertical first. For each output row the window's input rows are summed column by
//     column straight into the row buffer, then the horizontal taps are summed and divided.
//   * Max: horizontal first. Each input row is reduced along the width once, into a small cache
//     of reduced rows (a window's span of rows), then each output row combines its window's
//     reduced rows in order. Reducing rows first and keeping the earlier element on ties (the
//     later one where it is NaN) picks exactly PyTorch's element in row-major order: the first
//     maximum (its sign, for +-0) or the last NaN (its bits).
// With stride < window, input rows are re-read from cache, so each element comes from memory once.
//
// NaN: max_nan(later, earlier) is NaN when either is, and keeps `earlier` on ties. The index path
// (return_indices) scans the window in PyTorch's order (rows, then columns) with PyTorch's update
// rule `value > best || isnan(value)`, vectorised over output columns, which gives PyTorch's
// indices exactly: the first maximum, the last NaN, and for windows whose elements are all -inf
// (or that hold no element at all, possible with dilation) the index of the window's first
// in-range row and column.
//
// Geometries whose row buffer would exceed the budget (huge stride or dilation) and, for the
// float index path, planes with more than 2**31 - 1 elements (indices are carried in 32-bit
// lanes) take the scalar path: PyTorch's loops, one output at a time.

#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/kernel_support.hpp"
#include "kernels/kernels.hpp"
#include "parallel.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Output columns per tile: bounds the row buffer for very wide inputs.
constexpr i64 max_tile_outputs = 4096;
// Row buffer elements per thread beyond which the scalar path is taken.
constexpr i64 max_row_buffer_elements = i64{1} << 20;

// The window rows of output row `out_row`: input rows first, first + dilation, ... (count of
// them), the in-range taps only. `first` is PyTorch's `while (ih0 < 0) ih0 += dilation` even when
// count is 0.
struct WindowRows {
  i64 first, count;
};

inline WindowRows window_rows(i64 out_row, i64 stride, i64 pad, i64 dilation, i64 kernel, i64 input) {
  const i64 start = out_row * stride - pad;
  // first tap at or after row 0, and one past the last tap before row `input`
  const i64 tap_begin = start >= 0 ? 0 : ceil_div(-start, dilation);
  const i64 tap_end = start >= input ? 0 : min_i64(kernel, ceil_div(input - start, dilation));
  WindowRows rows;
  rows.first = start + tap_begin * dilation;
  rows.count = max_i64(0, tap_end - tap_begin);
  return rows;
}

// Reductions: `first` starts from the window's first element, `combine` adds a later one.
template <class T>
struct MaxReduce {
  using V = PoolVec<T>;
  static T pad() { return -std::numeric_limits<T>::infinity(); }
  template <class X>
  static X first(const X& x) {
    return x;
  }
  template <class X>
  static X combine(const X& acc, const X& later) {
    return V::max_nan(later, acc);
  }
};

template <class T>
struct SumReduce {
  using V = PoolVec<T>;
  static T pad() { return T(0); }
  // 0 + x, as PyTorch's `sum = 0; sum += x` (turns -0 into +0)
  static typename V::vec first(const typename V::vec& x) { return V::add(V::set1(T(0)), x); }
  static T first(T x) { return T(0) + x; }
  template <class X>
  static X combine(const X& acc, const X& later) {
    return V::add(acc, later);
  }
};

// Geometry of one operation, shared by all items.
template <class T>
struct PoolPlan {
  i64 tile_cols, col_tiles;    // output columns per tile, tiles per row
  i64 rows_per_block, row_blocks;
  i64 item_count;
  i64 phase_len;               // elements per phase of the row buffer
  i64 buffer_elements;         // stride_width * phase_len
  i64 padded_tile;             // tile_cols rounded up to whole vectors
};

template <class T>
bool plan_pool(const Pool2dJob<T>& job, PoolPlan<T>& plan) {
  constexpr i64 L = PoolVec<T>::lanes;
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  plan.tile_cols = min_i64(s.out_width, max_tile_outputs);
  plan.col_tiles = ceil_div(s.out_width, plan.tile_cols);
  plan.padded_tile = round_up(plan.tile_cols, L);
  // Largest offset of a tap within its phase is (kernel - 1) * dilation / stride.
  const i64 reach = (p.kernel_width - 1) * p.dilation_width / p.stride_width;
  if (reach > max_row_buffer_elements || p.stride_width > max_row_buffer_elements) return false;
  plan.phase_len = plan.padded_tile + reach + 1;
  if (plan.phase_len > max_row_buffer_elements / p.stride_width) return false;
  plan.buffer_elements = p.stride_width * plan.phase_len;
  // Items: whole planes when there are enough of them, else blocks of output rows too.
  const i64 base_items = s.planes * plan.col_tiles;
  const i64 wanted = 4 * i64(job.threads);
  plan.row_blocks = base_items >= wanted ? 1 : min_i64(s.out_height, ceil_div(wanted, base_items));
  plan.rows_per_block = ceil_div(s.out_height, plan.row_blocks);
  plan.row_blocks = ceil_div(s.out_height, plan.rows_per_block);
  plan.item_count = base_items * plan.row_blocks;
  return true;
}

// One item's place: plane, output rows [row_begin, row_end), output columns [col_begin, +cols).
struct ItemRange {
  i64 plane, row_begin, row_end, col_begin, cols;
};

template <class T>
ItemRange item_range(const Pool2dJob<T>& job, const PoolPlan<T>& plan, i64 item) {
  ItemRange r;
  const i64 col_tile = item % plan.col_tiles;
  const i64 rest = item / plan.col_tiles;
  const i64 row_block = rest % plan.row_blocks;
  r.plane = rest / plan.row_blocks;
  r.row_begin = row_block * plan.rows_per_block;
  r.row_end = min_i64(job.shape.out_height, r.row_begin + plan.rows_per_block);
  r.col_begin = col_tile * plan.tile_cols;
  r.cols = min_i64(plan.tile_cols, job.shape.out_width - r.col_begin);
  return r;
}

// Vertical pass: reduces input rows first_row, first_row + row_step, ... (row_count >= 1 of
// them, as pointers into the plane) over input columns [col_lo, col_hi) and stores column c at
// buffer position j = c - col_origin, i.e. phase j % stride, index j / stride.
template <class T, class Reduce>
void vertical_pass(const T* first_row, i64 row_step, i64 row_count, i64 col_lo, i64 col_hi, i64 col_origin, i64 stride,
                   T* buffer, i64 phase_len) {
  using V = PoolVec<T>;
  using vec = typename V::vec;
  constexpr i64 L = V::lanes;
  const auto column_vector = [&](i64 c) {
    const T* src = first_row + c;
    vec acc = Reduce::first(V::load(src));
    for (i64 r = 1; r < row_count; ++r) acc = Reduce::combine(acc, V::load(src + r * row_step));
    return acc;
  };
  // A remainder narrower than the vector step is done as one more step ending at col_hi, which
  // overlaps the previous one and rewrites the same values.
  i64 c = col_lo;
  if (stride == 1) {
    T* dst = buffer - col_origin;
    for (; c + 2 * L <= col_hi; c += 2 * L) {
      const vec lo = column_vector(c), hi = column_vector(c + L);
      V::store(dst + c, lo);
      V::store(dst + c + L, hi);
    }
    for (; c + L <= col_hi; c += L) V::store(dst + c, column_vector(c));
    if (c < col_hi && col_hi - col_lo >= L) {
      V::store(dst + col_hi - L, column_vector(col_hi - L));
      c = col_hi;
    }
  } else if (stride == 2) {
    const auto step = [&](i64 first) {
      vec even, odd;
      V::deinterleave2(column_vector(first), column_vector(first + L), even, odd);
      const i64 j = first - col_origin;
      V::store(buffer + (j & 1) * phase_len + (j >> 1), even);
      V::store(buffer + ((j + 1) & 1) * phase_len + ((j + 1) >> 1), odd);
    };
    for (; c + 2 * L <= col_hi; c += 2 * L) step(c);
    if (c < col_hi && col_hi - col_lo >= 2 * L) {
      step(col_hi - 2 * L);
      c = col_hi;
    }
  } else {
    for (; c + L <= col_hi; c += L) {
      T lanes[L];
      V::store(lanes, column_vector(c));
      for (i64 l = 0; l < L; ++l) {
        const i64 j = c + l - col_origin;
        buffer[(j % stride) * phase_len + j / stride] = lanes[l];
      }
    }
  }
  for (; c < col_hi; ++c) {
    const T* src = first_row + c;
    T acc = Reduce::first(src[0]);
    for (i64 r = 1; r < row_count; ++r) acc = Reduce::combine(acc, src[r * row_step]);
    const i64 j = c - col_origin;
    const i64 position = stride == 1   ? j
                         : stride == 2 ? (j & 1) * phase_len + (j >> 1)
                                       : (j % stride) * phase_len + j / stride;
    buffer[position] = acc;
  }
}

inline void fill(double* p, i64 n, double v) {
  for (i64 i = 0; i < n; ++i) p[i] = v;
}
inline void fill(float* p, i64 n, float v) {
  for (i64 i = 0; i < n; ++i) p[i] = v;
}

// Offsets of the horizontal taps in the row buffer.
inline void tap_offsets(i64 kernel, i64 dilation, i64 stride, i64 phase_len, i64* offsets) {
  for (i64 k = 0; k < kernel; ++k) offsets[k] = ((k * dilation) % stride) * phase_len + (k * dilation) / stride;
}

// Per-thread row buffer and per-operation column geometry of an item.
struct ItemColumns {
  i64 col_origin;      // input column of buffer position 0
  i64 col_lo, col_hi;  // input columns the tile reads, clipped to the image
};

inline ItemColumns item_columns(const Pool2dParams& p, const ItemRange& r) {
  ItemColumns c;
  c.col_origin = r.col_begin * p.stride_width - p.pad_width;
  const i64 col_end = c.col_origin + (r.cols - 1) * p.stride_width + (p.kernel_width - 1) * p.dilation_width + 1;
  c.col_lo = max_i64(0, c.col_origin);
  c.col_hi = min_i64(p.in_width, col_end);
  return c;
}

// Stores the first `count` lanes of v (count <= lanes).
template <class T>
inline void store_partial(T* dst, const typename PoolVec<T>::vec& v, i64 count) {
  using V = PoolVec<T>;
  if (count == V::lanes) {
    V::store(dst, v);
  } else {
    T lanes[V::lanes];
    V::store(lanes, v);
    for (i64 l = 0; l < count; ++l) dst[l] = lanes[l];
  }
}

// Calls body(first_output, count) over [0, cols) in whole vectors; a remainder is one more whole
// vector ending at cols (overlapping, rewriting the same values) when cols >= lanes, else a
// partial one (count < lanes).
template <class T, class Body>
inline void for_each_output_vector(i64 cols, Body&& body) {
  constexpr i64 L = PoolVec<T>::lanes;
  i64 ow = 0;
  for (; ow + L <= cols; ow += L) body(ow, L);
  if (ow < cols) {
    if (cols >= L) body(cols - L, L);
    else body(ow, cols - ow);
  }
}

// ---------------------------------------------------------------------------------------------
// Scalar path: PyTorch's loops (aten/src/ATen/native/cpu/MaxPoolKernel.cpp, AvgPoolKernel.cpp).

template <class T>
void max_pool_scalar_row(const Pool2dJob<T>& job, i64 plane, i64 oh) {
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  const T* in = job.input + plane * p.in_height * p.in_width;
  T* out = job.output + (plane * s.out_height + oh) * s.out_width;
  i64* indices = job.indices ? job.indices + (plane * s.out_height + oh) * s.out_width : nullptr;
  i64 ih0 = oh * p.stride_height - p.pad_height;
  const i64 ih1 = min_i64(ih0 + (p.kernel_height - 1) * p.dilation_height + 1, p.in_height);
  if (ih0 < 0) ih0 += ceil_div(-ih0, p.dilation_height) * p.dilation_height;
  for (i64 ow = 0; ow < s.out_width; ++ow) {
    i64 iw0 = ow * p.stride_width - p.pad_width;
    const i64 iw1 = min_i64(iw0 + (p.kernel_width - 1) * p.dilation_width + 1, p.in_width);
    if (iw0 < 0) iw0 += ceil_div(-iw0, p.dilation_width) * p.dilation_width;
    i64 best_index = ih0 * p.in_width + iw0;
    T best = -std::numeric_limits<T>::infinity();
    for (i64 ih = ih0; ih < ih1; ih += p.dilation_height)
      for (i64 iw = iw0; iw < iw1; iw += p.dilation_width) {
        const i64 index = ih * p.in_width + iw;
        const T value = in[index];
        if (value > best || value != value) {
          best = value;
          best_index = index;
        }
      }
    out[ow] = best;
    if (indices) indices[ow] = best_index;
  }
}

// Window extent along one axis for the average: [start, end) clipped to the padded input
// (count_include_pad) or to the input.
inline i64 avg_window_count(i64 out, i64 stride, i64 pad, i64 kernel, i64 input, bool include_pad) {
  const i64 start = out * stride - pad;
  const i64 end = min_i64(start + kernel, input + pad);
  if (include_pad) return end - start;
  return min_i64(end, input) - max_i64(start, 0);
}

template <class T>
void avg_pool_scalar_row(const Pool2dJob<T>& job, i64 plane, i64 oh) {
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  const T* in = job.input + plane * p.in_height * p.in_width;
  T* out = job.output + (plane * s.out_height + oh) * s.out_width;
  const i64 ih_start = oh * p.stride_height - p.pad_height;
  const i64 ih0 = max_i64(ih_start, 0);
  const i64 ih1 = min_i64(ih_start + p.kernel_height, p.in_height);
  const i64 row_count =
      avg_window_count(oh, p.stride_height, p.pad_height, p.kernel_height, p.in_height, job.count_include_pad);
  for (i64 ow = 0; ow < s.out_width; ++ow) {
    const i64 iw_start = ow * p.stride_width - p.pad_width;
    const i64 iw0 = max_i64(iw_start, 0);
    const i64 iw1 = min_i64(iw_start + p.kernel_width, p.in_width);
    T sum = T(0);
    for (i64 ih = ih0; ih < ih1; ++ih)
      for (i64 iw = iw0; iw < iw1; ++iw) sum += in[ih * p.in_width + iw];
    const i64 divisor = job.divisor_override != 0
                            ? job.divisor_override
                            : row_count * avg_window_count(ow, p.stride_width, p.pad_width, p.kernel_width, p.in_width,
                                                           job.count_include_pad);
    out[ow] = sum / T(divisor);
  }
}

template <class T, class RowFunction>
KernelStatus scalar_path(const Pool2dJob<T>& job, RowFunction row) {
  const i64 rows = job.shape.planes * job.shape.out_height;
  const int threads = int(min_i64(job.threads, rows));
  parallel_for(rows, threads,
               [&](i64 item, int) { row(job, item / job.shape.out_height, item % job.shape.out_height); });
  return KernelStatus::ok;
}

// ---------------------------------------------------------------------------------------------
// Max pooling, values only

// Horizontal-first (each input row reduced along the width once, into a small cache of rows;
// then the window's rows combined in order), so ties and NaN resolve in PyTorch's row-major
// order: the result is bit for bit the element PyTorch returns (the first maximum, whose sign
// matters for +-0, or the last NaN).
constexpr i64 row_cache_budget_bytes = 256 * 1024;

// row[ow] = max over taps k of buffer[offsets[k] + ow], for ow in [0, cols) rounded up to whole
// vectors. Taps is KW when KW > 0 (unrolled), else `taps`.
template <class T, int KW>
void horizontal_max(const T* buffer, const i64* offsets, i64 taps, i64 cols, T* row) {
  using V = PoolVec<T>;
  using vec = typename V::vec;
  constexpr i64 L = V::lanes;
  if constexpr (KW > 0) {
    const T* tap[KW];
    for (int k = 0; k < KW; ++k) tap[k] = buffer + offsets[k];
    i64 ow = 0;
    for (; ow + L < cols; ow += 2 * L) {  // two independent chains
      vec a = V::load(tap[0] + ow), b = V::load(tap[0] + ow + L);
      for (int k = 1; k < KW; ++k) {
        a = V::max_nan(V::load(tap[k] + ow), a);
        b = V::max_nan(V::load(tap[k] + ow + L), b);
      }
      V::store(row + ow, a);
      V::store(row + ow + L, b);
    }
    if (ow < cols) {
      vec a = V::load(tap[0] + ow);
      for (int k = 1; k < KW; ++k) a = V::max_nan(V::load(tap[k] + ow), a);
      V::store(row + ow, a);
    }
  } else {
    for (i64 ow = 0; ow < cols; ow += L) {
      const T* src = buffer + ow;
      vec acc = V::load(src + offsets[0]);
      for (i64 k = 1; k < taps; ++k) acc = V::max_nan(V::load(src + offsets[k]), acc);
      V::store(row + ow, acc);
    }
  }
}

template <class T>
KernelStatus max_values(const Pool2dJob<T>& job, const PoolPlan<T>& plan) {
  using V = PoolVec<T>;
  using vec = typename V::vec;
  constexpr i64 L = V::lanes;
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  const int threads = int(min_i64(job.threads, plan.item_count));
  // Cache slot of input row ih: ih % cache_rows. A whole window span fits in the usual case;
  // otherwise (huge dilation) rows are recomputed as needed.
  const i64 span_rows = (p.kernel_height - 1) * p.dilation_height + 1;
  const i64 row_bytes = round_up(plan.padded_tile * i64(sizeof(T)), 64);
  const i64 cache_rows = max_i64(1, min_i64(span_rows, row_cache_budget_bytes / row_bytes));
  const bool whole_window = cache_rows == span_rows;
  const i64 buffer_bytes = round_up(plan.buffer_elements * i64(sizeof(T)), 64);
  const i64 tags_bytes = round_up(cache_rows * i64(sizeof(i64)), 64);
  const i64 thread_bytes = buffer_bytes + cache_rows * row_bytes + tags_bytes;
  Workspace shared(sizeof(i64) * p.kernel_width);
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  if (shared.get() == nullptr || thread_memory.get() == nullptr) return KernelStatus::out_of_memory;
  i64* offsets = static_cast<i64*>(shared.get());
  tap_offsets(p.kernel_width, p.dilation_width, p.stride_width, plan.phase_len, offsets);
  const i64 in_plane = p.in_height * p.in_width;
  const i64 row_stride = row_bytes / i64(sizeof(T));
  const T pad = MaxReduce<T>::pad();

  parallel_for(plan.item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* buffer = reinterpret_cast<T*>(memory);
    T* cache = reinterpret_cast<T*>(memory + buffer_bytes);
    i64* cached = reinterpret_cast<i64*>(memory + buffer_bytes + cache_rows * row_bytes);  // input row per slot
    const ItemRange r = item_range(job, plan, item);
    const ItemColumns c = item_columns(p, r);
    fill(buffer, plan.buffer_elements, pad);
    for (i64 slot = 0; slot < cache_rows; ++slot) cached[slot] = -1;
    const T* plane = job.input + r.plane * in_plane;
    // The horizontal maxima of input row ih (first maximum / last NaN along the row).
    const auto reduced_row = [&](i64 ih) {
      const i64 slot = ih % cache_rows;
      T* row = cache + slot * row_stride;
      if (cached[slot] != ih) {
        vertical_pass<T, MaxReduce<T>>(plane + ih * p.in_width, 0, 1, c.col_lo, c.col_hi, c.col_origin, p.stride_width,
                                       buffer, plan.phase_len);
        switch (p.kernel_width) {  // the common widths unrolled
          case 2: horizontal_max<T, 2>(buffer, offsets, 2, r.cols, row); break;
          case 3: horizontal_max<T, 3>(buffer, offsets, 3, r.cols, row); break;
          default: horizontal_max<T, 0>(buffer, offsets, p.kernel_width, r.cols, row); break;
        }
        cached[slot] = ih;
      }
      return static_cast<const T*>(row);
    };
    for (i64 oh = r.row_begin; oh < r.row_end; ++oh) {
      T* out = job.output + (r.plane * s.out_height + oh) * s.out_width + r.col_begin;
      const WindowRows rows =
          window_rows(oh, p.stride_height, p.pad_height, p.dilation_height, p.kernel_height, p.in_height);
      if (rows.count == 0 || c.col_lo >= c.col_hi) {  // the window holds padding only
        fill(out, r.cols, pad);
        continue;
      }
      if (whole_window) {
        // every row of the window in the cache at once: combine them in registers
        const T* window[64];
        const i64 direct = min_i64(rows.count, 64);
        for (i64 t = 0; t < direct; ++t) window[t] = reduced_row(rows.first + t * p.dilation_height);
        for_each_output_vector<T>(r.cols, [&](i64 ow, i64 count) {
          vec acc = V::load(window[0] + ow);
          for (i64 t = 1; t < direct; ++t) acc = V::max_nan(V::load(window[t] + ow), acc);
          for (i64 t = direct; t < rows.count; ++t)  // windows taller than 64 rows
            acc = V::max_nan(V::load(reduced_row(rows.first + t * p.dilation_height) + ow), acc);
          store_partial<T>(out + ow, acc, count);
        });
      } else {
        // one row at a time, combined into the output row
        for (i64 t = 0; t < rows.count; ++t) {
          const T* row = reduced_row(rows.first + t * p.dilation_height);
          for_each_output_vector<T>(r.cols, [&](i64 ow, i64 count) {
            const vec value = V::load(row + ow);
            T previous[L] = {};
            if (t > 0) std::memcpy(previous, out + ow, sizeof(T) * count);
            store_partial<T>(out + ow, t == 0 ? value : V::max_nan(value, V::load(previous)), count);
          });
        }
      }
    }
  });
  return KernelStatus::ok;
}

// ---------------------------------------------------------------------------------------------
// Max pooling with indices: PyTorch's scan, vectorised over output columns.

template <class T>
KernelStatus max_with_indices(const Pool2dJob<T>& job, const PoolPlan<T>& plan) {
  using V = PoolVec<T>;
  using vec = typename V::vec;
  using ivec = typename V::ivec;
  using index_t = typename V::index_t;
  constexpr i64 L = V::lanes;
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  const int threads = int(min_i64(job.threads, plan.item_count));
  const i64 buffer_bytes = round_up(plan.buffer_elements * i64(sizeof(T)), 64);
  const i64 best_bytes = round_up(plan.padded_tile * i64(sizeof(T)), 64);
  const i64 index_bytes = round_up(plan.padded_tile * i64(sizeof(index_t)), 64);
  const i64 thread_bytes = buffer_bytes + best_bytes + 2 * index_bytes;
  Workspace shared(sizeof(i64) * p.kernel_width);
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  if (shared.get() == nullptr || thread_memory.get() == nullptr) return KernelStatus::out_of_memory;
  i64* offsets = static_cast<i64*>(shared.get());
  tap_offsets(p.kernel_width, p.dilation_width, p.stride_width, plan.phase_len, offsets);
  const i64 in_plane = p.in_height * p.in_width;
  const T pad = MaxReduce<T>::pad();

  parallel_for(plan.item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* buffer = reinterpret_cast<T*>(memory);
    T* best_row = reinterpret_cast<T*>(memory + buffer_bytes);
    index_t* index_row = reinterpret_cast<index_t*>(memory + buffer_bytes + best_bytes);
    index_t* column_row = reinterpret_cast<index_t*>(memory + buffer_bytes + best_bytes + index_bytes);
    const ItemRange r = item_range(job, plan, item);
    const ItemColumns c = item_columns(p, r);
    fill(buffer, plan.buffer_elements, pad);
    // Input column of tap 0 of every output column of the tile (lanes past the tile: unused).
    for (i64 ow = 0; ow < plan.padded_tile; ++ow)
      column_row[ow] = index_t(min_i64(r.col_begin + ow, s.out_width - 1) * p.stride_width - p.pad_width);
    const T* plane = job.input + r.plane * in_plane;
    for (i64 oh = r.row_begin; oh < r.row_end; ++oh) {
      const i64 offset = (r.plane * s.out_height + oh) * s.out_width + r.col_begin;
      T* out = job.output + offset;
      i64* out_index = job.indices + offset;
      const WindowRows rows =
          window_rows(oh, p.stride_height, p.pad_height, p.dilation_height, p.kernel_height, p.in_height);
      fill(best_row, plan.padded_tile, pad);
      for (i64 ow = 0; ow < plan.padded_tile; ++ow) index_row[ow] = index_t(-1);
      if (c.col_lo < c.col_hi) {
        for (i64 t = 0; t < rows.count; ++t) {
          const i64 ih = rows.first + t * p.dilation_height;
          vertical_pass<T, MaxReduce<T>>(plane + ih * p.in_width, 0, 1, c.col_lo, c.col_hi, c.col_origin,
                                         p.stride_width, buffer, plan.phase_len);
          const i64 row_base = ih * p.in_width;
          for (i64 ow = 0; ow < r.cols; ow += L) {
            vec best = V::load(best_row + ow);
            ivec best_index = V::iload(index_row + ow);
            const ivec columns = V::iload(column_row + ow);
            for (i64 k = 0; k < p.kernel_width; ++k) {
              V::update(V::load(buffer + ow + offsets[k]), V::iadd(columns, V::iset1(row_base + k * p.dilation_width)),
                        best, best_index);
            }
            V::store(best_row + ow, best);
            V::istore(index_row + ow, best_index);
          }
        }
      }
      // Windows where nothing was taken: PyTorch reports the first in-range row and column.
      const i64 first_row = rows.first;
      for (i64 ow = 0; ow < r.cols; ++ow) {
        out[ow] = best_row[ow];
        if (index_row[ow] != index_t(-1)) {
          out_index[ow] = i64(index_row[ow]);
        } else {
          i64 iw0 = (r.col_begin + ow) * p.stride_width - p.pad_width;
          if (iw0 < 0) iw0 += ceil_div(-iw0, p.dilation_width) * p.dilation_width;
          out_index[ow] = first_row * p.in_width + iw0;
        }
      }
    }
  });
  return KernelStatus::ok;
}

// ---------------------------------------------------------------------------------------------
// Average pooling

template <class T>
KernelStatus avg_values(const Pool2dJob<T>& job, const PoolPlan<T>& plan) {
  using V = PoolVec<T>;
  using vec = typename V::vec;
  constexpr i64 L = V::lanes;
  const Pool2dParams& p = job.params;
  const Pool2dShape& s = job.shape;
  const int threads = int(min_i64(job.threads, plan.item_count));
  const i64 buffer_bytes = round_up(plan.buffer_elements * i64(sizeof(T)), 64);
  const i64 divisor_bytes = round_up(plan.padded_tile * i64(sizeof(T)), 64);
  // Short windows keep each of their rows in its own buffer and sum a whole window per output
  // vector; taller ones carry partial sums from row to row through memory.
  const i64 row_buffers = p.kernel_height <= 4 ? p.kernel_height : 1;
  const i64 buffer_stride = buffer_bytes / i64(sizeof(T));
  const i64 thread_bytes = row_buffers * buffer_bytes + 2 * divisor_bytes;  // row buffers, divisors, sums
  // Shared: tap offsets and the window width of every output column.
  Workspace shared(sizeof(i64) * (p.kernel_width + s.out_width));
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  if (shared.get() == nullptr || thread_memory.get() == nullptr) return KernelStatus::out_of_memory;
  i64* offsets = static_cast<i64*>(shared.get());
  i64* col_counts = offsets + p.kernel_width;
  tap_offsets(p.kernel_width, p.dilation_width, p.stride_width, plan.phase_len, offsets);
  for (i64 ow = 0; ow < s.out_width; ++ow)
    col_counts[ow] =
        avg_window_count(ow, p.stride_width, p.pad_width, p.kernel_width, p.in_width, job.count_include_pad);
  const i64 in_plane = p.in_height * p.in_width;

  parallel_for(plan.item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* buffer = reinterpret_cast<T*>(memory);
    T* divisors = reinterpret_cast<T*>(memory + row_buffers * buffer_bytes);
    T* sums = reinterpret_cast<T*>(memory + row_buffers * buffer_bytes + divisor_bytes);
    const ItemRange r = item_range(job, plan, item);
    const ItemColumns c = item_columns(p, r);
    for (i64 b = 0; b < row_buffers; ++b) fill(buffer + b * buffer_stride, plan.buffer_elements, T(0));
    i64 divisor_rows = -1;  // the window height `divisors` was made for
    if (job.divisor_override != 0) fill(divisors, plan.padded_tile, T(job.divisor_override));
    else fill(divisors, plan.padded_tile, T(1));
    const T* plane = job.input + r.plane * in_plane;
    for (i64 oh = r.row_begin; oh < r.row_end; ++oh) {
      T* out = job.output + (r.plane * s.out_height + oh) * s.out_width + r.col_begin;
      if (job.divisor_override == 0) {
        const i64 row_count =
            avg_window_count(oh, p.stride_height, p.pad_height, p.kernel_height, p.in_height, job.count_include_pad);
        if (row_count != divisor_rows) {
          // the divisor is the int64 product converted once, as PyTorch's `sum / divide_factor`
          for (i64 ow = 0; ow < r.cols; ++ow) divisors[ow] = T(row_count * col_counts[r.col_begin + ow]);
          divisor_rows = row_count;
        }
      }
      // Average pooling windows always hold at least one input row and column (padding is at
      // most half the kernel and ceil mode's last window starts inside the input).
      const WindowRows rows = window_rows(oh, p.stride_height, p.pad_height, 1, p.kernel_height, p.in_height);
      // PyTorch sums a window row by row, left to right (`sum += x`, from 0). Summing in that
      // order gives its float results bit for bit, including which windows overflow to Inf. Padded
      // columns hold 0 in the buffers, and adding +0 changes no sum.
      if (row_buffers > 1) {
        for (i64 row = 0; row < rows.count; ++row)
          vertical_pass<T, SumReduce<T>>(plane + (rows.first + row) * p.in_width, p.in_width, 1, c.col_lo, c.col_hi,
                                         c.col_origin, p.stride_width, buffer + row * buffer_stride, plan.phase_len);
        for_each_output_vector<T>(r.cols, [&](i64 ow, i64 count) {
          vec acc = V::set1(T(0));
          for (i64 row = 0; row < rows.count; ++row) {
            const T* src = buffer + row * buffer_stride + ow;
            for (i64 k = 0; k < p.kernel_width; ++k) acc = V::add(acc, V::load(src + offsets[k]));
          }
          store_partial<T>(out + ow, V::div(acc, V::load(divisors + ow)), count);
        });
        continue;
      }
      for (i64 row = 0; row < rows.count; ++row) {
        vertical_pass<T, SumReduce<T>>(plane + (rows.first + row) * p.in_width, p.in_width, 1, c.col_lo, c.col_hi,
                                       c.col_origin, p.stride_width, buffer, plan.phase_len);
        const bool last = row + 1 == rows.count;
        // Whole vectors without overlap (a sum must be added to once per row); lanes past r.cols
        // stay within the padded tile and the row buffer and are never stored.
        for (i64 ow = 0; ow < r.cols; ow += L) {
          const T* src = buffer + ow;
          vec acc = row == 0 ? V::set1(T(0)) : V::load(sums + ow);
          for (i64 k = 0; k < p.kernel_width; ++k) acc = V::add(acc, V::load(src + offsets[k]));
          if (last) store_partial<T>(out + ow, V::div(acc, V::load(divisors + ow)), min_i64(L, r.cols - ow));
          else V::store(sums + ow, acc);
        }
      }
    }
  });
  return KernelStatus::ok;
}

}  // namespace

template <class T>
KernelStatus max_pool2d(const Pool2dJob<T>& job) noexcept {
  if (job.shape.output_elements == 0) return KernelStatus::ok;
  PoolPlan<T> plan{};
  const bool vector_path = plan_pool(job, plan) && (job.indices == nullptr ||
                                                    job.params.in_height * job.params.in_width <=
                                                        i64(std::numeric_limits<typename PoolVec<T>::index_t>::max()));
  if (!vector_path) return scalar_path(job, &max_pool_scalar_row<T>);
  return job.indices != nullptr ? max_with_indices(job, plan) : max_values(job, plan);
}

template <class T>
KernelStatus avg_pool2d(const Pool2dJob<T>& job) noexcept {
  if (job.shape.output_elements == 0) return KernelStatus::ok;
  PoolPlan<T> plan{};
  if (!plan_pool(job, plan)) return scalar_path(job, &avg_pool_scalar_row<T>);
  return avg_values(job, plan);
}

Pool2dKernels pool2d_kernels() noexcept {
  return {kernel_isa_name, {{&max_pool2d<float>, &avg_pool2d<float>}, {&max_pool2d<double>, &avg_pool2d<double>}}};
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
