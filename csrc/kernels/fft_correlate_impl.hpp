// Correlation of a long real line with a short real filter by overlap-save FFTs
// (fieldconv/fft_correlate.hpp), one implementation for every kernel family. Included by
// fft_correlate_<isa>.cpp inside that family's namespace, after the Simd traits.
//
// Each SIMD lane transforms its own sequence: lane l of a batch holds block l as the real part
// and block lanes + l as the imaginary part of one complex sequence of N = 2^log2_size points.
// The butterflies are then plain vector arithmetic (no shuffles) with the twiddle factors
// broadcast from scalar tables, and one complex transform serves two real blocks: the filter is
// real, so the inverse transform of (S1 + i S2) * conj(Y) is corr(s1, y) + i corr(s2, y).
// Blocks go in and out through lanes x lanes transposes of contiguous rows.
//
// Forward transforms are decimation in frequency (natural order in, bit-reversed out), the
// inverse ones decimation in time (bit-reversed in, natural out), and the filter's spectrum is
// kept in the same bit-reversed order, so no reordering pass is needed. Passes are radix 8 or 4
// (three or two radix-2 stages on points held in registers: one load and store of each point per
// pass; fft_stages_per_pass), with a shorter pass where the stages left are fewer.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_support.hpp"
#include "kernels/kernels.hpp"
#include "parallel.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// The cost model's rates (FftCorrelateKernels): measured 10^6 x 101 on AMD Zen 4 (one thread,
// 256-point FFTs), 0.59 ns float64 and 0.60 ns float32 for the AVX-512 family, 0.61 and 0.73 for
// AVX2; the portable family (a tenth of AVX2's direct_macs_per_ns) about 3.0 ns.
constexpr bool fft_portable = direct_macs_per_ns < 10;
constexpr double fft_ns_per_operation_f64 = fft_portable ? 3.0 : 0.6;
constexpr double fft_ns_per_operation_f32 = fft_portable ? 3.0 : 0.65;

// The passes' loops over a group's points must be unrolled, so that the points stay in registers.
#if defined(__clang__)
#define FIELDCONV_UNROLL _Pragma("unroll")
#else
#define FIELDCONV_UNROLL _Pragma("GCC unroll 16")
#endif

constexpr i64 fft_max_thread_workspace_bytes = i64{1} << 30;
// Outputs per work item of the threads (a run of batches).
constexpr i64 fft_run_outputs = 16384;
// Outputs from this size on are stored with streaming stores (beyond what L2 holds).
constexpr i64 fft_stream_min_bytes = i64{1} << 20;

// A batch of complex sequences: re(p), im(p) are the vectors (one lane per sequence) of point p,
// side by side (with 256-bit vectors, one cache line per point).
template <class T>
struct FftBatch {
  using S = FftSimd<T>;
  using V = typename S::vec;
  V* points;
  static i64 slot(i64 p) { return 2 * p; }  // index of re(p) in points
  V& re(i64 p) const { return points[slot(p)]; }
  V& im(i64 p) const { return points[slot(p) + 1]; }
};

// Twiddle factors of the stage with span h (pairs h apart, blocks of 2h): exp(-2 pi i t / 2h)
// for t < h, at offset h - 1 of the tables (fieldconv/fft_correlate.hpp).
template <class T>
struct FftTwiddles {
  const T* cos;
  const T* sin;  // sin(-2 pi t / 2h)
  // Radix-4 passes: exp(-2 pi i 3j / 4q) for j < q at offset q - 1 (W^3j, W = exp(-2 pi i / 4q)).
  const T* cos3;
  const T* sin3;
};

// K radix-2 stages on a group of P = 2^K points held in registers (r, i): the points
// base + j + m * q, m < P, q the smallest span of the pass. Sub-stage s (forward: span top >> s;
// inverse: span q << s) pairs m with m + half (forward: half = P >> (s + 1); inverse:
// half = 1 << s); the pair's twiddle is t = j + (m & (half - 1)) * q of its span.
// Unit: q == 1, so j == 0 and every twiddle is known when compiling: 1 and -i cost no
// multiplication, the others are broadcast from the tables.
template <class T, int K, bool Forward>
struct FftGroupTwiddles {
  using V = typename FftSimd<T>::vec;
  V c[K][(1 << K) / 2], s[K][(1 << K) / 2];  // cos, sin

  // The twiddles of offset j of a pass whose largest span is top (not Unit).
  FftGroupTwiddles(FftTwiddles<T> tw, i64 top, i64 j) {
    using S = FftSimd<T>;
    constexpr int P = 1 << K;
    const i64 q = top >> (K - 1);
    if constexpr (K == 2) {  // radix 4: W^j, W^2j, W^3j (W = exp(-2 pi i / 4q))
      c[0][0] = S::broadcast(tw.cos + 2 * q - 1 + j), s[0][0] = S::broadcast(tw.sin + 2 * q - 1 + j);
      c[1][0] = S::broadcast(tw.cos + q - 1 + j), s[1][0] = S::broadcast(tw.sin + q - 1 + j);
      c[0][1] = S::broadcast(tw.cos3 + q - 1 + j), s[0][1] = S::broadcast(tw.sin3 + q - 1 + j);
      return;
    }
    if constexpr (K == 3) {  // radix 8: W^kj, k = 1..7 (W = exp(-2 pi i / 8q)), in power(k)
      const i64 q8 = top >> 2;
      auto set = [&](int k, const T* cos, const T* sin) { power(k, S::broadcast(cos), S::broadcast(sin)); };
      set(1, tw.cos + 4 * q8 - 1 + j, tw.sin + 4 * q8 - 1 + j);
      set(2, tw.cos + 2 * q8 - 1 + j, tw.sin + 2 * q8 - 1 + j);
      set(4, tw.cos + q8 - 1 + j, tw.sin + q8 - 1 + j);
      set(3, tw.cos3 + 2 * q8 - 1 + j, tw.sin3 + 2 * q8 - 1 + j);  // W^3j of the radix-4 tables' 2q
      set(6, tw.cos3 + q8 - 1 + j, tw.sin3 + q8 - 1 + j);          // (W^2)^3j of their q
      auto times_w4 = [&](int k, int into) {                        // W^(into j) = W^4j W^kj
        const V ac = cos_of(4), as = sin_of(4), bc = cos_of(k), bs = sin_of(k);
        power(into, S::fms(ac, bc, S::mul(as, bs)), S::fma(ac, bs, S::mul(as, bc)));
      };
      times_w4(1, 5);
      times_w4(3, 7);
      return;
    }
    FIELDCONV_UNROLL
    for (int st = 0; st < K; ++st) {
      const int half = Forward ? P >> (st + 1) : 1 << st;
      const i64 span = Forward ? top >> st : q << st;
      FIELDCONV_UNROLL
      for (int u = 0; u < half; ++u) {
        const i64 at = span - 1 + j + u * q;
        c[st][u] = S::broadcast(tw.cos + at);
        s[st][u] = S::broadcast(tw.sin + at);
      }
    }
  }
  FftGroupTwiddles() = default;

  // Radix 8 keeps W^kj (k = 1..7) in c[0][0..3] and c[1][0..2] (and s).
  void power(int k, V cos, V sin) { c[(k - 1) / 4][(k - 1) % 4] = cos, s[(k - 1) / 4][(k - 1) % 4] = sin; }
  V cos_of(int k) const { return c[(k - 1) / 4][(k - 1) % 4]; }
  V sin_of(int k) const { return s[(k - 1) / 4][(k - 1) % 4]; }
};

template <class T, int K, bool Forward, bool Unit>
inline void fft_group(typename FftSimd<T>::vec (&r)[1 << K], typename FftSimd<T>::vec (&i)[1 << K],
                      const FftGroupTwiddles<T, K, Forward>& w, FftTwiddles<T> tw) {
  using S = FftSimd<T>;
  using V = typename S::vec;
  constexpr int P = 1 << K;
  if constexpr (K == 2 && !Unit) {
    // The two radix-2 stages as one radix-4 butterfly: 3 twiddle products instead of 4
    // (x0..x3 the points j + m q; the -i of W^q costs no multiplication).
    const V w1c = w.c[0][0], w1s = w.s[0][0], w2c = w.c[1][0], w2s = w.s[1][0], w3c = w.c[0][1], w3s = w.s[0][1];
    if constexpr (Forward) {
      const V s0r = S::add(r[0], r[2]), s0i = S::add(i[0], i[2]), d0r = S::sub(r[0], r[2]), d0i = S::sub(i[0], i[2]);
      const V s1r = S::add(r[1], r[3]), s1i = S::add(i[1], i[3]);
      const V d1r = S::sub(i[1], i[3]), d1i = S::sub(r[3], r[1]);  // -i (x1 - x3)
      r[0] = S::add(s0r, s1r), i[0] = S::add(s0i, s1i);
      const V ar = S::sub(s0r, s1r), ai = S::sub(s0i, s1i);  // * W^2j
      const V br = S::add(d0r, d1r), bi = S::add(d0i, d1i);  // * W^j
      const V cr = S::sub(d0r, d1r), ci = S::sub(d0i, d1i);  // * W^3j
      r[1] = S::fms(ar, w2c, S::mul(ai, w2s)), i[1] = S::fma(ar, w2s, S::mul(ai, w2c));
      r[2] = S::fms(br, w1c, S::mul(bi, w1s)), i[2] = S::fma(br, w1s, S::mul(bi, w1c));
      r[3] = S::fms(cr, w3c, S::mul(ci, w3s)), i[3] = S::fma(cr, w3s, S::mul(ci, w3c));
    } else {  // the inverse, with conjugate twiddles (times 4, as two radix-2 stages)
      const V p1r = S::fma(r[1], w2c, S::mul(i[1], w2s)), p1i = S::fms(i[1], w2c, S::mul(r[1], w2s));
      const V p2r = S::fma(r[2], w1c, S::mul(i[2], w1s)), p2i = S::fms(i[2], w1c, S::mul(r[2], w1s));
      const V p3r = S::fma(r[3], w3c, S::mul(i[3], w3s)), p3i = S::fms(i[3], w3c, S::mul(r[3], w3s));
      const V s0r = S::add(r[0], p1r), s0i = S::add(i[0], p1i), s1r = S::sub(r[0], p1r), s1i = S::sub(i[0], p1i);
      const V d0r = S::add(p2r, p3r), d0i = S::add(p2i, p3i), d1r = S::sub(p2r, p3r), d1i = S::sub(p2i, p3i);
      r[0] = S::add(s0r, d0r), i[0] = S::add(s0i, d0i);
      r[2] = S::sub(s0r, d0r), i[2] = S::sub(s0i, d0i);
      r[1] = S::sub(s1r, d1i), i[1] = S::add(s1i, d1r);  // s1 + i d1
      r[3] = S::add(s1r, d1i), i[3] = S::sub(s1i, d1r);  // s1 - i d1
    }
    return;
  }
  if constexpr (K == 3 && !Unit) {
    // Radix 8: the 8-point DFT of the group (the Unit group's three stages), point m holding
    // frequency k = bitrev(m), times W^kj (the inverse: conj(W^kj) first, then the Unit stages).
    constexpr int frequency[8] = {0, 4, 2, 6, 1, 5, 3, 7};
    const FftGroupTwiddles<T, K, Forward> unit{};
    if constexpr (Forward) fft_group<T, K, true, true>(r, i, unit, tw);
    FIELDCONV_UNROLL
    for (int m = 1; m < P; ++m) {
      const V c = w.cos_of(frequency[m]), sn = w.sin_of(frequency[m]);
      const V zr = r[m], zi = i[m];
      if constexpr (Forward) {
        r[m] = S::fms(zr, c, S::mul(zi, sn)), i[m] = S::fma(zr, sn, S::mul(zi, c));
      } else {
        r[m] = S::fma(zr, c, S::mul(zi, sn)), i[m] = S::fms(zi, c, S::mul(zr, sn));
      }
    }
    if constexpr (!Forward) fft_group<T, K, false, true>(r, i, unit, tw);
    return;
  }
  // The twiddle of sub-stage s, pair u: kept in w, or (Unit) broadcast from the tables.
  auto twiddle = [&](int s, int u, int span, V& c, V& sn) {
    if (Unit) {
      const i64 at = span - 1 + u;
      c = S::broadcast(tw.cos + at), sn = S::broadcast(tw.sin + at);
    } else {
      c = w.c[s][u], sn = w.s[s][u];
    }
  };
  FIELDCONV_UNROLL
  for (int s = 0; s < K; ++s) {
    const int half = Forward ? P >> (s + 1) : 1 << s;
    const int span = Forward ? (P / 2) >> s : 1 << s;  // Unit's span (q == 1)
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      if (m & half) continue;
      const int u = m & (half - 1);
      V& ar = r[m];
      V& ai = i[m];
      V& br = r[m + half];
      V& bi = i[m + half];
      if (Forward) {  // a + b, (a - b) * w
        const V dr = S::sub(ar, br), di = S::sub(ai, bi);
        ar = S::add(ar, br);
        ai = S::add(ai, bi);
        if (Unit && u == 0) {
          br = dr, bi = di;
        } else if (Unit && 2 * u == span) {  // w = -i
          br = di, bi = S::sub(S::zero(), dr);
        } else {
          V c, sn;
          twiddle(s, u, span, c, sn);
          br = S::fms(dr, c, S::mul(di, sn));
          bi = S::fma(dr, sn, S::mul(di, c));
        }
      } else {  // a + b * conj(w), a - b * conj(w)
        V pr, pi;
        if (Unit && u == 0) {
          pr = br, pi = bi;
        } else if (Unit && 2 * u == span) {  // conj(w) = i
          pr = S::sub(S::zero(), bi), pi = br;
        } else {
          V c, sn;
          twiddle(s, u, span, c, sn);
          pr = S::fma(br, c, S::mul(bi, sn));
          pi = S::fms(bi, c, S::mul(br, sn));
        }
        br = S::sub(ar, pr);
        bi = S::sub(ai, pi);
        ar = S::add(ar, pr);
        ai = S::add(ai, pi);
      }
    }
  }
}

// One pass of K stages whose largest span is `top`, over every group.
template <class T, int K, bool Forward, bool Unit>
void fft_pass(FftBatch<T> b, i64 n, i64 top, FftTwiddles<T> tw) {
  using V = typename FftSimd<T>::vec;
  constexpr int P = 1 << K;
  const i64 q = top >> (K - 1);
  auto group = [&](i64 base, const FftGroupTwiddles<T, K, Forward>& w) {
    V r[P], i[P];
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      r[m] = b.re(base + m * q);
      i[m] = b.im(base + m * q);
    }
    fft_group<T, K, Forward, Unit>(r, i, w, tw);
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      b.re(base + m * q) = r[m];
      b.im(base + m * q) = i[m];
    }
  };
  if (Unit || n / (2 * top) >= 4) {
    // j outer: each j's twiddles (P - 1 of them) are loaded once for its groups
    for (i64 j = 0; j < q; ++j) {
      FftGroupTwiddles<T, K, Forward> w;
      if (!Unit) w = FftGroupTwiddles<T, K, Forward>(tw, top, j);
      for (i64 base = j; base < n; base += 2 * top) group(base, w);
    }
  } else {
    // few groups per j (the first passes): twiddles loaded where they are used, not kept
    // (registers are short, and keeping them costs a store per twiddle)
    for (i64 base = 0; base < n; base += 2 * top)
      for (i64 j = 0; j < q; ++j) group(base + j, FftGroupTwiddles<T, K, Forward>(tw, top, j));
  }
}

template <class T, int K, bool Forward>
void fft_pass_of(FftBatch<T> b, i64 n, i64 top, FftTwiddles<T> tw) {
  if (top == i64{1} << (K - 1)) fft_pass<T, K, Forward, true>(b, n, top, tw);
  else fft_pass<T, K, Forward, false>(b, n, top, tw);
}

// Stages per pass: three (radix 8) where 16 vectors of points and their twiddles fit in the
// registers (AVX-512VL's 32 ymm), else two (radix 4; with 16 registers radix 8 spills: 6.0 TSC
// cycles per output against 5.2 on Zen 4).
constexpr int fft_stages_per_pass = simd_registers >= 32 ? 3 : 2;

// One pass of `stages` stages (1 to fft_stages_per_pass) whose largest span is top.
template <class T, bool Forward>
void fft_stages(FftBatch<T> b, i64 n, i64 top, int stages, FftTwiddles<T> tw) {
  if constexpr (fft_stages_per_pass >= 3) {
    if (stages == 3) return fft_pass_of<T, 3, Forward>(b, n, top, tw);
  }
  if (stages == 2) return fft_pass_of<T, 2, Forward>(b, n, top, tw);
  fft_pass_of<T, 1, Forward>(b, n, top, tw);
}

// Stages of the last forward pass and the first inverse pass (both Unit, on the same groups of
// consecutive points): fft_middle runs them with the spectrum product in between.
inline int fft_middle_stages(int log2n) { return log2n % 2 == 0 ? 2 : 1; }

// The forward transform; without its last pass when `middle` (fft_middle runs it).
template <class T>
void fft_forward(FftBatch<T> b, int log2n, FftTwiddles<T> tw, bool middle) {
  const i64 n = i64{1} << log2n;
  const int stop = middle ? log2n - fft_middle_stages(log2n) : log2n;
  for (int stage = 0; stage < stop;) {  // stages done; the next has span n >> (stage + 1)
    const int stages = std::min(fft_stages_per_pass, stop - stage);
    fft_stages<T, true>(b, n, n >> (stage + 1), stages, tw);
    stage += stages;
  }
}

// The inverse transform after fft_middle (which ran its first pass).
template <class T>
void fft_inverse_after_middle(FftBatch<T> b, int log2n, FftTwiddles<T> tw) {
  const i64 n = i64{1} << log2n;
  for (int stage = fft_middle_stages(log2n); stage < log2n;) {  // the next has span 1 << stage
    const int stages = std::min(fft_stages_per_pass, log2n - stage);
    fft_stages<T, false>(b, n, i64{1} << (stage + stages - 1), stages, tw);
    stage += stages;
  }
}

// On each group of P = 2^K consecutive points: the forward transform's last pass, the product
// with h, the filter's spectrum (conj(FFT) / N, bit-reversed like the points: re[n], im[n]),
// and the inverse transform's first pass; one load and store of each point for the three.
// Meanwhile, the cache lines of [prefetch, prefetch_end) are prefetched (the input of a later
// batch: its loads would otherwise wait for memory while no arithmetic runs).
template <class T, int K>
void fft_middle(FftBatch<T> b, i64 n, FftTwiddles<T> tw, const T* h, const T* prefetch, const T* prefetch_end) {
  using S = FftSimd<T>;
  using V = typename S::vec;
  constexpr int P = 1 << K;
  constexpr i64 line = 64 / sizeof(T);
  const i64 lines = prefetch < prefetch_end ? (prefetch_end - prefetch + line - 1) / line : 0;
  const i64 per_group = ceil_div(lines, n / P);
  const FftGroupTwiddles<T, K, true> unit_forward{};
  const FftGroupTwiddles<T, K, false> unit_inverse{};
  for (i64 base = 0; base < n; base += P) {
    for (i64 c = base / P * per_group; c < min_i64(lines, (base / P + 1) * per_group); ++c)
      __builtin_prefetch(prefetch + c * line, 0, 3);
    V r[P], i[P];
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      r[m] = b.re(base + m);
      i[m] = b.im(base + m);
    }
    fft_group<T, K, true, true>(r, i, unit_forward, tw);
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      const i64 p = base + m;
      const V zr = r[m], zi = i[m];
      const V hr = S::broadcast(h + p), hi = S::broadcast(h + n + p);
      r[m] = S::fms(zr, hr, S::mul(zi, hi));
      i[m] = S::fma(zr, hi, S::mul(zi, hr));
    }
    fft_group<T, K, false, true>(r, i, unit_inverse, tw);
    FIELDCONV_UNROLL
    for (int m = 0; m < P; ++m) {
      b.re(base + m) = r[m];
      b.im(base + m) = i[m];
    }
  }
}

// The line a call correlates, and its blocks: block `block` computes outputs
// [block * step, + step), reading x from block * step - left (n samples).
template <class T>
struct FftLine {
  const T* x;
  i64 nx;
  T* out;
  i64 length;
  i64 left;
  i64 n;
  i64 step;
  bool stream;  // outputs with streaming stores (out vector-aligned, longer than the caches)
};

// Fills batch b with the blocks first .. first + 2 lanes - 1 (lane l: block first + l in the
// real part, first + lanes + l in the imaginary part), zero outside x.
template <class T>
void fft_load_batch(FftBatch<T> b, FftLine<T> io, i64 first) {
  using S = FftSimd<T>;
  using V = typename S::vec;
  constexpr i64 L = S::lanes;
  for (int part = 0; part < 2; ++part) {
    V* const dst = b.points + part;  // point p at dst[2 * p]
    const i64 start0 = (first + part * L) * io.step - io.left;  // lane 0's first sample
    const i64 end = start0 + (L - 1) * io.step + io.n;          // past the last lane's last
    if (start0 >= 0 && end <= io.nx) {
      const T* const row0 = io.x + start0;
      for (i64 p = 0; p < io.n; p += L) {
        V columns[L];
        load_transposed_lanes(columns, row0 + p, io.step);
        for (i64 l = 0; l < L; ++l) dst[FftBatch<T>::slot(p + l)] = columns[l];
      }
    } else {
      alignas(64) T lane[L];
      for (i64 p = 0; p < io.n; ++p) {
        for (i64 l = 0; l < L; ++l) {
          const i64 at = start0 + l * io.step + p;
          lane[l] = at >= 0 && at < io.nx ? io.x[at] : T(0);
        }
        dst[FftBatch<T>::slot(p)] = S::load(lane);
      }
    }
  }
}

// The sum of a transpose's rows, by a tree of additions.
template <class T>
typename FftSimd<T>::vec sum_rows(const typename FftSimd<T>::vec (&rows)[FftSimd<T>::lanes]) {
  using S = FftSimd<T>;
  constexpr int L = S::lanes;
  typename S::vec level[L];
  for (int l = 0; l < L; ++l) level[l] = rows[l];
  for (int width = L / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) level[l] = S::add(level[l], level[l + width]);
  return level[0];
}

// Stores the batch's valid outputs (the first step points of each block); false if one of them
// is not finite.
template <class T>
bool fft_store_batch(FftBatch<T> b, FftLine<T> io, i64 first) {
  using S = FftSimd<T>;
  using V = typename S::vec;
  constexpr i64 L = S::lanes;
  // x * 0 + check stays 0 while every x stored is finite, and becomes NaN for good otherwise;
  // x is the sum of a vector of rows (one product per vector of rows keeps the chain short; a sum
  // that overflows only sends the call to the direct sums)
  V finite_check = S::zero();
  bool finite = true;
  for (int part = 0; part < 2; ++part) {
    const V* const src = b.points + part;   // point p at src[2 * p]
    const i64 out0 = (first + part * L) * io.step;  // lane 0's first output
    if (out0 >= io.length) break;
    if (out0 + L * io.step <= io.length) {
      T* const row0 = io.out + out0;
      for (i64 p = 0; p < io.step; p += L) {
        V rows[L];
        for (i64 l = 0; l < L; ++l) rows[l] = src[FftBatch<T>::slot(p + l)];
        transpose_lanes(rows);
        finite_check = S::fma(sum_rows<T>(rows), S::zero(), finite_check);
        // out0 + l * step + p is a multiple of L: every row is vector-aligned if out is
        if (io.stream) {
          for (i64 l = 0; l < L; ++l) S::stream(row0 + l * io.step + p, rows[l]);
        } else {
          for (i64 l = 0; l < L; ++l) S::store(row0 + l * io.step + p, rows[l]);
        }
      }
    } else {
      alignas(64) T lane[L];
      for (i64 p = 0; p < io.step; ++p) {
        S::store(lane, src[FftBatch<T>::slot(p)]);
        for (i64 l = 0; l < L; ++l) {
          const i64 at = out0 + l * io.step + p;
          if (at < io.length) {
            io.out[at] = lane[l];
            if (!(lane[l] - lane[l] == T(0))) finite = false;  // NaN or Inf
          }
        }
      }
    }
  }
  alignas(64) T lane[L];
  S::store(lane, finite_check);
  for (i64 l = 0; l < L; ++l) finite = finite && lane[l] == T(0);
  return finite;
}

thread_local CachedWorkspace fft_workspace;  // kernel_support.hpp

template <class T>
KernelStatus fft_correlate_run(const FftCorrelateJob<T>& job) noexcept {
  using S = FftSimd<T>;
  using V = typename S::vec;
  constexpr i64 L = S::lanes;
  const int log2n = job.log2_size;
  const i64 n = i64{1} << log2n;
  const i64 k = job.tap_count;
  // valid outputs per block, a whole number of lanes (the transposes move lanes at a time)
  const i64 step = (n - k + 1) / L * L;
  if (job.output_length <= 0) return KernelStatus::ok;
  if (step <= 0) return KernelStatus::workspace_too_large;  // the entry point sizes blocks; never here
  const i64 blocks = ceil_div(job.output_length, step);
  const i64 batches = ceil_div(blocks, 2 * L);
  const i64 batch_bytes = FftBatch<T>::slot(n) * i64(sizeof(V));
  if (batch_bytes > fft_max_thread_workspace_bytes) return KernelStatus::workspace_too_large;
  const int threads = int(min_i64(job.threads, batches));
  const std::size_t spectrum_bytes = std::size_t(2 * n) * sizeof(T);
  char* const memory =
      static_cast<char*>(fft_workspace.get(std::size_t(batch_bytes) * std::size_t(threads + 1) + spectrum_bytes));
  if (memory == nullptr) return KernelStatus::out_of_memory;
  auto batch_of = [&](int thread) {
    return FftBatch<T>{reinterpret_cast<V*>(memory + std::size_t(batch_bytes) * std::size_t(thread))};
  };
  T* const spectrum = reinterpret_cast<T*>(memory + std::size_t(batch_bytes) * std::size_t(threads + 1));
  const FftTwiddles<T> tw{job.twiddle_cos, job.twiddle_sin, job.twiddle_cos3, job.twiddle_sin3};

  {  // the filter's spectrum: every lane transforms the taps; keep lane 0, conjugated, / n
    const FftBatch<T> b = batch_of(threads);
    for (i64 p = 0; p < n; ++p) {
      b.re(p) = p < k ? S::broadcast(job.taps + p) : S::zero();
      b.im(p) = S::zero();
    }
    fft_forward<T>(b, log2n, tw, false);
    const T scale = T(1) / T(n);
    alignas(64) T lane[L];
    for (i64 p = 0; p < n; ++p) {
      S::store(lane, b.re(p));
      spectrum[p] = lane[0] * scale;
      S::store(lane, b.im(p));
      spectrum[n + p] = -lane[0] * scale;
    }
  }

  // Outputs are written once and not read again here: past the caches (when vector-aligned),
  // which saves reading each line of a large output into the cache before writing it.
  const bool stream = reinterpret_cast<std::uintptr_t>(job.output) % sizeof(V) == 0 &&
                      job.output_length * i64(sizeof(T)) >= fft_stream_min_bytes;
  const FftLine<T> line{job.input, job.input_length, job.output, job.output_length, job.left, n, step, stream};
  auto body = [&](i64 batch, i64 next_batch, int thread) noexcept -> bool {
    const FftLine<T> io = line;  // a copy in registers: the vector stores may alias anything in memory
    const FftBatch<T> b = batch_of(thread);
    const i64 first = batch * 2 * L;  // block of lane 0's real part
    fft_load_batch<T>(b, io, first);
    fft_forward<T>(b, log2n, tw, true);
    {  // the input of this thread's next batch
      const i64 next = next_batch * 2 * L * io.step - io.left;
      const i64 begin = max_i64(0, min_i64(io.nx, next));
      const i64 end = max_i64(0, min_i64(io.nx, next + 2 * L * io.step + n));
      if (fft_middle_stages(log2n) == 2) fft_middle<T, 2>(b, n, tw, spectrum, io.x + begin, io.x + end);
      else fft_middle<T, 1>(b, n, tw, spectrum, io.x + begin, io.x + end);
    }
    fft_inverse_after_middle<T>(b, log2n, tw);
    return fft_store_batch<T>(b, io, first);
  };
  // Threads take runs of consecutive batches, of about fft_run_outputs outputs: a thread's
  // memory accesses then continue from one batch to the next, as the hardware prefetchers
  // expect, and the streaming stores are fenced (and the next item claimed, a locked
  // instruction, which waits for them too) once per run, not per batch. Measured on Zen 4,
  // 10^6 x 101 float64: 10 % faster on one thread and on two than batches in turn; runs stay
  // short enough (and at least 4 per thread) for the threads to finish together.
  const i64 run = max_i64(1, min_i64(fft_run_outputs / (2 * L * step), batches / (4 * threads)));
  std::atomic<int> non_finite{0};
  parallel_for(ceil_div(batches, run), threads, [&](i64 item, int thread) noexcept {
    const i64 end = min_i64(batches, (item + 1) * run);
    for (i64 batch = item * run; batch < end; ++batch)
      if (!body(batch, batch + 1 < end ? batch + 1 : end + (threads - 1) * run, thread))
        non_finite.store(1, std::memory_order_relaxed);
    if (stream) stream_fence();
  });
  if (non_finite.load() != 0) *job.non_finite = 1;
  fft_workspace.trim();
  return KernelStatus::ok;
}

}  // namespace

FftCorrelateKernels fft_correlate_kernels() noexcept {
  return {kernel_isa_name,        &fft_correlate_run<float>, &fft_correlate_run<double>, FftSimd<float>::lanes,
          FftSimd<double>::lanes, fft_ns_per_operation_f32,  fft_ns_per_operation_f64};
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
