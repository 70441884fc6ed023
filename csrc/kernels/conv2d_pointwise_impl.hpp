// Pointwise (1x1, stride 1, no padding) convolution as a matrix product on NCHW, one
// implementation for every SIMD kernel family. Included by conv2d_direct_impl.hpp, inside the
// family's namespace, after Simd<T> is defined.
//
// Per image and group, Y[oc][p] = bias[oc] + sum_c W[oc][c] X[c][p] with p the flattened
// pixels: X's rows are contiguous in NCHW, so the microkernel vectorises over pixels (NV
// vectors = NV x lanes pixels) and broadcasts MR weights per input channel, keeping MR x NV
// accumulators in registers (8 x 3 with 32 registers, 4 x 3 with 16) and writing Y's rows in
// place: no transpose, unlike the blocked direct kernel. X's rows are a plane apart, too far for
// the prefetchers, so each run of NV x lanes pixels is first packed into a contiguous panel
// [channel][pixel] (zero past the last pixel) that every out-channel row reuses. Maps smaller
// than pointwise_min_plane pixels waste lanes here and go to the blocked kernel. Weights come from
// the direct kernel's packing ([channel][lane] per block of out-channels, zero past the last).
// Sums run over channels in increasing order from the bias, as in the blocked kernel, so both
// give the same bits. The epilogue (residual, activation) runs on the last channel chunk's
// registers before they are stored.

#include <cstdint>
#include <cstring>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

template <class T>
struct PointwiseShape {
  static constexpr int mr = simd_registers >= 32 ? 8 : 4;  // out-channels per microkernel
  static constexpr int nv = 3;                             // pixel vectors per microkernel
};

// Items: this many pixels (a multiple of the microkernel's width) and out-channel rows. Per item
// the X panel (channels x pixels) and the weight panel (channels x rows) stay in L2; channel
// chunks bound the X panel for deep layers.
constexpr i64 pointwise_item_pixels = 192;
constexpr i64 pointwise_item_rows = 64;
// The X panel of a channel chunk (48 KiB: 256 float32 channels of 48 pixels) stays in L2 and is
// read in order by every microkernel; each further chunk reloads and stores the partial sums.
// 16 KiB (85 channels) ran 256->64 @56 in 0.86 ms against 0.70 ms (2 threads, medians of 5
// alternating runs, Zen 4; 512->128 @28 0.83 against 0.73); 128 KiB measured the same as 48.
constexpr i64 pointwise_x_panel_budget_bytes = 48 * 1024;
constexpr i64 pointwise_min_plane = 256;

// acc = (first ? bias or zero : y) + sum over `channels` of w[c][m] * x[c][pixel]; stores the
// first `rows` rows and the first `pixels` pixels of each. x: channel stride x_stride; w:
// channel stride w_stride; y: row stride y_stride. epilogue (the last channel chunk only, else
// null): y = activation(acc + residual), residual at y's offsets (may be null).
template <class T, int MR, int NV>
void pointwise_microkernel(const T* x, i64 x_stride, const T* w, i64 w_stride, i64 channels, const T* bias, bool first,
                           T* y, i64 y_stride, int rows, i64 pixels, const ConvEpilogue<T>* epilogue) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  typename S::vec acc[MR][NV];
  const bool whole = pixels == NV * L;
  T tail[MR][NV * L];
  if (first) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const typename S::vec b = S::set1(bias != nullptr && m < rows ? bias[m] : T(0));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = b;
    }
  } else if (whole) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = m < rows ? S::load(y + m * y_stride + v * L) : S::zero();
  } else {
    for (int m = 0; m < MR; ++m) {
      for (i64 i = 0; i < NV * L; ++i) tail[m][i] = m < rows && i < pixels ? y[m * y_stride + i] : T(0);
      for (int v = 0; v < NV; ++v) acc[m][v] = S::load(&tail[m][v * L]);
    }
  }
  // The residual comes from memory, a plane apart per row: fetch it while the sums run.
  if (epilogue != nullptr && epilogue->residual != nullptr)
    for (int m = 0; m < rows; ++m)
      for (i64 line = 0; line < NV * L * i64(sizeof(T)); line += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(epilogue->residual + m * y_stride) + line, 0, 3);
  for (i64 c = 0; c < channels; ++c) {
    typename S::vec xv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) xv[v] = S::load(x + c * x_stride + v * L);
    const T* wc = w + c * w_stride;
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const typename S::vec b = S::broadcast(wc + m);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = S::fma(b, xv[v], acc[m][v]);
    }
  }
  if (whole && epilogue != nullptr) {
    const T* residual = epilogue->residual;
    for (int m = 0; m < rows; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        typename S::vec value = acc[m][v];
        if (residual != nullptr) value = S::add(value, S::load(residual + m * y_stride + v * L));
        S::store(y + m * y_stride + v * L, activate<S>(value, epilogue->activation));
      }
  } else if (whole) {
    for (int m = 0; m < rows; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) S::store(y + m * y_stride + v * L, acc[m][v]);
  } else {
    for (int m = 0; m < rows; ++m) {
      for (int v = 0; v < NV; ++v) S::store(&tail[m][v * L], acc[m][v]);
      std::memcpy(static_cast<void*>(y + m * y_stride), tail[m], sizeof(T) * std::size_t(pixels));
      if (epilogue != nullptr)
        epilogue_span(y + m * y_stride, epilogue->residual != nullptr ? epilogue->residual + m * y_stride : nullptr,
                      pixels, epilogue->activation);
    }
  }
}

template <class T>
bool pointwise_applies(const Conv2dJob<T>& job) noexcept {
  const Conv2dParams& p = job.params;
  return Simd<T>::lanes >= 4 && p.in_height * p.in_width >= pointwise_min_plane && p.kernel_height == 1 &&
         p.kernel_width == 1 && p.stride_height == 1 && p.stride_width == 1 && p.pad_top == 0 && p.pad_bottom == 0 &&
         p.pad_left == 0 && p.pad_right == 0 && job.weight.block_width % PointwiseShape<T>::mr == 0;
}

template <class T>
KernelStatus pointwise(const Conv2dJob<T>& job) noexcept {
  using S = Simd<T>;
  constexpr int MR = PointwiseShape<T>::mr, NV = PointwiseShape<T>::nv, L = S::lanes;
  constexpr i64 width = NV * L;  // pixels per microkernel
  const Conv2dParams& p = job.params;
  const Conv2dShape& s = job.shape;
  const i64 plane = p.in_height * p.in_width;  // = output plane (1x1, stride 1, no padding)
  const i64 in_per_group = s.in_channels_per_group, out_per_group = s.out_channels_per_group;
  const i64 block_width = job.weight.block_width;

  const i64 chunk = max_i64(1, min_i64(in_per_group, pointwise_x_panel_budget_bytes / (width * i64(sizeof(T)))));
  const i64 pixel_items = ceil_div(plane, pointwise_item_pixels);
  const i64 row_items = ceil_div(out_per_group, pointwise_item_rows);
  const i64 item_count = p.batch * p.groups * pixel_items * row_items;
  const int threads = int(min_i64(job.threads, item_count));
  const i64 panel_elements = chunk * width;
  Workspace panels(sizeof(T) * std::size_t(panel_elements) * std::size_t(threads));
  if (panels.get() == nullptr) return KernelStatus::out_of_memory;

  parallel_for(item_count, threads, [&](i64 item, int thread) {
    T* panel = static_cast<T*>(panels.get()) + thread * panel_elements;
    const i64 row_item = item % row_items;
    i64 rest = item / row_items;
    const i64 pixel_item = rest % pixel_items;
    rest /= pixel_items;
    const i64 group = rest % p.groups;
    const i64 image = rest / p.groups;
    const i64 p0 = pixel_item * pointwise_item_pixels;
    const i64 p1 = min_i64(plane, p0 + pointwise_item_pixels);
    const i64 r0 = row_item * pointwise_item_rows;
    const i64 r1 = min_i64(out_per_group, r0 + pointwise_item_rows);
    const T* x = job.input + (image * p.in_channels + group * in_per_group) * plane;
    T* y = job.output + (image * p.out_channels + group * out_per_group) * plane;
    const T* bias = job.bias != nullptr ? job.bias + group * out_per_group : nullptr;
    // (a local copy: the vector stores below may alias anything, so a captured `plane` would be
    // reloaded from memory in every iteration)
    const i64 row_stride = plane;
    for (i64 c0 = 0; c0 < in_per_group; c0 += chunk) {
      const i64 channels = min_i64(chunk, in_per_group - c0);
      const bool last_chunk = c0 + channels == in_per_group;
      for (i64 q = p0; q < p1; q += width) {
        const i64 pixels = min_i64(width, p1 - q);
        const T* xs = x + c0 * row_stride + q;
        // The next panel's rows, a plane apart (too many streams for the hardware prefetchers),
        // are fetched while this panel's microkernels run.
        const bool next_in_chunk = q + width < p1;
        const i64 next_c0 = next_in_chunk ? c0 : c0 + chunk;  // else the next chunk's first panel
        const T* next = next_in_chunk ? xs + width : x + next_c0 * row_stride + p0;
        const i64 next_channels = min_i64(chunk, in_per_group - next_c0);
        for (i64 c = 0; c < next_channels; ++c)
          for (i64 line = 0; line < width * i64(sizeof(T)); line += 64)
            __builtin_prefetch(reinterpret_cast<const char*>(next + c * row_stride) + line, 0, 3);
        // Vector copies: a variable-length memcpy of a few hundred bytes compiles to `rep movsq`,
        // whose start-up cost made packing a third of a 1x1 layer's time.
        if (pixels == width) {
          for (i64 c = 0; c < channels; ++c)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) S::store(panel + c * width + v * L, S::load(xs + c * row_stride + v * L));
        } else {
          for (i64 c = 0; c < channels; ++c) {
            for (i64 i = 0; i < pixels; ++i) panel[c * width + i] = xs[c * plane + i];
            for (i64 i = pixels; i < width; ++i) panel[c * width + i] = T(0);
          }
        }
        const i64 vectors = ceil_div(pixels, L);  // a short tail runs a narrower microkernel
        for (i64 r = r0; r < r1; r += MR) {
          const i64 block = r / block_width, lane = r % block_width;
          const T* w = job.weight.data + (group * job.weight.blocks_per_group + block) * job.weight.block_stride +
                       c0 * block_width + lane;
          const T* b = bias != nullptr ? bias + r : nullptr;
          const int rows = int(min_i64(MR, r1 - r));
          T* out = y + r * plane + q;
          const i64 out_offset = out - job.output;
          ConvEpilogue<T> at_store = job.epilogue;
          if (at_store.residual != nullptr) at_store.residual += out_offset;
          const ConvEpilogue<T>* epilogue = last_chunk && epilogue_active(job.epilogue) ? &at_store : nullptr;
          if (vectors == 3)
            pointwise_microkernel<T, MR, NV>(panel, width, w, block_width, channels, b, c0 == 0, out, plane, rows,
                                             pixels, epilogue);
          else if (vectors == 2)
            pointwise_microkernel<T, MR, 2>(panel, width, w, block_width, channels, b, c0 == 0, out, plane, rows,
                                            pixels, epilogue);
          else
            pointwise_microkernel<T, MR, 1>(panel, width, w, block_width, channels, b, c0 == 0, out, plane, rows,
                                            pixels, epilogue);
        }
      }
    }
  });
  return KernelStatus::ok;
}

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
