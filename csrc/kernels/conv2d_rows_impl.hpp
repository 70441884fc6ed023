// Row kernel: direct convolution with few input channels (a CNN's RGB stem, 3 -> 64 7x7/2), one
// implementation for every SIMD kernel family. Included by conv2d_direct_impl.hpp, inside the
// family's namespace, after the strip helpers (plan_axis, fill_strip_plane).
//
// The blocked kernel vectorises over out-channels and transposes its accumulator tile into NCHW
// at the end; with 3 input channels there are only 147 multiply-adds per output value, and the
// transpose and the tile's round trip are a large share of the call. Here the output is
// vectorised along its rows, as in the depthwise kernel: each input row of the strip is split
// into stride phases, so tap (kh, kw) of NV x lanes consecutive outputs is NV contiguous vector
// loads, and MR out-channels' weights are broadcast (MR x NV accumulators: 4 x 6 with 32
// registers; families with 16 keep the blocked kernel, see rows_kernel_enabled). The vectors are
// stored straight into the output rows, with the epilogue applied in registers. Sums run over
// (in-channel, kh, kw) from the bias, in the blocked kernel's order, so both give the same bits.

#include <cstdint>
#include <cstring>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Input channels up to which the row kernel runs (the whole strip of every channel is read for
// each output row, and the weights of all out-channels are re-read per row).
constexpr i64 rows_max_in_channels = 4;

// Only for 32 vector registers: with 16 (AVX2), 4 x 3 accumulators, 3 row vectors and a
// broadcast fill the register file, and the stem ran 2.3x slower than the blocked kernel (5.5
// against 2.4 ms on one Zen 4 core), so those families keep the blocked kernel.
constexpr bool rows_kernel_enabled = simd_registers >= 32;

template <class T>
struct RowsShape {
  static constexpr int mr = 4;      // out-channels per microkernel
  static constexpr int max_nv = 6;  // vectors along the row
};

// acc[m][v] = bias[m] + sum over steps s of w[s * w_stride + m] * base[step_offsets[s] + v * L],
// then out[m * plane + v * L + lane] = activation(acc + residual) for the first `channels`
// out-channels; the last vector stores its first valid_last lanes only (its other lanes read the
// strip's zeroed slack). residual: at out's offsets, or null.
template <class T, int MR, int NV>
void rows_microkernel(const T* base, const i64* step_offsets, i64 steps, const T* w, i64 w_stride, const T* bias,
                      int channels, T* out, i64 plane, i64 valid_last, const T* residual, Activation activation) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  typename S::vec acc[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    const typename S::vec b = S::set1(bias != nullptr && m < channels ? bias[m] : T(0));
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[m][v] = b;
  }
  for (i64 s = 0; s < steps; ++s) {
    const T* src = base + step_offsets[s];
    typename S::vec x[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) x[v] = S::load(src + v * L);
    const T* ws = w + s * w_stride;
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const typename S::vec b = S::broadcast(ws + m);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[m][v] = S::fma(x[v], b, acc[m][v]);
    }
  }
  for (int m = 0; m < channels; ++m) {
    T* o = out + m * plane;
    const T* r = residual != nullptr ? residual + m * plane : nullptr;
#pragma GCC unroll 8
    for (int v = 0; v < NV - 1; ++v) {
      typename S::vec value = acc[m][v];
      if (r != nullptr) value = S::add(value, S::load(r + v * L));
      S::store(o + v * L, activate<S>(value, activation));
    }
    if (valid_last == L) {
      typename S::vec value = acc[m][NV - 1];
      if (r != nullptr) value = S::add(value, S::load(r + (NV - 1) * L));
      S::store(o + (NV - 1) * L, activate<S>(value, activation));
    } else {
      T last[L];
      S::store(last, acc[m][NV - 1]);
      for (i64 l = 0; l < valid_last; ++l) {
        const i64 at = (NV - 1) * L + l;
        o[at] = activate_value(r != nullptr ? T(last[l] + r[at]) : last[l], activation);
      }
    }
  }
}

template <class T>
using RowsMicrokernel = void (*)(const T*, const i64*, i64, const T*, i64, const T*, int, T*, i64, i64, const T*,
                                 Activation);

// vectors: 1 .. RowsShape<T>::max_nv.
template <class T>
RowsMicrokernel<T> rows_microkernel_for(i64 vectors) {
  constexpr int MR = RowsShape<T>::mr;
  switch (vectors) {
    case 1: return &rows_microkernel<T, MR, 1>;
    case 2: return &rows_microkernel<T, MR, 2>;
    case 3: return &rows_microkernel<T, MR, 3>;
    case 4: return &rows_microkernel<T, MR, 4>;
    case 5: return &rows_microkernel<T, MR, 5>;
    default: return &rows_microkernel<T, MR, 6>;
  }
}

// (Callers check rows_kernel_enabled first.)
template <class T>
bool rows_applies(const Conv2dJob<T>& job) noexcept {
  const Conv2dParams& p = job.params;
  return Simd<T>::lanes >= 4 && p.groups == 1 && p.in_channels <= rows_max_in_channels && p.dilation_height == 1 &&
         p.dilation_width == 1 && job.shape.out_width >= Simd<T>::lanes &&
         job.weight.block_width % RowsShape<T>::mr == 0;
}

template <class T>
KernelStatus rows(const Conv2dJob<T>& job) noexcept {
  constexpr i64 L = Simd<T>::lanes, MR = RowsShape<T>::mr, max_nv = RowsShape<T>::max_nv;
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  if (s.output_elements == 0) return KernelStatus::ok;
  const i64 kh_count = p.kernel_height, kw_count = p.kernel_width, taps = kh_count * kw_count;
  const i64 sh = p.stride_height, sw = p.stride_width;
  const i64 in_channels = p.in_channels, out_channels = p.out_channels;

  // Column tiles of at most 1024 outputs, balanced (so each is at least one vector wide).
  const i64 col_tiles = ceil_div(s.out_width, 1024);
  const i64 tile_cols = ceil_div(s.out_width, col_tiles);
  const i64 col_count = (tile_cols - 1) * sw + kw_count;  // input columns of a full tile
  // Phase ph of a strip row holds its columns ph, ph + sw, ...; the last vector of an output
  // row reads up to a vector past the row's end, into zeroed slack.
  const i64 phase_len = ceil_div(col_count, sw) + L;
  const i64 strip_pitch = sw * phase_len;
  // Row tiles: the strip of every input channel within budget, and enough items for the threads.
  const i64 row_bytes = in_channels * strip_pitch * i64(sizeof(T));
  i64 tile_rows = max_i64(1, min_i64(s.out_height, ((strip_budget_bytes / row_bytes) - kh_count) / sh + 1));
  const i64 wanted_items = 4 * i64(job.threads);
  if (p.batch * col_tiles * ceil_div(s.out_height, tile_rows) < wanted_items)
    tile_rows = max_i64(1, min_i64(tile_rows, ceil_div(s.out_height, ceil_div(wanted_items, p.batch * col_tiles))));
  const i64 row_tiles = ceil_div(s.out_height, tile_rows);
  const i64 strip_rows = (tile_rows - 1) * sh + kh_count;
  if (strip_rows > max_thread_workspace_bytes / row_bytes) return KernelStatus::workspace_too_large;
  const i64 strip_plane = strip_rows * strip_pitch;
  const i64 item_count = p.batch * row_tiles * col_tiles;
  const int threads = int(min_i64(job.threads, item_count));

  const i64 strip_bytes = round_up(in_channels * strip_plane * i64(sizeof(T)), 64);
  const i64 row_buffer_bytes = round_up(col_count * i64(sizeof(T)), 64);
  const i64 thread_bytes = strip_bytes + row_buffer_bytes;
  Workspace thread_memory(std::size_t(thread_bytes) * threads);
  Workspace step_memory(sizeof(i64) * in_channels * taps);
  if (thread_memory.get() == nullptr || step_memory.get() == nullptr) return KernelStatus::out_of_memory;
  // Strip offset of each (in-channel, kh, kw) step for the output row at the strip's top.
  i64* step_offsets = static_cast<i64*>(step_memory.get());
  for (i64 c = 0, step = 0; c < in_channels; ++c)
    for (i64 kh = 0; kh < kh_count; ++kh)
      for (i64 kw = 0; kw < kw_count; ++kw)
        step_offsets[step++] = c * strip_plane + kh * strip_pitch + (kw % sw) * phase_len + kw / sw;
  const i64 steps = in_channels * taps;

  const i64 in_plane = p.in_height * p.in_width, out_plane = s.out_height * s.out_width;
  const i64 block_width = job.weight.block_width;
  const T* residual = job.epilogue.residual;
  const Activation activation = job.epilogue.activation;

  parallel_for(item_count, threads, [&](i64 item, int thread) {
    char* memory = static_cast<char*>(thread_memory.get()) + thread * thread_bytes;
    T* strip = reinterpret_cast<T*>(memory);
    T* row_buffer = reinterpret_cast<T*>(memory + strip_bytes);
    const i64 col_tile = item % col_tiles;
    i64 rest = item / col_tiles;
    const i64 row_tile = rest % row_tiles;
    const i64 image = rest / row_tiles;
    const i64 oh0 = row_tile * tile_rows, ow0 = col_tile * tile_cols;
    const i64 rows_here = min_i64(tile_rows, s.out_height - oh0);
    const i64 cols_here = min_i64(tile_cols, s.out_width - ow0);
    const i64 row_origin = oh0 * sh - p.pad_top, col_origin = ow0 * sw - p.pad_left;
    const i64 rows_read = (rows_here - 1) * sh + kh_count;
    const i64 cols_read = (cols_here - 1) * sw + kw_count;

    // The strip: every input channel's rows, zero outside the image, split into stride phases,
    // each phase's tail zeroed.
    for (i64 c = 0; c < in_channels; ++c) {
      const T* plane = job.input + (image * in_channels + c) * in_plane;
      for (i64 i = 0; i < rows_read; ++i) {
        T* dst = strip + c * strip_plane + i * strip_pitch;
        T* source = sw == 1 ? dst : row_buffer;
        fill_strip_plane(plane, p.in_height, p.in_width, row_origin + i, 1, 1, col_origin, cols_read, 1, source,
                         cols_read);
        for (i64 ph = 0; ph < sw; ++ph) {
          T* phase = dst + ph * phase_len;
          i64 k = 0;
          if (sw != 1)
            for (i64 j = ph; j < cols_read; j += sw, ++k) phase[k] = row_buffer[j];
          else k = cols_read;
          std::memset(static_cast<void*>(phase + k), 0, sizeof(T) * std::size_t(phase_len - k));
        }
      }
    }

    const i64 vectors = ceil_div(cols_here, L);
    const i64 segments = ceil_div(vectors, max_nv);
    for (i64 r = 0; r < rows_here; ++r) {
      const T* base = strip + r * sh * strip_pitch;
      const i64 out_offset0 = image * out_channels * out_plane + (oh0 + r) * s.out_width + ow0;
      for (i64 oc0 = 0; oc0 < out_channels; oc0 += MR) {
        const T* w = job.weight.data + (oc0 / block_width) * job.weight.block_stride + oc0 % block_width;
        const T* bias = job.bias != nullptr ? job.bias + oc0 : nullptr;
        const int channels = int(min_i64(MR, out_channels - oc0));
        i64 v0 = 0;
        for (i64 segment = 0; segment < segments; ++segment) {
          // near-equal segments: a short one is load-bound
          const i64 nv = ceil_div(vectors - v0, segments - segment);
          const i64 c = v0 * L;
          const i64 out_offset = out_offset0 + oc0 * out_plane + c;
          const i64 valid_last = v0 + nv == vectors ? cols_here - (vectors - 1) * L : L;
          rows_microkernel_for<T>(nv)(base + c, step_offsets, steps, w, block_width, bias, channels,
                                      job.output + out_offset, out_plane, valid_last,
                                      residual != nullptr ? residual + out_offset : nullptr, activation);
          v0 += nv;
        }
      }
    }
  });
  return KernelStatus::ok;
}

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
