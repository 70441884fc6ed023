"""C++ embedding: a program built against the installed package with find_package(fieldconv)
gives the same convolution as the Python API, and its checked entry point rejects bad input."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fieldconv

CMAKE = shutil.which("cmake")
CXX = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")

pytestmark = pytest.mark.skipif(CMAKE is None or CXX is None, reason="no cmake or C++ compiler on PATH")

PROGRAM = r"""
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <fieldconv/conv2d.hpp>
#include <fieldconv/runtime.hpp>

int main() {
  fieldconv::Conv2dParams p;
  p.batch = 2; p.in_channels = 3; p.in_height = 9; p.in_width = 11;
  p.out_channels = 5; p.kernel_height = 3; p.kernel_width = 3;
  p.stride_height = 2; p.pad_top = p.pad_bottom = 1; p.pad_left = 2; p.pad_right = 0;
  const fieldconv::Conv2dShape s = fieldconv::conv2d_shape(p);
  std::vector<double> x(s.input_elements), w(s.weight_elements), b(p.out_channels), y(s.output_elements);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.1 * double(i));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.3 * double(i));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.5 * double(i);
  fieldconv::set_num_threads(2);
  fieldconv::conv2d_direct<double>(p, x.data(), w.data(), b.data(), y.data());
  std::printf("%lld %lld\n", (long long)s.out_height, (long long)s.out_width);
  for (double v : y) std::printf("%.17g\n", v);
  p.stride_width = 0;  // the entry point checks its own arguments
  try {
    fieldconv::conv2d_direct<double>(p, x.data(), w.data(), b.data(), y.data());
    std::printf("no exception\n");
  } catch (const std::invalid_argument& error) {
    std::printf("invalid_argument: %s\n", error.what());
  }
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
        [CMAKE, "-S", str(tmp_path), "-B", str(build), f"-Dfieldconv_DIR={fieldconv.get_cmake_dir()}",
         "-DCMAKE_BUILD_TYPE=Release"],
        check=True, capture_output=True, text=True, env=_build_env(),
    )
    subprocess.run([CMAKE, "--build", str(build)], check=True, capture_output=True, text=True, env=_build_env())
    output = subprocess.run(
        [str(build / "embed")], check=True, capture_output=True, text=True, env=_build_env()
    ).stdout.splitlines()

    x = np.sin(0.1 * np.arange(2 * 3 * 9 * 11)).reshape(2, 3, 9, 11)
    w = np.cos(0.3 * np.arange(5 * 3 * 3 * 3)).reshape(5, 3, 3, 3)
    b = 0.5 * np.arange(5.0)
    expected = fieldconv.conv2d(x, w, b, stride=(2, 1), padding=(1, 1, 2, 0))
    assert output[0].split() == [str(expected.shape[2]), str(expected.shape[3])]
    values = np.array([float(v) for v in output[1 : 1 + expected.size]])
    np.testing.assert_allclose(values, expected.ravel(), rtol=0, atol=1e-12)
    assert output[1 + expected.size].startswith("invalid_argument: stride must be between 1 and")
