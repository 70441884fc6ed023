// Public FFT correlation entry point: check arguments, pick the FFT length, build the twiddle
// tables, hand a job to the active kernel family.
#include "fieldconv/fft_correlate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "dispatch.hpp"
#include "entry_support.hpp"
#include "fieldconv/shapes.hpp"

namespace fieldconv {

namespace {

using i64 = std::int64_t;

// Longest FFT the picker considers: 2 x 4096 points x 4 lanes of complex float64 is 256 KiB of
// batch per thread, still in L2; longer filters go to numpy.fft's path.
constexpr int max_log2_size = 12;

int lanes_of(bool float32) {
  const FftCorrelateKernels& k = active_kernels().fft_correlate;
  return float32 ? k.lanes_f32 : k.lanes_f64;
}

// Valid outputs per block of 2^log2 points: a whole number of lanes.
i64 block_step(int log2, i64 taps, int lanes) { return ((i64{1} << log2) - taps + 1) / lanes * lanes; }

// Twiddle factors in double, rounded once to T: cos and sin tables of n - 1 entries each, the
// stage of span h at offset h - 1, then the radix-4 passes' cos3 and sin3 (kernels.hpp,
// FftCorrelateJob).
template <class T>
std::vector<T> twiddle_tables(int log2_size) {
  const i64 n = i64{1} << log2_size;
  const i64 quarter = std::max<i64>(n / 2 - 1, 1);  // radix-4 tables: q - 1 + j < n / 2 - 1
  std::vector<T> tables(std::size_t(2 * (n - 1) + 2 * quarter));
  T* const cos_table = tables.data();
  T* const sin_table = cos_table + (n - 1);
  T* const cos3_table = sin_table + (n - 1);
  T* const sin3_table = cos3_table + quarter;
  const double pi = 3.14159265358979323846;
  for (i64 h = 1; h < n; h *= 2)
    for (i64 t = 0; t < h; ++t) {
      const double angle = pi * double(t) / double(h);
      cos_table[h - 1 + t] = T(std::cos(angle));
      sin_table[h - 1 + t] = T(-std::sin(angle));
    }
  for (i64 q = 1; q <= n / 4; q *= 2)  // radix-4 passes of largest span 2q: W^3j, W = exp(-2 pi i / 4q)
    for (i64 j = 0; j < q; ++j) {
      const double angle = pi * double(3 * j) / double(2 * q);
      cos3_table[q - 1 + j] = T(std::cos(angle));
      sin3_table[q - 1 + j] = T(-std::sin(angle));
    }
  return tables;
}

// The tables of the lengths the picker chooses, built once per process (80 KiB for the longest);
// null if they cannot be allocated.
template <class T>
const T* cached_twiddles(int log2_size) noexcept {
  static std::mutex mutex;
  static std::vector<T> cache[max_log2_size + 1];
  const std::lock_guard<std::mutex> lock(mutex);
  std::vector<T>& tables = cache[log2_size];
  if (tables.empty()) {
    try {
      tables = twiddle_tables<T>(log2_size);
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }
  return tables.data();
}

// Estimated single-thread nanoseconds per output with FFTs of 2^log2 points (step > 0): per
// output, the vector operations of a point through a radix-2 stage (a batch has 2 transforms of
// n log2 n of them for 2 lanes blocks of step outputs), at the kernel family's measured rate.
// They are slower once a batch (2 n vectors) outgrows L1 (measured per point and stage on AMD
// Zen 4: 1.67 TSC cycles at 16 KiB, 2.06 at 32 KiB, 3.4 at 64 KiB).
double ns_per_output(int log2, i64 step, bool float32) {
  const FftCorrelateKernels& kernels = active_kernels().fft_correlate;
  const int lanes = lanes_of(float32);
  const double n = double(i64{1} << log2);
  const double batch_kib = 2.0 * n * double(lanes) * (float32 ? 4 : 8) / 1024.0;
  const double cache_factor = batch_kib <= 16 ? 1.0 : batch_kib <= 32 ? 1.25 : 2.0;
  const double operations = n * log2 / (double(lanes) * double(step)) * cache_factor;
  return operations * (float32 ? kernels.ns_per_operation_f32 : kernels.ns_per_operation_f64);
}

}  // namespace

FftCorrelatePlan fft_correlate_plan(std::int64_t tap_count, bool float32) noexcept {
  if (tap_count < 1) return {0, 0.0};
  const int lanes = lanes_of(float32);
  FftCorrelatePlan best{0, 0.0};
  for (int log2 = 6; log2 <= max_log2_size; ++log2) {
    const i64 step = block_step(log2, tap_count, lanes);
    if (step <= 0) continue;
    const double ns = ns_per_output(log2, step, float32);
    if (best.log2_size == 0 || ns < best.ns_per_output) best = {log2, ns};
  }
  return best;
}

template <class T>
bool correlate_line_fft(const T* input, std::int64_t input_length, const T* taps, std::int64_t tap_count, T* output,
                        std::int64_t output_length, std::int64_t left, int log2_size) {
  check_range("input_length", input_length, 0, max_element_count);
  check_range("tap_count", tap_count, 1, max_element_count);
  check_range("output_length", output_length, 0, max_element_count);
  check_range("left", left, -max_element_count, max_element_count);
  const bool float32 = sizeof(T) == sizeof(float);
  const int lanes = lanes_of(float32);
  if (log2_size == 0) {
    log2_size = fft_correlate_plan(tap_count, float32).log2_size;
    if (log2_size == 0)
      throw_invalid("tap_count ", tap_count, " is too long for the FFT correlation (at most ",
                    (i64{1} << max_log2_size) - lanes + 1, " taps)");
  }
  check_range("log2_size", log2_size, 1, 20);
  if (block_step(log2_size, tap_count, lanes) <= 0)
    throw_invalid("log2_size ", log2_size, " is too small for ", tap_count,
                  " taps (2**log2_size - taps + 1 must be at least ", lanes, ")");
  if (output_length == 0) return true;
  if (taps == nullptr || output == nullptr || (input == nullptr && input_length > 0))
    throw_invalid("input, taps and output must not be null");
  const i64 out_bytes = output_length * i64(sizeof(T));
  check_disjoint(output, out_bytes, "output", input, input_length * i64(sizeof(T)), "input");
  check_disjoint(output, out_bytes, "output", taps, tap_count * i64(sizeof(T)), "taps");

  const i64 n = i64{1} << log2_size;
  const T* const cached = log2_size <= max_log2_size ? cached_twiddles<T>(log2_size) : nullptr;
  std::vector<T> own_tables;  // lengths the picker never chooses: built for this call
  if (cached == nullptr) own_tables = twiddle_tables<T>(log2_size);
  const T* const tables = cached != nullptr ? cached : own_tables.data();

  FftCorrelateJob<T> job{};
  job.input = input;
  job.input_length = input_length;
  job.taps = taps;
  job.tap_count = tap_count;
  job.output = output;
  job.output_length = output_length;
  job.left = left;
  job.log2_size = log2_size;
  job.twiddle_cos = tables;
  job.twiddle_sin = tables + (n - 1);
  job.twiddle_cos3 = tables + 2 * (n - 1);
  job.twiddle_sin3 = job.twiddle_cos3 + std::max<i64>(n / 2 - 1, 1);
  // the work of whole batches of blocks
  const i64 step = block_step(log2_size, tap_count, lanes);
  const double batches = std::ceil(double(output_length) / double(2 * lanes * step));
  int non_finite = 0;
  job.non_finite = &non_finite;
  job.threads = threads_for_work(batches * double(2 * lanes * step) * ns_per_output(log2_size, step, float32));
  const FftCorrelateKernels& kernels = active_kernels().fft_correlate;
  KernelStatus status;
  if constexpr (sizeof(T) == sizeof(float)) status = kernels.f32(job);
  else status = kernels.f64(job);
  if (status == KernelStatus::workspace_too_large)
    throw_invalid("correlate_line_fft: the workspace for log2_size ", log2_size, " would exceed 1 GiB per thread");
  if (status == KernelStatus::out_of_memory) throw std::bad_alloc();
  return non_finite == 0;
}

template bool correlate_line_fft<float>(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t,
                                        std::int64_t, int);
template bool correlate_line_fft<double>(const double*, std::int64_t, const double*, std::int64_t, double*,
                                         std::int64_t, std::int64_t, int);

}  // namespace fieldconv
