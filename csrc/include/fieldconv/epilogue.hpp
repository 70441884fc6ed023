// Elementwise layer epilogues, in place: y = activation(y + residual). What a network runs after
// a convolution (a residual join, a ReLU), as one threaded pass over memory instead of one pass
// per operation.
#pragma once

#include <cstdint>

namespace fieldconv {

enum class Activation : int {
  none = 0,
  relu = 1,   // max(y, 0), keeping NaN and -0.0 (as torch.relu)
  relu6 = 2,  // min(max(y, 0), 6), keeping NaN and -0.0 (as torch.nn.ReLU6)
};

// What a convolution entry point (conv2d.hpp, winograd.hpp) applies as it stores each output
// value: y = activation(conv + bias + residual), the same roundings as the separate passes (the
// sum is rounded to T, then the residual added, then the activation), so the result has the same
// bits as conv2d followed by add_activation. residual: the output's shape and layout (NCHW,
// C-contiguous), or null; it must not overlap the output (it may overlap the input).
template <class T>
struct ConvEpilogue {
  const T* residual = nullptr;
  Activation activation = Activation::none;
};

// y[i] = activation(y[i] + residual[i]) for i < count (residual may be null: no addition).
// Throws std::invalid_argument for a negative count, a null y with count > 0, an unknown
// activation, or a residual that overlaps y (it may not be y itself either). Uses at most
// get_num_threads() threads (fewer for small calls).
template <class T>
void add_activation(T* y, const T* residual, std::int64_t count, Activation activation);

}  // namespace fieldconv
