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

// Bytes of the ring of converted rows of a work item (axes other than the last).
constexpr i64 c1_ring_budget_bytes = 512 * 1024;
constexpr i64 c1_max_thread_workspace_bytes = i64{1} << 30;

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
    case 0:
    case 2: c1_load_typed<std::uint8_t>(base, index, stride, dst, n); break;  // bool: its byte
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
void c1_store_typed(const double* src, void* base, i64 index, i64 stride, i64 n) {
  Out* dst = static_cast<Out*>(base) + index;
  if (stride == 1) {
    for (i64 j = 0; j < n; ++j) dst[j] = store_value<Out, double, true>(src[j]);
  } else {
    for (i64 j = 0; j < n; ++j) dst[j * stride] = store_value<Out, double, true>(src[j]);
  }
}

// output[index + j * stride] = src[j] converted as SciPy's line buffers convert (plain C
// cast), j < n.
void c1_store(int type, const double* src, void* base, i64 index, i64 n, i64 stride = 1) {
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
    default:
      if (stride != 1) c1_store_typed<double>(src, base, index, stride, n);
      else if (static_cast<double*>(base) + index != src)
        std::memcpy(static_cast<double*>(base) + index, src, sizeof(double) * n);
  }
}

// ---- the sums ------------------------------------------------------------------------------

// Where tap t of lane c is: Strided{x, ts}: x[t * ts + c] (a line, or rows at a fixed pitch);
// Rows{p}: p[t][c] (rows of a ring buffer).
struct Strided {
  const double* x;
  i64 ts;
  const double* tap(i64 t, i64 c) const { return x + t * ts + c; }
};
struct Rows {
  const double* const* p;
  const double* tap(i64 t, i64 c) const { return p[t] + c; }
};

// U vectors of lanes from lane c. Sym: 1 symmetric, -1 antisymmetric, 0 neither.
template <int U, int Sym, class Src>
inline void c1_block(const Src& src, i64 c, const double* w, i64 k, double* out) {
  using S = Simd<double>;
  constexpr int L = S::lanes;
  typename S::vec acc[U];
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    const typename S::vec wc = S::set1(w[s1]);
    const double* centre = src.tap(s1, c);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(centre + u * L), wc);
    for (i64 t = 0; t < s1; ++t) {
      const typename S::vec wt = S::set1(w[t]);
      const double* a = src.tap(t, c);
      const double* b = src.tap(k - 1 - t, c);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        const typename S::vec pair =
            Sym > 0 ? S::add(S::load(a + u * L), S::load(b + u * L)) : S::sub(S::load(a + u * L), S::load(b + u * L));
        acc[u] = S::mul_add(pair, wt, acc[u]);
      }
    }
  } else {
    const typename S::vec wl = S::set1(w[k - 1]);
    const double* last = src.tap(k - 1, c);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = S::mul(S::load(last + u * L), wl);
    for (i64 t = 0; t < k - 1; ++t) {
      const typename S::vec wt = S::set1(w[t]);
      const double* a = src.tap(t, c);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[u] = S::mul_add(S::load(a + u * L), wt, acc[u]);
    }
  }
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) S::store(out + u * L, acc[u]);
}

template <int Sym, class Src>
inline double c1_scalar(const Src& src, i64 c, const double* w, i64 k) {
  double acc;
  if constexpr (Sym != 0) {
    const i64 s1 = k / 2;
    acc = *src.tap(s1, c) * w[s1];
    for (i64 t = 0; t < s1; ++t) {
      const double a = *src.tap(t, c), b = *src.tap(k - 1 - t, c);
      const double pair = Sym > 0 ? a + b : a - b;
      const double product = pair * w[t];
      acc = acc + product;
    }
  } else {
    acc = *src.tap(k - 1, c) * w[k - 1];
    for (i64 t = 0; t < k - 1; ++t) {
      const double product = *src.tap(t, c) * w[t];
      acc = acc + product;
    }
  }
  return acc;
}

// out[c] for c < n.
template <int Sym, class Src>
void c1_lanes(const Src& src, const double* w, i64 k, double* out, i64 n) {
  constexpr i64 L = Simd<double>::lanes;
  // Independent accumulators hide the add latency: 8 vectors where there are 32 registers.
  constexpr int U = simd_registers >= 32 ? 8 : 4;
  i64 c = 0;
  for (; c + U * L <= n; c += U * L) c1_block<U, Sym>(src, c, w, k, out + c);
  for (; c + 4 * L <= n; c += 4 * L) c1_block<4, Sym>(src, c, w, k, out + c);
  for (; c + L <= n; c += L) c1_block<1, Sym>(src, c, w, k, out + c);
  for (; c < n; ++c) out[c] = c1_scalar<Sym>(src, c, w, k);
}

template <class Src>
void c1_filter_with(int symmetry, const double* w, i64 k, const Src& src, double* out, i64 n) {
  if (symmetry > 0) c1_lanes<1>(src, w, k, out, n);
  else if (symmetry < 0) c1_lanes<-1>(src, w, k, out, n);
  else c1_lanes<0>(src, w, k, out, n);
}

template <class Src>
void c1_filter(const Correlate1dJob& job, const Src& src, double* out, i64 n) {
  c1_filter_with(job.symmetry, job.weights, job.size, src, out, n);
}

// ---- the driver ----------------------------------------------------------------------------

KernelStatus c1_run(const Correlate1dJob& job) noexcept {
  const i64 n = job.length, k = job.size, inner = job.inner;
  if (job.outer == 0 || n == 0 || inner == 0) return KernelStatus::ok;
  const i64 ext = n + k - 1;
  constexpr i64 L0 = Simd<double>::lanes;
  // Line mode: each line filtered on its own (the last axis, or so few inner columns that
  // vectors across them would be mostly empty: strided lines).
  const bool last_axis = inner == 1 || (inner < L0 && job.weights2 == nullptr);
  const i64 lines = job.outer * (last_axis ? inner : 1);
  constexpr i64 L = Simd<double>::lanes;
  // Tile width across inner columns. Rows are converted into the buffer just before the first
  // output row that reads them (see below), so the working set is about `size` rows of the tile
  // whatever the length: tiles can be wide (fewer, longer vector loops).
  // Tile width across inner columns: whole rows (sequential reads) when k + 1 of them fit the
  // ring budget, else as many columns as fit.
  const i64 ring_rows = k + 1;
  i64 tile = 1;
  if (!last_axis) {
    tile = c1_ring_budget_bytes / (ring_rows * i64(sizeof(double)));
    tile = tile >= inner ? inner : max_i64(4 * L, tile / (4 * L) * (4 * L));
    if (job.weights2 != nullptr) tile = inner;  // a fused second pass needs whole rows
  }
  i64 tile_count = last_axis ? 1 : ceil_div(inner, tile);
  // Enough items for every thread when a few wide rows are all there is: bands of output rows
  // (each reads its own k - 1 halo rows, so whole rows stream sequentially), except in place,
  // where a band could overwrite rows another band still reads, and for the running sum of
  // uniform filters, whose order must start at the line's start; there, narrower tiles.
  const bool in_place = job.input == job.output;
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
  const i64 buffer_elements = last_axis ? ext + 8 : (ring_rows + k) * tile;
  const i64 out_elements = last_axis ? n + 8 : tile;
  // fused second pass: the extended row, its filtered values, the row in the output type
  // (planar: the converted plane, one row of the middle pass and a row of cval)
  const i64 fused_elements = fused ? (ext2 + 8) + inner + inner + (planar ? inner + 2 * plane_width : 0) : 0;
  const i64 thread_bytes = round_up(8 * (buffer_elements + 2 * out_elements + fused_elements), 64);
  if (thread_bytes > c1_max_thread_workspace_bytes) return KernelStatus::workspace_too_large;
  // job.threads is already what the work is worth (threads_for_work at the entry point)
  const int threads = int(min_i64(job.threads, item_count));
  Workspace memory(std::size_t(thread_bytes) * std::size_t(threads));
  const i64 table_entries = k + 1 + (planar ? job.plane_size : 0);
  Workspace pointers(sizeof(double*) * std::size_t(table_entries) * std::size_t(threads));
  if (memory.get() == nullptr || pointers.get() == nullptr) return KernelStatus::out_of_memory;
  const double** const pointer_table = static_cast<const double**>(pointers.get());

  const i64 plane = n * inner;  // elements per outer index
  auto body = [&](i64 item, int thread) {
    double* buffer = reinterpret_cast<double*>(static_cast<char*>(memory.get()) + thread * thread_bytes);
    double* out = buffer + buffer_elements;
    double* sums = out + out_elements;
    double* line2 = sums + out_elements;  // fused second pass
    double* out2 = line2 + ext2 + 8;
    void* typed2 = out2 + inner;
    double* plane_buffer = static_cast<double*>(typed2) + inner;  // planar only
    double* middle = plane_buffer + inner;
    double* cval_row = middle + plane_width;
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
          c1_load(job.input_type, job.input, base + (lo + job.shift) * stride, stride, buffer + (lo - a), hi - lo);
        for (i64 e = a; e < b + k - 1; ++e) {
          if (e >= lo && e < hi) {
            e = hi - 1;
            continue;
          }
          const i64 m = job.map[e];
          const i64 at = m - job.shift;  // the extended position where input index m sits
          if (m < 0) buffer[e - a] = job.cval;
          else if (at >= lo && at < hi) buffer[e - a] = buffer[at - a];
          else c1_load(job.input_type, job.input, base + m * stride, 1, buffer + (e - a), 1);
        }
        const i64 count = b - a;
        double* const target = job.output_type == 10 && stride == 1 ? static_cast<double*>(job.output) + base + a : out;
        if (job.kind == 0) {
          c1_filter(job, Strided{buffer, 1}, target, count);
        } else {
          double tmp = 0.0;
          for (i64 t = 0; t < k; ++t) tmp += buffer[t];
          target[0] = tmp / double(k);
          for (i64 l = 1; l < n; ++l) {
            const double step = buffer[l + k - 1] - buffer[l - 1];
            tmp += step;
            target[l] = tmp / double(k);
          }
        }
        if (target == out) c1_store(job.output_type, out, job.output, base + a * stride, count, stride);
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
    double* const ring = buffer;
    double* const side = buffer + ring_rows * width;  // rows [ext - (k - 1), ext)
    const double** const table = pointer_table + thread * table_entries;
    const i64 side_first = ext - (k - 1);
    const auto early = [&](i64 e) { return in_place && e >= k - 1 && job.map[e] >= 0 && job.map[e] < e - (k - 1); };
    const auto convert_row = [&](i64 e, double* row) {
      const i64 m = job.map[e];
      if (m < 0) {
        for (i64 j = 0; j < width; ++j) row[j] = job.cval;
      } else {
        c1_load(job.input_type, job.input, base + m * inner, 1, row, width);
      }
    };
    const auto row_of = [&](i64 e) -> const double* {
      return early(e) ? side + (e - side_first) * width : ring + (e % ring_rows) * width;
    };
    if (in_place)
      for (i64 e = side_first; e < ext; ++e)
        if (early(e)) convert_row(e, side + (e - side_first) * width);
    i64 next = row_begin;  // rows [row_begin, next) have been converted
    // Converts rows up to `high`, and points table[0..] at rows low..high.
    const auto rows = [&](i64 low, i64 high) {
      for (; next <= high; ++next)
        if (!early(next)) convert_row(next, ring + (next % ring_rows) * width);
      for (i64 e = low; e <= high; ++e) table[e - low] = row_of(e);
      return Rows{table};
    };
    double* const direct = job.output_type == 10 ? static_cast<double*>(job.output) + base : nullptr;
    if (planar) {  // whole planes: first pass, round trip, middle pass by rows, round trip, second pass
      const i64 lo = job.identity_begin2, hi = job.identity_end2;
      const i64 kp = job.plane_size, W = plane_width;
      const double** plane_table = table + (k + 1);
      for (i64 j = 0; j < W; ++j) cval_row[j] = job.plane_cval;
      for (i64 i = row_begin; i < row_end; ++i) {
        c1_filter(job, rows(i, i + k - 1), out, width);
        const double* converted = out;
        if (job.output_type != 10) {
          c1_store(job.output_type, out, typed2, 0, width);
          c1_load(job.output_type, typed2, 0, 1, plane_buffer, width);
          converted = plane_buffer;
        }
        for (i64 r = 0; r < job.plane_rows; ++r) {
          for (i64 t = 0; t < kp; ++t) {
            const i64 m = job.plane_map[r + t];
            plane_table[t] = m < 0 ? cval_row : converted + m * W;
          }
          c1_filter_with(job.plane_symmetry, job.plane_weights, kp, Rows{plane_table}, middle, W);
          if (job.output_type == 10) {
            std::memcpy(line2 + lo, middle, sizeof(double) * W);
          } else {
            c1_store(job.output_type, middle, typed2, 0, W);
            c1_load(job.output_type, typed2, 0, 1, line2 + lo, W);
          }
          for (i64 e = 0; e < lo; ++e) line2[e] = job.map2[e] < 0 ? job.cval2 : line2[job.map2[e] - job.shift2];
          for (i64 e = hi; e < ext2; ++e) line2[e] = job.map2[e] < 0 ? job.cval2 : line2[job.map2[e] - job.shift2];
          const i64 at = i * inner + r * W;
          if (direct != nullptr) {
            c1_filter_with(job.symmetry2, job.weights2, job.size2, Strided{line2, 1}, direct + at, W);
          } else {
            c1_filter_with(job.symmetry2, job.weights2, job.size2, Strided{line2, 1}, out2, W);
            c1_store(job.output_type, out2, job.output, base + at, W);
          }
        }
      }
    } else if (fused) {  // whole rows (tile == inner): first pass, output type round trip, second pass
      const i64 lo = job.identity_begin2, hi = job.identity_end2;
      for (i64 i = row_begin; i < row_end; ++i) {
        c1_filter(job, rows(i, i + k - 1), out, width);
        if (job.output_type == 10) {
          std::memcpy(line2 + lo, out, sizeof(double) * width);
        } else {
          c1_store(job.output_type, out, typed2, 0, width);
          c1_load(job.output_type, typed2, 0, 1, line2 + lo, width);
        }
        for (i64 e = 0; e < lo; ++e) line2[e] = job.map2[e] < 0 ? job.cval2 : line2[job.map2[e] - job.shift2];
        for (i64 e = hi; e < ext2; ++e) line2[e] = job.map2[e] < 0 ? job.cval2 : line2[job.map2[e] - job.shift2];
        if (direct != nullptr) {
          c1_filter_with(job.symmetry2, job.weights2, job.size2, Strided{line2, 1}, direct + i * inner, width);
        } else {
          c1_filter_with(job.symmetry2, job.weights2, job.size2, Strided{line2, 1}, out2, width);
          c1_store(job.output_type, out2, job.output, base + i * inner, width);
        }
      }
    } else if (job.kind == 0) {
      for (i64 i = row_begin; i < row_end; ++i) {
        const Rows src = rows(i, i + k - 1);
        if (direct != nullptr) {
          c1_filter(job, src, direct + i * inner, width);
        } else {
          c1_filter(job, src, out, width);
          c1_store(job.output_type, out, job.output, base + i * inner, width);
        }
      }
    } else {
      const double size = double(k);
      const Rows first = rows(0, k - 1);
      for (i64 j = 0; j < width; ++j) sums[j] = 0.0;
      for (i64 t = 0; t < k; ++t) {
        const double* row = first.p[t];
        for (i64 j = 0; j < width; ++j) sums[j] += row[j];
      }
      for (i64 j = 0; j < width; ++j) out[j] = sums[j] / size;
      c1_store(job.output_type, out, job.output, base, width);
      for (i64 i = 1; i < n; ++i) {
        const Rows src = rows(i - 1, i + k - 1);
        const double* leave = src.p[0];
        const double* enter = src.p[k];
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

Correlate1dKernels correlate1d_kernels() noexcept { return {kernel_isa_name, &c1_run}; }

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
