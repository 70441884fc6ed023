// Elementwise layer epilogues (fieldconv/epilogue.hpp). Memory-bound: plain loops, which the
// compiler vectorises with the baseline ISA, over chunks shared among threads.
#include "fieldconv/epilogue.hpp"

#include <cstdint>

#include "entry_support.hpp"
#include "fieldconv/shapes.hpp"
#include "parallel.hpp"

namespace fieldconv {

namespace {

using i64 = std::int64_t;

// Elements per work item: a few hundred KiB, so items stay in L2 and there are enough of them.
constexpr i64 chunk_elements = 32 * 1024;

// The comparisons keep NaN (it compares false) and -0.0 (not below 0), as torch's relu does.
template <class T, Activation A>
void run_span(T* y, const T* residual, i64 n) {
  if (residual != nullptr)
    for (i64 i = 0; i < n; ++i) y[i] = y[i] + residual[i];
  if constexpr (A == Activation::relu) {
    for (i64 i = 0; i < n; ++i) y[i] = y[i] < T(0) ? T(0) : y[i];
  } else if constexpr (A == Activation::relu6) {
    for (i64 i = 0; i < n; ++i) {
      const T v = y[i] < T(0) ? T(0) : y[i];
      y[i] = v > T(6) ? T(6) : v;
    }
  }
}

}  // namespace

template <class T>
void add_activation(T* y, const T* residual, i64 count, Activation activation) {
  check_range("count", count, 0, max_element_count);
  check_activation(activation, "activation");
  if (count == 0) return;
  if (y == nullptr) throw_invalid("y must not be null");
  const i64 bytes = count * i64(sizeof(T));
  check_disjoint(y, bytes, "y", residual, bytes, "residual");
  const i64 items = (count + chunk_elements - 1) / chunk_elements;
  // about 0.15 ns per element read and written on one core (memory-bound)
  const int threads = threads_for_work(0.15 * double(count) * (residual != nullptr ? 1.5 : 1.0));
  parallel_for(items, threads, [&](i64 item, int) {
    const i64 begin = item * chunk_elements, n = count - begin < chunk_elements ? count - begin : chunk_elements;
    const T* r = residual != nullptr ? residual + begin : nullptr;
    switch (activation) {
      case Activation::relu: run_span<T, Activation::relu>(y + begin, r, n); break;
      case Activation::relu6: run_span<T, Activation::relu6>(y + begin, r, n); break;
      default: run_span<T, Activation::none>(y + begin, r, n); break;
    }
  });
}

template void add_activation<float>(float*, const float*, i64, Activation);
template void add_activation<double>(double*, const double*, i64, Activation);

}  // namespace fieldconv
