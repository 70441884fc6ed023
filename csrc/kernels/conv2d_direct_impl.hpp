// Direct 2-D convolution, one implementation for every kernel family. Included by
// conv2d_direct_<isa>.cpp inside that family's namespace, after Simd<T> is defined.
//
// Blocked kernel (oneDNN's AVX2 direct scheme, reading NCHW directly): vectorise over output
// channels, register-block over output pixels. For one block of 2 vectors of output channels
// and 6 output pixels (AVX2; 12 with AVX-512's 32 registers) the microkernel keeps 12 (24)
// accumulators, and for every (input channel, kh, kw) loads 2 weight vectors and broadcasts
// one input value per pixel. The output pixels of a tile are flattened (a segment may cross
// rows), so small maps (7x7) waste no lanes.
// Work is split into items = (image, group, output tile, out-channel range); an item copies
// the zero-padded input rows it needs, one cache block of input channels at a time (a "strip"),
// and accumulates into a tile buffer in [block][pixel][lane] order that is transposed into the
// NCHW output once at the end. Padded positions are real multiplications by zero (as PyTorch).
//
// Depthwise kernel (one input channel per group): vectorise along output rows, weights
// broadcast; the strip is split into stride phases so every tap is one contiguous vector load.

#include <cstdint>
#include <cstring>

#include "kernels/kernel_support.hpp"
#include "kernels/kernels.hpp"
#include "parallel.hpp"
#include "kernels/epilogue_impl.hpp"
#include "kernels/conv2d_pointwise_impl.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Per-thread workspace budgets, sized to this class of CPU (32 KiB L1d, 512 KiB L2 per core).
constexpr i64 block_weight_budget_bytes = 32 * 1024;  // one block's weights for one channel chunk
constexpr i64 strip_budget_bytes = 192 * 1024;        // one channel chunk of the padded input tile
constexpr i64 tile_budget_bytes = 256 * 1024;         // accumulators of one item
// Strips of every tile, built once and shared when out-channels are split across items (small
// maps, where splits would otherwise rebuild the same strip per split), up to this size.
constexpr i64 shared_strips_budget_bytes = 16 * 1024 * 1024;
constexpr i64 target_tile_pixels = 512;
// A dilated window wider than this is stored compactly (only the rows/columns taps touch).
constexpr i64 compact_window_threshold = 64;
// Refuse (std::invalid_argument upstream) rather than allocate more than this per thread.
constexpr i64 max_thread_workspace_bytes = i64{1} << 30;

// Rows (or columns) of a strip: input index of strip position i is origin + i * gap.
struct StripAxis {
  i64 tile;      // outputs per tile along this axis
  i64 tiles;     // tiles along this axis
  i64 extent;    // strip positions for a full tile
  i64 gap;       // 1, or the dilation when stored compactly
  i64 tap_step;  // strip positions from one kernel tap to the next
  i64 out_step;  // strip positions from one output to the next
};

StripAxis plan_axis(i64 outputs, i64 kernel, i64 stride, i64 dilation, i64 max_tile, bool allow_compact) {
  StripAxis axis{};
  const i64 window = (kernel - 1) * dilation + 1;
  if (allow_compact && dilation > 1 && window > compact_window_threshold) {
    // Only the taps' own rows are stored; one output per tile along this axis.
    axis.tile = 1;
    axis.gap = dilation;
    axis.extent = kernel;
    axis.tap_step = 1;
    axis.out_step = 0;
  } else {
    axis.tile = max_i64(1, min_i64(outputs, max_tile));
    axis.gap = 1;
    axis.extent = (axis.tile - 1) * stride + window;
    axis.tap_step = dilation;
    axis.out_step = stride;
  }
  axis.tiles = ceil_div(outputs, axis.tile);
  return axis;
}

// Copies input rows/columns of one plane into a strip, zero outside the image. The strip
// position (i, j) holds input (row_origin + i * rows.gap, col_origin + j * cols.gap).
template <class T>
void fill_strip_plane(const T* plane, i64 height, i64 width, i64 row_origin, i64 row_count, i64 row_gap, i64 col_origin,
                      i64 col_count, i64 col_gap, T* strip, i64 strip_pitch) {
  for (i64 i = 0; i < row_count; ++i) {
    T* dst = strip + i * strip_pitch;
    const i64 row = row_origin + i * row_gap;
    if (row < 0 || row >= height) {
      std::memset(static_cast<void*>(dst), 0, sizeof(T) * col_count);
      continue;
    }
    const T* src = plane + row * width;
    if (col_gap == 1) {
      // [zeros][copy][zeros]
      const i64 first = min_i64(col_count, max_i64(0, -col_origin));
      const i64 last = max_i64(first, min_i64(col_count, width - col_origin));
      if (first > 0) std::memset(static_cast<void*>(dst), 0, sizeof(T) * first);
      if (last > first)
        std::memcpy(static_cast<void*>(dst + first), src + col_origin + first, sizeof(T) * (last - first));
      if (col_count > last) std::memset(static_cast<void*>(dst + last), 0, sizeof(T) * (col_count - last));
    } else {
      for (i64 j = 0; j < col_count; ++j) {
        const i64 col = col_origin + j * col_gap;
        dst[j] = (col >= 0 && col < width) ? src[col] : T(0);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked kernel

// Accumulates P output pixels x V vectors of output channels over `steps` (input channel, kh,
// kw) taps. acc_tile holds the P x (V * lanes) accumulators; init, if given, replaces them
// (the bias, for the first channel chunk).
template <class T, int P, int V>
void direct_microkernel(const T* strip, const i64* pixel_offsets, const i64* step_offsets, i64 steps, const T* weights,
                        T* acc_tile, const T* init) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  typename S::vec acc[P][V];
  if (init != nullptr) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const typename S::vec b = S::load(init + v * L);
#pragma GCC unroll 16
      for (int j = 0; j < P; ++j) acc[j][v] = b;
    }
  } else {
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[j][v] = S::load(acc_tile + (j * V + v) * L);
  }
  const T* base[P];
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j) {
    base[j] = strip + pixel_offsets[j];
    // Keep each pixel's address in a register so a broadcast is one [base + offset] load
    // (GCC otherwise re-associates strip + pixel + offset into extra integer ops per tap).
    asm("" : "+r"(base[j]));
  }

  for (i64 s = 0; s < steps; ++s) {
    const i64 offset = step_offsets[s];
    typename S::vec w[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) w[v] = S::load(weights + v * L);
    weights += V * L;
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j) {
      const typename S::vec x = S::broadcast(base[j] + offset);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[j][v] = S::fma(x, w[v], acc[j][v]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) S::store(acc_tile + (j * V + v) * L, acc[j][v]);
}

// Output pixels per microkernel call with V vectors of output channels: as many accumulators
// as the register file holds beside V weight vectors and one broadcast (AVX2: 6 x 2 vectors;
// AVX-512: 12 x 2), capped where more pixels stop paying for themselves.
template <int V>
constexpr int segment_pixels() {
  constexpr int fit = (simd_registers - V - 1) / V;
  constexpr int cap = simd_registers >= 32 ? 12 : 8;
  return fit < cap ? fit : cap;
}

inline int segment_pixels_for(i64 vectors) {
  return vectors == 1 ? segment_pixels<1>() : vectors == 2 ? segment_pixels<2>() : segment_pixels<4>();
}

template <class T>
using DirectMicrokernel = void (*)(const T*, const i64*, const i64*, i64, const T*, T*, const T*);

template <class T, int V, int P = 1>
DirectMicrokernel<T> direct_microkernel_for(int pixels) {
  if constexpr (P >= segment_pixels<V>()) {
    return &direct_microkernel<T, P, V>;
  } else {
    return pixels <= P ? &direct_microkernel<T, P, V> : direct_microkernel_for<T, V, P + 1>(pixels);
  }
}

template <class T>
DirectMicrokernel<T> direct_microkernel_for_vectors(i64 vectors, int pixels) {
  if (vectors == 1) return direct_microkernel_for<T, 1>(pixels);
  if (vectors == 2) return direct_microkernel_for<T, 2>(pixels);
  return direct_microkernel_for<T, 4>(pixels);
}

template <class T>
struct DirectPlan {
  i64 vectors;                     // V: SIMD vectors per block of output channels
  i64 chunk_channels, chunk_count;  // cache blocking over input channels
  StripAxis rows, cols;
  bool copy_input;                 // false when there is no padding: read the input in place
  bool shared_strips;              // strips built once for all out-channel splits of a tile
  i64 strip_pitch, strip_plane;    // strides of the strip (or of the input)
  i64 tile_pixels;                 // of a full tile
  i64 blocks_per_item, oc_splits;
  i64 item_count;
  i64 strip_elements, tile_elements;  // per-thread workspace
};

template <class T>
bool plan_direct(const Conv2dJob<T>& job, DirectPlan<T>& plan) {
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  const i64 block_width = job.weight.block_width;
  const i64 taps = p.kernel_height * p.kernel_width;
  plan.vectors = block_width / Simd<T>::lanes;

  const i64 max_chunk = max_i64(1, block_weight_budget_bytes / (block_width * taps * i64(sizeof(T))));
  plan.chunk_count = ceil_div(s.in_channels_per_group, max_chunk);
  plan.chunk_channels = ceil_div(s.in_channels_per_group, plan.chunk_count);

  plan.copy_input = p.pad_top || p.pad_bottom || p.pad_left || p.pad_right;
  const i64 max_tile_cols = 256;
  plan.cols = plan_axis(s.out_width, p.kernel_width, p.stride_width, p.dilation_width, max_tile_cols, plan.copy_input);
  i64 max_tile_rows = max_i64(1, target_tile_pixels / plan.cols.tile);
  if (plan.copy_input) {
    // Keep one chunk of the strip within budget: shrink tile rows, then the chunk.
    const i64 row_bytes = plan.cols.extent * i64(sizeof(T)) * plan.chunk_channels;
    while (max_tile_rows > 1 &&
           ((max_tile_rows - 1) * p.stride_height + (p.kernel_height - 1) * p.dilation_height + 1) * row_bytes >
               strip_budget_bytes)
      max_tile_rows = max_tile_rows / 2;
  }
  plan.rows =
      plan_axis(s.out_height, p.kernel_height, p.stride_height, p.dilation_height, max_tile_rows, plan.copy_input);
  if (!plan.copy_input) {
    plan.strip_pitch = p.in_width;
    plan.strip_plane = p.in_height * p.in_width;
    plan.strip_elements = 0;
  } else {
    plan.strip_pitch = plan.cols.extent;
    if (plan.rows.extent > max_thread_workspace_bytes / i64(sizeof(T)) / plan.cols.extent) return false;
    plan.strip_plane = plan.rows.extent * plan.cols.extent;
    while (plan.chunk_channels > 1 && plan.chunk_channels * plan.strip_plane * i64(sizeof(T)) > strip_budget_bytes) {
      plan.chunk_count = ceil_div(s.in_channels_per_group, ceil_div(plan.chunk_channels, 2));
      plan.chunk_channels = ceil_div(s.in_channels_per_group, plan.chunk_count);
    }
    plan.strip_elements = plan.chunk_channels * plan.strip_plane;
  }
  plan.tile_pixels = plan.rows.tile * plan.cols.tile;

  // Out-channel ranges: whole group per item unless the accumulators outgrow the L2 budget or
  // there are too few spatial items to keep every thread busy.
  const i64 blocks = job.weight.blocks_per_group;
  const i64 spatial_items = p.batch * p.groups * plan.rows.tiles * plan.cols.tiles;
  const i64 block_bytes = plan.tile_pixels * block_width * i64(sizeof(T));
  i64 splits = ceil_div(blocks * block_bytes, tile_budget_bytes);
  if (spatial_items < 4 * i64(job.threads)) splits = max_i64(splits, ceil_div(4 * i64(job.threads), spatial_items));
  splits = max_i64(1, min_i64(splits, blocks));
  plan.blocks_per_item = ceil_div(blocks, splits);
  plan.oc_splits = ceil_div(blocks, plan.blocks_per_item);
  plan.item_count = spatial_items * plan.oc_splits;
  plan.tile_elements = plan.blocks_per_item * plan.tile_pixels * block_width;
  plan.shared_strips =
      plan.copy_input && plan.oc_splits > 1 &&
      plan.strip_elements <= shared_strips_budget_bytes / i64(sizeof(T)) / spatial_items / plan.chunk_count;

  const i64 per_thread_bytes =
      ((plan.shared_strips ? 0 : plan.strip_elements) + plan.tile_elements + block_width) * i64(sizeof(T)) +
      plan.tile_pixels * i64(sizeof(i64)) + 3 * 64;
  return per_thread_bytes <= max_thread_workspace_bytes;
}

template <class T>
KernelStatus direct_blocked(const Conv2dJob<T>& job) noexcept {
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  if (s.output_elements == 0) return KernelStatus::ok;
  DirectPlan<T> plan{};
  if (!plan_direct(job, plan)) return KernelStatus::workspace_too_large;

  const i64 block_width = job.weight.block_width;
  const i64 taps = p.kernel_height * p.kernel_width;
  const i64 steps_per_chunk = plan.chunk_channels * taps;
  const int threads = int(min_i64(job.threads, plan.item_count));

  // Shared: offsets of every (channel in chunk, kh, kw) tap relative to a pixel's window.
  Workspace step_memory(sizeof(i64) * steps_per_chunk);
  // Per thread: strip, accumulator tile, pixel offsets, initial (bias) block; each 64-byte aligned.
  const auto round_up = [](i64 bytes) { return (bytes + 63) / 64 * 64; };
  const i64 strip_bytes = plan.shared_strips ? 0 : round_up(plan.strip_elements * i64(sizeof(T)));
  const i64 tile_bytes = round_up(plan.tile_elements * i64(sizeof(T)));
  const i64 offsets_bytes = round_up(plan.tile_pixels * i64(sizeof(i64)));
  const i64 init_bytes = round_up(block_width * i64(sizeof(T)));
  const i64 thread_bytes = strip_bytes + tile_bytes + offsets_bytes + init_bytes;
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  if (step_memory.get() == nullptr || thread_memory.get() == nullptr) return KernelStatus::out_of_memory;

  i64* step_offsets = static_cast<i64*>(step_memory.get());
  for (i64 c = 0, step = 0; c < plan.chunk_channels; ++c)
    for (i64 kh = 0; kh < p.kernel_height; ++kh)
      for (i64 kw = 0; kw < p.kernel_width; ++kw)
        step_offsets[step++] =
            c * plan.strip_plane + kh * plan.rows.tap_step * plan.strip_pitch + kw * plan.cols.tap_step;

  const i64 in_plane = p.in_height * p.in_width;
  const i64 out_plane = s.out_height * s.out_width;

  // Copies one channel chunk of the zero-padded input window of a tile into a strip.
  const auto fill_strip = [&](i64 image, i64 group, i64 row_tile, i64 col_tile, i64 chunk, T* strip) {
    const i64 oh0 = row_tile * plan.rows.tile, ow0 = col_tile * plan.cols.tile;
    const i64 tile_rows = min_i64(plan.rows.tile, s.out_height - oh0);
    const i64 tile_cols = min_i64(plan.cols.tile, s.out_width - ow0);
    const i64 row_count = plan.rows.gap == 1
                              ? (tile_rows - 1) * p.stride_height + (p.kernel_height - 1) * p.dilation_height + 1
                              : plan.rows.extent;
    const i64 col_count = plan.cols.gap == 1
                              ? (tile_cols - 1) * p.stride_width + (p.kernel_width - 1) * p.dilation_width + 1
                              : plan.cols.extent;
    const i64 c0 = chunk * plan.chunk_channels;
    const i64 channels = min_i64(plan.chunk_channels, s.in_channels_per_group - c0);
    const T* chunk_input = job.input + (image * p.in_channels + group * s.in_channels_per_group + c0) * in_plane;
    for (i64 c = 0; c < channels; ++c)
      fill_strip_plane(chunk_input + c * in_plane, p.in_height, p.in_width, oh0 * p.stride_height - p.pad_top,
                       row_count, plan.rows.gap, ow0 * p.stride_width - p.pad_left, col_count, plan.cols.gap,
                       strip + c * plan.strip_plane, plan.strip_pitch);
  };
  const i64 spatial_items = plan.item_count / plan.oc_splits;
  Workspace shared_memory(plan.shared_strips ? sizeof(T) * spatial_items * plan.chunk_count * plan.strip_elements : 0);
  if (plan.shared_strips) {
    if (shared_memory.get() == nullptr) return KernelStatus::out_of_memory;
    T* shared = static_cast<T*>(shared_memory.get());
    // A copy of at most a few MB (the shared budget is 16 MiB): a second thread gains little on
    // it and would be one more team whose helper can join late.
    const i64 shared_bytes = spatial_items * plan.chunk_count * plan.strip_elements * i64(sizeof(T));
    const int fill_threads = shared_bytes >= (i64{4} << 20) ? threads : 1;
    parallel_for(spatial_items * plan.chunk_count, fill_threads, [&](i64 index, int) {
      const i64 chunk = index % plan.chunk_count;
      i64 rest = index / plan.chunk_count;
      const i64 col_tile = rest % plan.cols.tiles;
      rest /= plan.cols.tiles;
      const i64 row_tile = rest % plan.rows.tiles;
      rest /= plan.rows.tiles;
      fill_strip(rest / p.groups, rest % p.groups, row_tile, col_tile, chunk, shared + index * plan.strip_elements);
    });
  }

  const int segment = segment_pixels_for(plan.vectors);
  const DirectMicrokernel<T> full_kernel = direct_microkernel_for_vectors<T>(plan.vectors, segment);

  parallel_for(plan.item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* strip_buffer = reinterpret_cast<T*>(memory);
    T* tile = reinterpret_cast<T*>(memory + strip_bytes);
    i64* pixel_offsets = reinterpret_cast<i64*>(memory + strip_bytes + tile_bytes);
    T* init_block = reinterpret_cast<T*>(memory + strip_bytes + tile_bytes + offsets_bytes);

    const i64 split = item % plan.oc_splits;
    i64 rest = item / plan.oc_splits;
    const i64 col_tile = rest % plan.cols.tiles;
    rest /= plan.cols.tiles;
    const i64 row_tile = rest % plan.rows.tiles;
    rest /= plan.rows.tiles;
    const i64 group = rest % p.groups;
    const i64 image = rest / p.groups;

    const i64 oh0 = row_tile * plan.rows.tile, ow0 = col_tile * plan.cols.tile;
    const i64 tile_rows = min_i64(plan.rows.tile, s.out_height - oh0);
    const i64 tile_cols = min_i64(plan.cols.tile, s.out_width - ow0);
    const i64 pixels = tile_rows * tile_cols;
    const i64 block0 = split * plan.blocks_per_item;
    const i64 block_count = min_i64(plan.blocks_per_item, job.weight.blocks_per_group - block0);

    for (i64 r = 0, pixel = 0; r < tile_rows; ++r)
      for (i64 c = 0; c < tile_cols; ++c)
        pixel_offsets[pixel++] = r * plan.rows.out_step * plan.strip_pitch + c * plan.cols.out_step;

    const T* group_input = job.input + (image * p.in_channels + group * s.in_channels_per_group) * in_plane;
    const i64 spatial_index = item / plan.oc_splits;

    for (i64 chunk = 0; chunk < plan.chunk_count; ++chunk) {
      const i64 c0 = chunk * plan.chunk_channels;
      const i64 channels = min_i64(plan.chunk_channels, s.in_channels_per_group - c0);
      const T* strip;
      if (plan.shared_strips) {
        strip = static_cast<const T*>(shared_memory.get()) +
                (spatial_index * plan.chunk_count + chunk) * plan.strip_elements;
      } else if (plan.copy_input) {
        fill_strip(image, group, row_tile, col_tile, chunk, strip_buffer);
        strip = strip_buffer;
      } else {
        // no padding: the tile's window read in place (its origin is inside the image)
        strip = group_input + c0 * in_plane + (oh0 * p.stride_height) * p.in_width + ow0 * p.stride_width;
      }
      const i64 steps = channels * taps;
      for (i64 b = 0; b < block_count; ++b) {
        const i64 block = block0 + b;
        const T* weights = job.weight.data + (group * job.weight.blocks_per_group + block) * job.weight.block_stride +
                           c0 * taps * block_width;
        // The first chunk starts from the bias (zero-padded past the group's last channel).
        const T* init = nullptr;
        if (chunk == 0) {
          const i64 oc0 = block * block_width;
          for (i64 l = 0; l < block_width; ++l)
            init_block[l] = (job.bias != nullptr && oc0 + l < s.out_channels_per_group)
                                ? job.bias[group * s.out_channels_per_group + oc0 + l]
                                : T(0);
          init = init_block;
        }
        T* block_tile = tile + b * plan.tile_pixels * block_width;
        // Full segments; a short remainder is merged with the last full segment and split in
        // two near-equal halves, since a kernel with few pixels is load-bound.
        const i64 remainder = pixels % segment;
        i64 full_end = pixels - remainder;
        if (remainder != 0 && 2 * remainder < segment && full_end >= segment) full_end -= segment;
        // Prefetch the next weight slice into L2 a share per segment: with few pixels per
        // item (7x7 maps) the weights come from memory and would stall the first segment.
        const char* next_weights = reinterpret_cast<const char*>(
            b + 1 < block_count
                ? weights + job.weight.block_stride
                : job.weight.data + (group * job.weight.blocks_per_group + block0) * job.weight.block_stride +
                      (c0 + channels) * taps * block_width);
        const bool prefetch = b + 1 < block_count || chunk + 1 < plan.chunk_count;
        const i64 slice_lines = steps * block_width * i64(sizeof(T)) / 64;
        const i64 segments = ceil_div(pixels, segment);
        const i64 lines_per_segment = ceil_div(slice_lines, segments);
        i64 prefetched = 0;
        const auto prefetch_share = [&]() {
          if (!prefetch) return;
          const i64 end = min_i64(slice_lines, prefetched + lines_per_segment);
          for (; prefetched < end; ++prefetched) __builtin_prefetch(next_weights + prefetched * 64, 0, 2);
        };
        i64 pixel = 0;
        for (; pixel < full_end; pixel += segment) {
          prefetch_share();
          full_kernel(strip, pixel_offsets + pixel, step_offsets, steps, weights, block_tile + pixel * block_width,
                      init);
        }
        while (pixel < pixels) {
          const i64 left = pixels - pixel;
          const int count = int(left > segment ? (left + 1) / 2 : left);
          const DirectMicrokernel<T> kernel = direct_microkernel_for_vectors<T>(plan.vectors, count);
          prefetch_share();
          kernel(strip, pixel_offsets + pixel, step_offsets, steps, weights, block_tile + pixel * block_width, init);
          pixel += count;
        }
      }
    }

    // Transpose the [block][pixel][lane] accumulators into the NCHW output, 16 pixels at a
    // time so the rows being read stay in L1 while every channel's run is written; then the
    // epilogue, over each channel's rows of the tile (whole rows: the residual is read in
    // runs the prefetchers follow).
    constexpr i64 run = 16;
    const bool epilogue = epilogue_active(job.epilogue);
    for (i64 b = 0; b < block_count; ++b) {
      const i64 oc0 = (block0 + b) * block_width;
      const i64 lanes_used = min_i64(block_width, s.out_channels_per_group - oc0);
      const T* block_tile = tile + b * plan.tile_pixels * block_width;
      const i64 out_offset =
          (image * p.out_channels + group * s.out_channels_per_group + oc0) * out_plane + oh0 * s.out_width + ow0;
      T* out = job.output + out_offset;
      const T* residual = job.epilogue.residual != nullptr ? job.epilogue.residual + out_offset : nullptr;
      for (i64 r = 0; r < tile_rows; ++r)
        for (i64 c0 = 0; c0 < tile_cols; c0 += run) {
          const i64 count = min_i64(run, tile_cols - c0);
          const T* src = block_tile + (r * tile_cols + c0) * block_width;
          const i64 at = r * s.out_width + c0;
          T* dst = out + at;
          for (i64 l = 0; l < lanes_used; ++l)
            for (i64 k = 0; k < count; ++k) dst[l * out_plane + k] = src[k * block_width + l];
        }
      if (epilogue)
        for (i64 l = 0; l < lanes_used; ++l)
          for (i64 r = 0; r < tile_rows; ++r) {
            const i64 at = l * out_plane + r * s.out_width;
            epilogue_span(out + at, residual != nullptr ? residual + at : nullptr, tile_cols, job.epilogue.activation);
          }
    }
  });
  return KernelStatus::ok;
}

// ---------------------------------------------------------------------------------------------
// Depthwise kernel: groups with one input channel each (any channel multiplier).

// One output row segment of U vectors: U independent FMA chains (a 3x3 tap chain alone is
// latency-bound). The last vector may be partial: it is computed whole (the strip has a
// zeroed slack of one vector) and only its first `valid_last` lanes are stored.
template <class T, int U>
void depthwise_row_segment(const T* strip_row, const i64* tap_offsets, i64 taps, const T* weights, T bias, T* out,
                           i64 valid_last) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  typename S::vec acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = S::set1(bias);
  for (i64 t = 0; t < taps; ++t) {
    const T* src = strip_row + tap_offsets[t];
    const typename S::vec w = S::broadcast(weights + t);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = S::fma(S::load(src + u * L), w, acc[u]);
  }
#pragma GCC unroll 8
  for (int u = 0; u < U - 1; ++u) S::store(out + u * L, acc[u]);
  if (valid_last == L) {
    S::store(out + (U - 1) * L, acc[U - 1]);
  } else {
    T last[L];
    S::store(last, acc[U - 1]);
    for (i64 l = 0; l < valid_last; ++l) out[(U - 1) * L + l] = last[l];
  }
}

template <class T>
using DepthwiseRowKernel = void (*)(const T*, const i64*, i64, const T*, T, T*, i64);

template <class T>
DepthwiseRowKernel<T> depthwise_row_kernel_for(i64 vectors) {
  switch (vectors) {
    case 1: return &depthwise_row_segment<T, 1>;
    case 2: return &depthwise_row_segment<T, 2>;
    case 3: return &depthwise_row_segment<T, 3>;
    case 4: return &depthwise_row_segment<T, 4>;
    case 5: return &depthwise_row_segment<T, 5>;
    case 6: return &depthwise_row_segment<T, 6>;
    case 7: return &depthwise_row_segment<T, 7>;
    default: return &depthwise_row_segment<T, 8>;
  }
}

template <class T>
KernelStatus depthwise(const Conv2dJob<T>& job) noexcept {
  constexpr i64 L = Simd<T>::lanes;
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  if (s.output_elements == 0) return KernelStatus::ok;
  const i64 kh_count = p.kernel_height, kw_count = p.kernel_width, taps = kh_count * kw_count;
  const i64 sw = p.stride_width;

  // Tile: all output columns (up to 1024) x as many rows as keep the strip within budget.
  const StripAxis cols = plan_axis(s.out_width, kw_count, sw, p.dilation_width, 1024, true);
  // Strip columns, stored as `phases` interleaved sequences: phase ph, index j holds strip
  // column j * phases + ph, so output column c at tap kw reads index c + tap / phases.
  const i64 phases = cols.gap == 1 ? sw : 1;
  const i64 phase_len = cols.gap == 1 ? cols.tile + ((kw_count - 1) * p.dilation_width) / sw + 1 : kw_count;
  const i64 strip_pitch = phases * phase_len;
  const i64 max_rows = max_i64(1, strip_budget_bytes / (strip_pitch * i64(sizeof(T))) / max_i64(1, p.stride_height));
  const StripAxis rows = plan_axis(s.out_height, kh_count, p.stride_height, p.dilation_height, max_rows, true);
  if (rows.extent > max_thread_workspace_bytes / i64(sizeof(T)) / strip_pitch) return KernelStatus::workspace_too_large;
  const i64 strip_elements = rows.extent * strip_pitch;
  const i64 item_count = p.batch * p.out_channels * rows.tiles * cols.tiles;
  const int threads = int(min_i64(job.threads, item_count));
  // one vector of zeroed slack: partial last vectors read (and discard) past the strip
  const i64 strip_bytes = ((strip_elements + L) * i64(sizeof(T)) + 63) / 64 * 64;
  const i64 row_buffer_bytes = (cols.extent * i64(sizeof(T)) + 63) / 64 * 64;
  const i64 thread_bytes = strip_bytes + row_buffer_bytes;
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  // Offset of every tap in the strip relative to output (0, 0), computed once.
  Workspace tap_memory(sizeof(i64) * taps);
  if (thread_memory.get() == nullptr || tap_memory.get() == nullptr) return KernelStatus::out_of_memory;
  i64* tap_offsets = static_cast<i64*>(tap_memory.get());
  for (i64 kh = 0; kh < kh_count; ++kh)
    for (i64 kw = 0; kw < kw_count; ++kw) {
      const i64 tap = kw * cols.tap_step;
      tap_offsets[kh * kw_count + kw] = kh * rows.tap_step * strip_pitch + (tap % phases) * phase_len + tap / phases;
    }

  const i64 in_plane = p.in_height * p.in_width, out_plane = s.out_height * s.out_width;
  const i64 multiplier = s.out_channels_per_group;

  parallel_for(item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* strip = reinterpret_cast<T*>(memory);
    T* row_buffer = reinterpret_cast<T*>(memory + strip_bytes);
    std::memset(static_cast<void*>(strip + strip_elements), 0, sizeof(T) * L);
    const i64 col_tile = item % cols.tiles;
    i64 rest = item / cols.tiles;
    const i64 row_tile = rest % rows.tiles;
    rest /= rows.tiles;
    const i64 channel = rest % p.out_channels;
    const i64 image = rest / p.out_channels;
    const i64 oh0 = row_tile * rows.tile, ow0 = col_tile * cols.tile;
    const i64 tile_rows = min_i64(rows.tile, s.out_height - oh0);
    const i64 tile_cols = min_i64(cols.tile, s.out_width - ow0);
    const T* plane = job.input + (image * p.in_channels + channel / multiplier) * in_plane;
    const T* weights = job.weight.data + channel * taps;
    const T bias = job.bias != nullptr ? job.bias[channel] : T(0);

    // Strip: input rows of the tile, each split into stride phases.
    const i64 row_count =
        rows.gap == 1 ? (tile_rows - 1) * p.stride_height + (kh_count - 1) * p.dilation_height + 1 : rows.extent;
    const i64 col_count = cols.gap == 1 ? (tile_cols - 1) * sw + (kw_count - 1) * p.dilation_width + 1 : cols.extent;
    const i64 row_origin = oh0 * p.stride_height - p.pad_top;
    const i64 col_origin = ow0 * sw - p.pad_left;
    if (phases == 1) {
      fill_strip_plane(plane, p.in_height, p.in_width, row_origin, row_count, rows.gap, col_origin, col_count, cols.gap,
                       strip, strip_pitch);
    } else {
      for (i64 i = 0; i < row_count; ++i) {
        fill_strip_plane(plane, p.in_height, p.in_width, row_origin + i * rows.gap, 1, 1, col_origin, col_count,
                         cols.gap, row_buffer, col_count);
        T* dst = strip + i * strip_pitch;
        for (i64 ph = 0; ph < phases; ++ph)
          for (i64 j = ph, k = 0; j < col_count; j += phases, ++k) dst[ph * phase_len + k] = row_buffer[j];
      }
    }

    const i64 out_offset = (image * p.out_channels + channel) * out_plane + oh0 * s.out_width + ow0;
    T* out = job.output + out_offset;
    const T* residual = job.epilogue.residual != nullptr ? job.epilogue.residual + out_offset : nullptr;
    const bool epilogue = epilogue_active(job.epilogue);
    constexpr i64 max_vectors = 8;
    for (i64 r = 0; r < tile_rows; ++r) {
      T* out_row = out + r * s.out_width;
      const T* strip_row = strip + r * rows.out_step * strip_pitch;
      for (i64 c = 0; c < tile_cols; c += max_vectors * L) {
        const i64 count = min_i64(max_vectors * L, tile_cols - c);
        const i64 vectors = ceil_div(count, L);
        depthwise_row_kernel_for<T>(vectors)(strip_row + c, tap_offsets, taps, weights, bias, out_row + c,
                                             count - (vectors - 1) * L);
        // over the segment just stored (in L1)
        if (epilogue)
          epilogue_span(out_row + c, residual != nullptr ? residual + r * s.out_width + c : nullptr, count,
                        job.epilogue.activation);
      }
    }
  });
  return KernelStatus::ok;
}

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv

#include "kernels/conv2d_rows_impl.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {

template <class T>
KernelStatus conv2d_direct_blocked(const Conv2dJob<T>& job) noexcept {
  if (pointwise_applies(job)) return pointwise(job);
  if constexpr (rows_kernel_enabled) {
    if (rows_applies(job)) return rows(job);
  }
  return direct_blocked(job);
}
template <class T>
KernelStatus conv2d_depthwise(const Conv2dJob<T>& job) noexcept {
  return depthwise(job);
}

Conv2dDirectKernels conv2d_direct_kernels() noexcept {
  return {kernel_isa_name,
          {{&conv2d_direct_blocked<float>, &conv2d_depthwise<float>},
           {&conv2d_direct_blocked<double>, &conv2d_depthwise<double>}},
          std::int64_t(sizeof(typename Simd<float>::vec)),
          direct_block_bytes,
          direct_macs_per_ns,
          &fma_probe};
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
