// Winograd minimal-filtering transforms F(m x m, 3 x 3), written as the papers' matrices:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// for a 3x3 filter g, an alpha x alpha input patch d (alpha = m + 2) and an m x m output Y.
// Rows of B^T / G / A^T follow the interpolation points of the Toom-Cook construction; every
// entry below is exactly representable in binary, so B^T and A^T are applied exactly up to the
// rounding of each add (G is applied once, in double, when weights are transformed).
//
//  * F(2x2,3x3), points 0, 1, -1, inf: Lavin & Gray, "Fast Algorithms for Convolutional Neural
//    Networks", CVPR 2016, eq. (7)-(8).
//  * F(4x4,3x3), points 0, 1, -1, 2, -2, inf: Lavin & Gray 2016, section 4.2 (the matrices of
//    their F(4,3) example).
//  * F(6x6,3x3), points 0, 1, -1, 2, -2, 1/2, -1/2, inf: the low-error point set of Barabasz,
//    Anderson, Soodhalter & Gregg, "Error Analysis and Improving the Accuracy of Winograd
//    Convolution for Deep Neural Networks" (2018/2020); the same matrices as NNPACK's and ncnn's
//    F(6x6,3x3). Points +-3 instead of +-1/2 raise float32 error ~80x (Barabasz et al. 2018; measured here: 7.1e-4
//    against 8.8e-6).
//
// Plain constexpr tables: no SIMD, no std containers. Included by the kernel families and by
// the weight transform (csrc/winograd.cpp).
#pragma once

namespace fieldconv {
namespace winograd {

template <int M>
struct Transform;

template <>
struct Transform<2> {
  static constexpr int m = 2, alpha = 4;
  static constexpr double BT[4][4] = {
      {1, 0, -1, 0},
      {0, 1, 1, 0},
      {0, -1, 1, 0},
      {0, 1, 0, -1},
  };
  static constexpr double G[4][3] = {
      {1, 0, 0},
      {0.5, 0.5, 0.5},
      {0.5, -0.5, 0.5},
      {0, 0, 1},
  };
  static constexpr double AT[2][4] = {
      {1, 1, 1, 0},
      {0, 1, -1, -1},
  };
};

template <>
struct Transform<4> {
  static constexpr int m = 4, alpha = 6;
  static constexpr double BT[6][6] = {
      {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
  };
  static constexpr double G[6][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1},
  };
  static constexpr double AT[4][6] = {
      {1, 1, 1, 1, 1, 0},
      {0, 1, -1, 2, -2, 0},
      {0, 1, 1, 4, 4, 0},
      {0, 1, -1, 8, -8, 1},
  };
};

template <>
struct Transform<6> {
  static constexpr int m = 6, alpha = 8;
  static constexpr double BT[8][8] = {
      {1, 0, -21.0 / 4, 0, 21.0 / 4, 0, -1, 0},
      {0, 1, 1, -17.0 / 4, -17.0 / 4, 1, 1, 0},
      {0, -1, 1, 17.0 / 4, -17.0 / 4, -1, 1, 0},
      {0, 1.0 / 2, 1.0 / 4, -5.0 / 2, -5.0 / 4, 2, 1, 0},
      {0, -1.0 / 2, 1.0 / 4, 5.0 / 2, -5.0 / 4, -2, 1, 0},
      {0, 2, 4, -5.0 / 2, -5, 1.0 / 2, 1, 0},
      {0, -2, 4, 5.0 / 2, -5, -1.0 / 2, 1, 0},
      {0, -1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1},
  };
  static constexpr double G[8][3] = {
      {1, 0, 0},
      {-2.0 / 9, -2.0 / 9, -2.0 / 9},
      {-2.0 / 9, 2.0 / 9, -2.0 / 9},
      {1.0 / 90, 1.0 / 45, 2.0 / 45},
      {1.0 / 90, -1.0 / 45, 2.0 / 45},
      {32.0 / 45, 16.0 / 45, 8.0 / 45},
      {32.0 / 45, -16.0 / 45, 8.0 / 45},
      {0, 0, 1},
  };
  static constexpr double AT[6][8] = {
      {1, 1, 1, 1, 1, 1, 1, 0},
      {0, 1, -1, 2, -2, 1.0 / 2, -1.0 / 2, 0},
      {0, 1, 1, 4, 4, 1.0 / 4, 1.0 / 4, 0},
      {0, 1, -1, 8, -8, 1.0 / 8, -1.0 / 8, 0},
      {0, 1, 1, 16, 16, 1.0 / 16, 1.0 / 16, 0},
      {0, 1, -1, 32, -32, 1.0 / 32, -1.0 / 32, 1},
  };
};

// Largest row sum of |A^T|: |Y| <= output_growth^2 * max|M|. Used to bound magnitudes so that
// no intermediate can overflow (beyond that, the kernels fall back to direct convolution).
template <int M>
constexpr double output_growth() {
  double best = 0;
  for (int r = 0; r < M; ++r) {
    double sum = 0;
    for (int k = 0; k < M + 2; ++k)
      sum += Transform<M>::AT[r][k] < 0 ? -Transform<M>::AT[r][k] : Transform<M>::AT[r][k];
    if (sum > best) best = sum;
  }
  return best;
}

}  // namespace winograd
}  // namespace fieldconv
