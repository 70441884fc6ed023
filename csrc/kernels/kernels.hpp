// What the kernels see (job structs) and each kernel family's entry points. A family's code for
// an ISA lives in that ISA's namespace (fieldconv::generic, fieldconv::avx2, ...) in translation
// units compiled with the ISA's flags (kernel_list.inc lists them); kernels take only plain
// structs, so no inline function compiled with AVX2 flags can be merged into code the generic
// path runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fieldconv/epilogue.hpp"
#include "fieldconv/shapes.hpp"

namespace fieldconv {

// Packed conv2d weights as the kernels see them (see PackedConv2dWeights).
template <class T>
struct PackedWeightsView {
  const T* data;
  std::int64_t block_width;       // out-channels per block: 64 or 128 bytes of them
  std::int64_t blocks_per_group;
  std::int64_t block_stride;      // elements from one block to the next
};

template <class T>
struct Conv2dJob {
  Conv2dParams params;
  Conv2dShape shape;
  const T* input;
  PackedWeightsView<T> weight;
  const T* bias;  // may be null
  T* output;
  int threads;
  ConvEpilogue<T> epilogue = {};  // at the final store of each output value
};

enum class KernelStatus {
  ok,
  workspace_too_large,  // would exceed the per-thread workspace limit (1 GiB): ValueError upstream
  out_of_memory,        // a workspace allocation of a legal size failed: MemoryError upstream
};

// Workspace memory, allocated outside the kernel families (in a file compiled without SIMD
// flags). Returns nullptr on failure; kernels allocate before any parallel region.
void* allocate_workspace(std::size_t bytes) noexcept;
void free_workspace(void* memory) noexcept;

// Extended position e along one axis of a filter -> the input index it reads (-1: the fill):
// e + shift on the identity run [begin, end), table entries outside it (left[e] for e < begin,
// right[e - end] from end on), so a long axis costs no table of its whole length.
struct FilterAxisMap {
  std::int64_t begin = 0, end = 0, shift = 0;
  const std::int64_t* left = nullptr;   // begin entries
  const std::int64_t* right = nullptr;  // extent - end entries
  std::int64_t at(std::int64_t e) const noexcept { return e < begin ? left[e] : e < end ? e + shift : right[e - end]; }
};

// 2-D filter (fieldconv/filter2d.hpp) as the kernels see it: A is the accumulator type
// (float, double, uint32_t, uint64_t); input and output types are FilterScalar codes.
// rows / cols map extended positions to input rows / columns; extended position k corresponds
// to output position k - tap (see filter2d.cpp).
//
// N-D filters (filter_nd) add leading axes: each tap also names a depth slot, and slot s of
// output plane p reads the input plane given by `depth` (or fill rows); a work item's strip then
// holds depth_slots extended planes, one per slot.
struct FilterDepth {
  int axes = 0;                             // leading axes of the N-D array
  const std::int64_t* out_shape = nullptr;  // [axes]: output planes = their product (C order)
  const std::int64_t* plane_strides = nullptr;  // [axes]: input planes per step along each axis
  const FilterAxisMap* maps = nullptr;          // [axes]
  const std::int64_t* slot_coords = nullptr;    // [slots x axes]: the leading tap coordinates of each slot
};

template <class A>
struct Filter2dJob {
  std::int64_t planes, in_height, in_width, out_height, out_width;
  std::int64_t kernel_height, kernel_width;  // extent of the taps (max row / col + 1)
  int input_type, output_type;               // FilterScalar
  const void* input;
  void* output;
  std::int64_t tap_count;
  const std::int64_t* tap_rows;
  const std::int64_t* tap_cols;
  const A* tap_weights;
  FilterAxisMap rows, cols;  // out_height + kernel_height - 1 / out_width + kernel_width - 1 positions
  A fill;
  int threads;
  std::int64_t depth_slots = 1;
  const std::int64_t* tap_slots = nullptr;  // nullptr: every tap reads slot 0
  const FilterDepth* depth = nullptr;       // nullptr: output plane p reads input plane p
};

// 1-D filter along an axis (fieldconv/correlate1d.hpp) as the kernels see it. The array is
// C-contiguous (outer, length, inner); extended position e of a line (0 <= e < length + size - 1)
// reads input index map[e] along the axis (-1: cval); map[e] == e + shift for e in
// [identity_begin, identity_end).
struct Correlate1dJob {
  std::int64_t outer, length, inner, size;
  int input_type, output_type;  // FilterScalar
  const void* input;
  void* output;
  const double* weights;  // size taps (kind 0)
  int kind;               // 0: weights, 1: uniform (running sum)
  int symmetry;           // 1 symmetric, -1 antisymmetric, 0 neither (SciPy's test)
  const std::int64_t* map;
  std::int64_t identity_begin, identity_end, shift;
  double cval;
  int threads;
  // 1: float32 input and output, weights kind: every pass sums in float32 with fused
  // multiply-adds (weights rounded to float32; docs/scipy-deviations.md). 0: SciPy's float64
  // sums in SciPy's order without FMA, bit for bit.
  int float_sums;
  // Optional second pass along the last axis (inner > 1, weights kind), fused: each output
  // row of the first pass is converted to the output type and back (as a separate pass would
  // store and reload it), extended through map2 (inner + size2 - 1 entries, identity
  // [identity_begin2, identity_end2) shifted by shift2) and filtered with weights2 before it is
  // stored. weights2 == nullptr: no second pass.
  const double* weights2;
  std::int64_t size2;
  int symmetry2;
  const std::int64_t* map2;
  std::int64_t identity_begin2, identity_end2, shift2;
  double cval2;
  // Optional middle pass (with a second pass): each first-pass output row is a plane of
  // plane_rows x (inner / plane_rows); it is filtered along its rows (plane_weights, plane_map
  // of plane_rows + plane_size - 1 entries, -1: plane_cval) and each resulting row, converted
  // to the output type and back, goes through the second pass. plane_rows == 0: none.
  std::int64_t plane_rows;
  const double* plane_weights;
  std::int64_t plane_size;
  int plane_symmetry;
  const std::int64_t* plane_map;
  double plane_cval;
};

// Correlation of one long line with a short filter by overlap-save FFTs
// (fieldconv/fft_correlate.hpp, kernels/fft_correlate_impl.hpp): output[i] =
// sum_j input[i + j - left] * taps[j] for i < output_length (input zero outside [0, input_length)),
// with FFTs of 2^log2_size points; twiddle tables of 2^log2_size - 1 entries, the stage of span h
// (pairs h apart) at offset h - 1: cos and sin of -2 pi t / 2h for t < h.
template <class T>
struct FftCorrelateJob {
  const T* input;
  std::int64_t input_length;
  const T* taps;
  std::int64_t tap_count;  // 2^log2_size - tap_count + 1 >= the family's lanes
  T* output;
  std::int64_t output_length, left;
  int log2_size;
  const T* twiddle_cos;
  const T* twiddle_sin;
  const T* twiddle_cos3;  // 2^log2_size / 2 - 1 entries: cos and sin of -2 pi 3j / 4q for j < q at q - 1
  const T* twiddle_sin3;
  int threads;
  // Set to 1 when an output is not finite (NaN/Inf in the input, or a sum that overflowed):
  // the caller then recomputes directly, where NaN and Inf land where direct sums put them.
  int* non_finite;
};

// ---------------------------------------------------------------------------------------------
// Pooling (kernels/pool2d_impl.hpp)

template <class T>
struct Pool2dJob {
  Pool2dParams params;
  Pool2dShape shape;
  const T* input;
  T* output;
  std::int64_t* indices;          // max pooling only; may be null
  bool count_include_pad;         // average pooling only
  std::int64_t divisor_override;  // average pooling only; 0 = none
  int threads;
};

// ---------------------------------------------------------------------------------------------
// Winograd F(m x m, 3 x 3), m = 2, 4 or 6 (kernels/winograd_impl.hpp, fieldconv/winograd.hpp).

// Transformed weights U = G g G^T as the kernels see them: per group and transformed position
// (alpha^2 of them), out-channel panels of panel_width lanes, each [in_channel][lane] (lanes
// past the group's out-channels are zero).
template <class T>
struct WinogradWeightsView {
  const T* data;
  int tile;                        // m
  std::int64_t panel_width;        // 2 SIMD vectors
  std::int64_t panels_per_group;
  std::int64_t position_stride;    // panels_per_group * in_channels_per_group * panel_width
  std::int64_t group_stride;       // alpha^2 * position_stride
};

template <class T>
struct WinogradJob {
  Conv2dParams params;  // 3x3, stride 1, dilation 1 (checked by the entry point)
  Conv2dShape shape;
  const T* input;
  WinogradWeightsView<T> weight;
  const T* bias;        // may be null
  T* output;
  int threads;
  // Every transformed input value must satisfy |v| <= value_limit (false for NaN): beyond it
  // the products could overflow. The kernel sets *out_of_range = 1 when one does not, and the
  // caller then recomputes with direct convolution (so NaN/Inf land exactly where direct puts them).
  T value_limit;
  int* out_of_range;
  // At the final store, as Conv2dJob's. With a residual the kernel also sets *out_of_range when
  // a stored value is beyond largest T / 2 (or not finite): direct convolution's sum could then
  // overflow where this one does not.
  ConvEpilogue<T> epilogue = {};
};

// ---------------------------------------------------------------------------------------------
// Each family's entry points, as one struct per family (kernel_list.inc names the families).
// A family's translation unit for an ISA defines fieldconv::<isa>::<family>_kernels(), which
// returns its struct; the dispatch tables (dispatch.cpp) are made of these.

// The float32 and float64 instances of a family's functions.
template <template <class> class Functions>
struct ByFloatType {
  Functions<float> f32;
  Functions<double> f64;

  template <class T>
  const Functions<T>& of() const noexcept {
    if constexpr (sizeof(T) == sizeof(float)) return f32;
    else return f64;
  }
};

template <class T>
struct Conv2dDirectFunctions {
  KernelStatus (*blocked)(const Conv2dJob<T>&) noexcept;    // groups of several channels (1x1: pointwise)
  KernelStatus (*depthwise)(const Conv2dJob<T>&) noexcept;  // one in- and one out-channel per group
};

struct Conv2dDirectKernels {
  const char* isa;
  ByFloatType<Conv2dDirectFunctions> functions;
  std::int64_t vector_bytes;  // one SIMD vector of this ISA
  std::int64_t block_bytes;   // preferred bytes of out-channels per packed weight block
  // Float32 multiply-adds per nanosecond one thread of this direct conv sustains on mid-sized
  // layers (a conservative round figure): turns operation counts into the work estimates that
  // decide how many threads a call is worth (threads_for_work).
  double macs_per_ns;
  // FMA throughput probe of this ISA (fma_probe_impl.hpp); returns a sink value.
  float (*fma_probe)(std::int64_t iterations, int* flops_per_iteration) noexcept;
};

template <class T>
struct WinogradFunctions {
  KernelStatus (*run)(const WinogradJob<T>&) noexcept;
};

// The Winograd kernel's scratch budgets and blocking (winograd_impl.hpp), for the cost model
// that chooses algorithms (fieldconv's planner reads them through _core.kernel_constants()).
struct WinogradBudgets {
  std::int64_t vector_bytes;                            // one SIMD vector: the channels a transform takes at once
  std::int64_t v_budget_min_bytes, v_budget_max_bytes;  // transformed inputs of one block of tiles
  std::int64_t m_budget_bytes;                          // GEMM results of a block and out-channel chunk
  std::int64_t max_block_tiles;
  std::int64_t gemm_rows;          // tiles per microkernel call
  std::int64_t min_chunk_panels;   // out-channel panels per chunk, at least
};

struct WinogradKernels {
  const char* isa;
  ByFloatType<WinogradFunctions> functions;
  WinogradBudgets budgets;
};

template <class T>
struct Pool2dFunctions {
  KernelStatus (*max)(const Pool2dJob<T>&) noexcept;
  KernelStatus (*avg)(const Pool2dJob<T>&) noexcept;
};

struct Pool2dKernels {
  const char* isa;
  ByFloatType<Pool2dFunctions> functions;
};

struct Filter2dKernels {
  const char* isa;
  KernelStatus (*f32)(const Filter2dJob<float>&) noexcept;
  KernelStatus (*f64)(const Filter2dJob<double>&) noexcept;
  KernelStatus (*u32)(const Filter2dJob<std::uint32_t>&) noexcept;
  KernelStatus (*u64)(const Filter2dJob<std::uint64_t>&) noexcept;
};

struct Correlate1dKernels {
  const char* isa;
  KernelStatus (*lines)(const Correlate1dJob&) noexcept;
};

struct FftCorrelateKernels {
  const char* isa;
  KernelStatus (*f32)(const FftCorrelateJob<float>&) noexcept;
  KernelStatus (*f64)(const FftCorrelateJob<double>&) noexcept;
  int lanes_f32, lanes_f64;  // sequences transformed at once (blocks: twice as many)
  // Nanoseconds per vector operation of one thread (a point through a radix-2 stage, the
  // transposes and product included), batches in L1: the cost model's rate (fft_correlate_plan).
  double ns_per_operation_f32, ns_per_operation_f64;
};

// The entry struct of each family, by the family's name in kernel_list.inc.
namespace family_entry {
using conv2d_direct = Conv2dDirectKernels;
using winograd = WinogradKernels;
using pool2d = Pool2dKernels;
using filter2d = Filter2dKernels;
using correlate1d = Correlate1dKernels;
using fft_correlate = FftCorrelateKernels;
}  // namespace family_entry

#define FIELDCONV_KERNEL(family, isa)               \
  namespace isa {                                   \
  family_entry::family family##_kernels() noexcept; \
  }
#include "kernels/kernel_list.inc"
#undef FIELDCONV_KERNEL

}  // namespace fieldconv
