"""C++ embedding: a program built against the installed package with find_package(fieldconv)
gives the same convolution as the Python API, and its checked entry point rejects bad input."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import fieldconv
from reference import avg_pool2d_reference, conv2d_reference, correlate2d_reference, max_pool2d_reference

CMAKE = shutil.which("cmake")
CXX = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")

pytestmark = pytest.mark.skipif(CMAKE is None or CXX is None, reason="no cmake or C++ compiler on PATH")

PROGRAM = r"""
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <fieldconv/conv2d.hpp>
#include <fieldconv/fft_correlate.hpp>
#include <fieldconv/filter2d.hpp>
#include <fieldconv/pool2d.hpp>
#include <fieldconv/runtime.hpp>
#include <fieldconv/winograd.hpp>

// Prints "@<label> <count>" and then one value per line, for the test to compare with Python.
template <class T>
static void print_values(const char* label, const std::vector<T>& values) {
  std::printf("@%s %zu\n", label, values.size());
  for (T v : values) std::printf("%.17g\n", double(v));
}

// Runs `call`, which must throw std::invalid_argument, and prints the message.
template <class F>
static void expect_invalid(const char* label, F call) {
  try {
    call();
    std::printf("%s no exception\n", label);
  } catch (const std::invalid_argument& error) {
    std::printf("%s invalid_argument: %s\n", label, error.what());
  }
}

int main() {
  fieldconv::set_num_threads(2);
  std::printf("threads %d\n", fieldconv::get_num_threads());

  // conv2d direct: strided, asymmetric padding.
  fieldconv::Conv2dParams p;
  p.batch = 2; p.in_channels = 3; p.in_height = 9; p.in_width = 11;
  p.out_channels = 5; p.kernel_height = 3; p.kernel_width = 3;
  p.stride_height = 2; p.pad_top = p.pad_bottom = 1; p.pad_left = 2; p.pad_right = 0;
  const fieldconv::Conv2dShape s = fieldconv::conv2d_shape(p);
  std::vector<double> x(s.input_elements), w(s.weight_elements), b(p.out_channels), y(s.output_elements);
  // Multiples of 1/16 and 1/8: the same doubles in C++ and NumPy (no libm rounding differences).
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(int(i * 37 % 101) - 50) / 16;
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = double(int(i * 13 % 29) - 14) / 8;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.5 * double(i);
  fieldconv::conv2d_direct<double>(p, x.data(), w.data(), b.data(), y.data());
  std::printf("direct_shape %lld %lld\n", (long long)s.out_height, (long long)s.out_width);
  print_values("direct", y);

  // The same convolution with an epilogue: relu(conv + bias + residual), the residual being the
  // first result (so relu(2 y)).
  std::vector<double> fused(s.output_elements);
  fieldconv::ConvEpilogue<double> epilogue;
  epilogue.residual = y.data();
  epilogue.activation = fieldconv::Activation::relu;
  fieldconv::conv2d_direct<double>(p, x.data(), w.data(), b.data(), fused.data(), epilogue);
  print_values("direct_relu_residual", fused);

  // conv2d Winograd F(4x4, 3x3): stride 1, padding 1 on every side.
  fieldconv::Conv2dParams q = p;
  q.stride_height = 1; q.pad_left = q.pad_right = 1;
  std::vector<double> yw(fieldconv::conv2d_shape(q).output_elements);
  fieldconv::conv2d_winograd<double>(q, x.data(), w.data(), b.data(), yw.data(), 4);
  print_values("winograd", yw);

  // Pooling: max 3x3/2 pad 1 with indices and ceil mode, average 2x2/2 without counting padding.
  fieldconv::Pool2dParams m;
  m.batch = 2; m.channels = 3; m.in_height = 9; m.in_width = 11;
  m.kernel_height = m.kernel_width = 3; m.stride_height = m.stride_width = 2;
  m.pad_height = m.pad_width = 1; m.ceil_mode = true;
  const fieldconv::Pool2dShape ms = fieldconv::pool2d_shape(m);
  std::vector<double> ymax(ms.output_elements);
  std::vector<std::int64_t> argmax(ms.output_elements);
  fieldconv::max_pool2d<double>(m, x.data(), ymax.data(), argmax.data());
  print_values("max_pool", ymax);
  print_values("max_indices", argmax);
  fieldconv::Pool2dParams a = m;
  a.kernel_height = a.kernel_width = 2; a.pad_height = a.pad_width = 1; a.ceil_mode = false;
  std::vector<double> yavg(fieldconv::pool2d_shape(a).output_elements);
  fieldconv::avg_pool2d<double>(a, x.data(), yavg.data(), false);
  print_values("avg_pool", yavg);

  // 2-D filter: the first 9x11 plane correlated with w's first 3x3 kernel, "same" size,
  // symmetric border (scipy.signal's boundary="symm").
  fieldconv::Filter2dParams f;
  f.in_height = f.out_height = 9; f.in_width = f.out_width = 11;
  f.row_offset = f.col_offset = -1;
  f.border = fieldconv::FilterBorder::reflect;
  std::vector<std::int64_t> rows, cols;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) { rows.push_back(r); cols.push_back(c); }
  fieldconv::Filter2dTaps taps{9, rows.data(), cols.data(), w.data()};
  const double fill = 0.0;
  std::vector<double> yf(9 * 11);
  fieldconv::filter2d(f, fieldconv::FilterScalar::float64, x.data(), fieldconv::FilterScalar::float64, yf.data(),
                      fieldconv::FilterAccumulator::float64, taps, &fill);
  print_values("filter", yf);

  // A line correlated with 21 taps by FFTs, "full" (output[i] = sum_j line[i + j - 20] * taps[j]).
  std::vector<double> line(300), line_taps(21), line_out(320);
  for (std::size_t i = 0; i < line.size(); ++i) line[i] = double(int(i * 29 % 53) - 26) / 16;
  for (std::size_t i = 0; i < line_taps.size(); ++i) line_taps[i] = double(int(i * 7 % 11) - 5) / 8;
  const bool finite = fieldconv::correlate_line_fft<double>(line.data(), 300, line_taps.data(), 21, line_out.data(),
                                                           320, 20);
  std::printf("line_fft_finite %d\n", int(finite));
  print_values("line_fft", line_out);

  // Every entry point checks its own arguments.
  fieldconv::Conv2dParams bad = p;
  bad.stride_width = 0;
  expect_invalid("direct_bad", [&] { fieldconv::conv2d_direct<double>(bad, x.data(), w.data(), b.data(), y.data()); });
  expect_invalid("winograd_bad", [&] {
    fieldconv::conv2d_winograd<double>(p, x.data(), w.data(), b.data(), y.data(), 4);  // stride 2
  });
  fieldconv::Pool2dParams bad_pool = m;
  bad_pool.pad_height = 2;  // more than kernel_size // 2
  expect_invalid("pool_bad", [&] { fieldconv::max_pool2d<double>(bad_pool, x.data(), ymax.data()); });
  fieldconv::Filter2dParams bad_filter = f;
  bad_filter.in_height = -1;
  expect_invalid("filter_bad", [&] {
    fieldconv::filter2d(bad_filter, fieldconv::FilterScalar::float64, x.data(), fieldconv::FilterScalar::float64,
                        yf.data(), fieldconv::FilterAccumulator::float64, taps, &fill);
  });
  expect_invalid("line_fft_bad", [&] {
    fieldconv::correlate_line_fft<double>(line.data(), 300, line_taps.data(), 21, line_out.data(), 320, 20, 4);
  });
  expect_invalid("threads_bad", [&] { fieldconv::set_num_threads(0); });
  expect_invalid("threads_too_many_bad", [&] { fieldconv::set_num_threads(fieldconv::max_num_threads + 1); });
  fieldconv::set_num_threads(fieldconv::max_num_threads);  // the documented maximum is accepted
  std::printf("threads_max %d\n", fieldconv::get_num_threads());
  fieldconv::set_num_threads(2);

  // No entry point computes in place: overlapping output and input (or indices) are refused.
  fieldconv::Conv2dParams same = q;  // 3 -> 5 channels, stride 1, padding 1: output larger than input
  std::vector<double> shared(fieldconv::conv2d_shape(same).output_elements);
  for (std::size_t i = 0; i < x.size(); ++i) shared[i] = x[i];
  expect_invalid("direct_overlap_bad", [&] {
    fieldconv::conv2d_direct<double>(same, shared.data(), w.data(), b.data(), shared.data());
  });
  expect_invalid("winograd_overlap_bad", [&] {
    fieldconv::conv2d_winograd<double>(same, shared.data(), w.data(), b.data(), shared.data() + 7, 4);
  });
  expect_invalid("bias_overlap_bad", [&] {
    fieldconv::conv2d_direct<double>(same, x.data(), w.data(), shared.data() + 3, shared.data());
  });
  expect_invalid("pool_overlap_bad", [&] { fieldconv::max_pool2d<double>(m, x.data(), x.data() + 5); });
  expect_invalid("indices_overlap_bad", [&] {
    fieldconv::max_pool2d<double>(m, x.data(), ymax.data(), reinterpret_cast<std::int64_t*>(ymax.data()));
  });
  expect_invalid("filter_overlap_bad", [&] {
    fieldconv::filter2d(f, fieldconv::FilterScalar::float64, x.data(), fieldconv::FilterScalar::float64,
                        x.data(), fieldconv::FilterAccumulator::float64, taps, &fill);
  });
  return 0;
}
"""

CMAKELISTS = """
cmake_minimum_required(VERSION 3.18)
project(embed LANGUAGES CXX)
find_package(fieldconv REQUIRED)
add_executable(embed main.cpp)
target_link_libraries(embed PRIVATE fieldconv::fieldconv)
"""


def _build_env():
    # A sanitizer run preloads its runtime into Python; the tools and the program must not
    # inherit that (the program links the runtime itself through CXXFLAGS/LDFLAGS).
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def test_find_package_program_matches_python(tmp_path):
    assert os.path.isfile(os.path.join(fieldconv.get_include(), "fieldconv", "conv2d.hpp"))
    assert os.path.isfile(os.path.join(fieldconv.get_cmake_dir(), "fieldconvConfig.cmake"))
    (tmp_path / "main.cpp").write_text(PROGRAM)
    (tmp_path / "CMakeLists.txt").write_text(CMAKELISTS)
    build = tmp_path / "build"
    subprocess.run(
        [
            CMAKE,
            "-S",
            str(tmp_path),
            "-B",
            str(build),
            f"-Dfieldconv_DIR={fieldconv.get_cmake_dir()}",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=_build_env(),
    )
    subprocess.run([CMAKE, "--build", str(build)], check=True, capture_output=True, text=True, env=_build_env())
    output = subprocess.run(
        [str(build / "embed")], check=True, capture_output=True, text=True, env=_build_env()
    ).stdout.splitlines()

    sections = _sections(output)

    # The same data as the program, compared with the plain NumPy references (float64 sums;
    # atol covers the different summation orders: |values| <= 150).
    x = ((np.arange(2 * 3 * 9 * 11) * 37 % 101 - 50) / 16).reshape(2, 3, 9, 11)
    w = ((np.arange(5 * 3 * 3 * 3) * 13 % 29 - 14) / 8).reshape(5, 3, 3, 3)
    b = 0.5 * np.arange(5.0)
    assert output[0] == "threads 2"
    direct = conv2d_reference(x, w, b, stride=(2, 1), padding=(1, 1, 2, 0))
    assert output[1].split() == ["direct_shape", str(direct.shape[2]), str(direct.shape[3])]
    np.testing.assert_allclose(sections["direct"], direct.ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sections["direct_relu_residual"], np.maximum(2 * direct, 0).ravel(), rtol=0, atol=2e-12)
    winograd = conv2d_reference(x, w, b, padding=(1, 1, 1, 1))
    np.testing.assert_allclose(sections["winograd"], winograd.ravel(), rtol=0, atol=1e-11)  # F4: ~1e-14 x 150
    values, indices = max_pool2d_reference(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_array_equal(sections["max_pool"], values.ravel())
    np.testing.assert_array_equal(sections["max_indices"], indices.ravel())
    average = avg_pool2d_reference(x, 2, 2, 1, count_include_pad=False)
    np.testing.assert_allclose(sections["avg_pool"], average.ravel(), rtol=0, atol=1e-14)
    filtered = correlate2d_reference(x[0, 0], w[0, 0], (9, 11), -1, -1, mode="reflect")
    np.testing.assert_allclose(sections["filter"], filtered.ravel(), rtol=0, atol=1e-12)
    line = (np.arange(300) * 29 % 53 - 26) / 16
    line_taps = (np.arange(21) * 7 % 11 - 5) / 8
    assert "line_fft_finite 1" in output
    # FFT rounding: 8 * log2(N) * eps * max sum(|line| * |taps|) (about 20 here), N <= 2**12
    np.testing.assert_allclose(sections["line_fft"], np.correlate(line, line_taps, "full"), rtol=0, atol=5e-12)
    # ... and the Python API gives the same numbers.
    np.testing.assert_allclose(
        fieldconv.conv2d(x, w, b, padding=1, algorithm="winograd_f4").ravel(), sections["winograd"], rtol=0, atol=1e-11
    )
    np.testing.assert_allclose(
        fieldconv.correlate2d(x[0, 0], w[0, 0], "same", "symm").ravel(), sections["filter"], rtol=0, atol=1e-12
    )

    messages = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in output if "_bad " in line}
    assert messages["direct_bad"].startswith("invalid_argument: stride must be between 1 and")
    assert messages["winograd_bad"].startswith("invalid_argument: ") and "stride" in messages["winograd_bad"]
    assert messages["pool_bad"].startswith("invalid_argument: padding[0] (height) must be at most kernel_size[0] // 2")
    assert messages["filter_bad"].startswith("invalid_argument: ") and "height" in messages["filter_bad"]
    assert messages["line_fft_bad"] == (
        "invalid_argument: log2_size 4 is too small for 21 taps (2**log2_size - taps + 1 must be at least "
        f"{fieldconv._core.kernel_constants()['fft_correlate_lanes_f64']})"
    )
    assert messages["threads_bad"].startswith("invalid_argument: n must be an integer between 1 and 1024")
    assert messages["threads_too_many_bad"] == "invalid_argument: n must be an integer between 1 and 1024, got 1025"
    assert "threads_max 1024" in output
    for label in ("direct", "winograd", "pool", "filter"):
        assert messages[f"{label}_overlap_bad"].startswith("invalid_argument: output and input must not overlap"), label
    assert messages["bias_overlap_bad"].startswith("invalid_argument: output and bias must not overlap")
    assert messages["indices_overlap_bad"].startswith("invalid_argument: indices and output must not overlap")


def _sections(lines):
    """{label: values} from the program's "@<label> <count>" headers, each followed by count values."""
    sections, i = {}, 0
    while i < len(lines):
        words = lines[i].split()
        if lines[i].startswith("@"):
            count = int(words[1])
            sections[words[0][1:]] = np.array([float(v) for v in lines[i + 1 : i + 1 + count]])
            i += 1 + count
        else:
            i += 1
    return sections
