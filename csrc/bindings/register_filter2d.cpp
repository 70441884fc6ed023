// Binding of the 2-D filter core (fieldconv/filter2d.hpp) used by fieldconv.signal and
// fieldconv.ndimage. Arrays arrive checked and contiguous from fieldconv._filter_args.
#include <string>
#include <utility>
#include <vector>

#include "bindings/register.hpp"
#include "fieldconv/correlate1d.hpp"
#include "fieldconv/fft_correlate.hpp"
#include "fieldconv/filter2d.hpp"

namespace fieldconv::bindings {
namespace {

FilterScalar scalar_of(const py::array& array, const char* name) {
  const py::dtype dtype = array.dtype();
  const char kind = dtype.kind();
  const py::ssize_t size = dtype.itemsize();
  if (kind == 'b' && size == 1) return FilterScalar::boolean;
  if (kind == 'i' || kind == 'u') {
    const bool is_signed = kind == 'i';
    switch (size) {
      case 1: return is_signed ? FilterScalar::int8 : FilterScalar::uint8;
      case 2: return is_signed ? FilterScalar::int16 : FilterScalar::uint16;
      case 4: return is_signed ? FilterScalar::int32 : FilterScalar::uint32;
      case 8: return is_signed ? FilterScalar::int64 : FilterScalar::uint64;
      default: break;
    }
  }
  if (kind == 'f' && size == 4) return FilterScalar::float32;
  if (kind == 'f' && size == 8) return FilterScalar::float64;
  throw py::type_error(std::string(name) + ": unsupported dtype " + py::str(dtype).cast<std::string>());
}

void check_layout(const py::array& array, const char* name, bool writeable) {
  if (array.ndim() != 3 || !(array.flags() & py::array::c_style) || array.dtype().byteorder() == '>')
    throw py::type_error(std::string(name) + ": expected a C-contiguous native 3-d array");
  if (writeable && !array.writeable()) throw py::value_error(std::string(name) + " must be writeable");
}

// The arrays' layout and dtypes are checked by the binding below.
template <class T>
bool correlate_line_fft_of(const py::array& input, const py::array& taps, py::array& output, std::int64_t left,
                           int log2_size) {
  const T* x = static_cast<const T*>(input.data());
  const T* y = static_cast<const T*>(taps.data());
  T* out = static_cast<T*>(output.mutable_data());
  const std::int64_t nx = input.shape(0), ny = taps.shape(0), nout = output.shape(0);
  py::gil_scoped_release release;
  return correlate_line_fft<T>(x, nx, y, ny, out, nout, left, log2_size);
}

void register_fft_correlate(py::module_& module) {
  module.def(
      "correlate_line_fft",
      [](const py::array& input, const py::array& taps, py::array& output, std::int64_t left, int log2_size) -> bool {
        const py::ssize_t size = output.dtype().itemsize();
        const std::pair<const char*, const py::array*> arrays[] = {
            {"input", &input}, {"taps", &taps}, {"output", &output}};
        for (const auto& [name, a] : arrays) {
          const py::dtype dtype = a->dtype();
          if (dtype.kind() != 'f' || dtype.itemsize() != size || (size != 4 && size != 8) || dtype.byteorder() == '>')
            throw py::type_error(std::string("correlate_line_fft: input, taps and output must all be native float32 "
                                             "or all float64, got ") +
                                 name + " of " + py::str(dtype).cast<std::string>() + " with output of " +
                                 py::str(output.dtype()).cast<std::string>());
        }
        for (const auto& [name, a] : arrays)
          if (a->ndim() != 1 || !(a->flags() & py::array::c_style))
            throw py::type_error(
                std::string("correlate_line_fft: ") + name + " must be a C-contiguous 1-d array, got " +
                std::to_string(a->ndim()) + " dimension(s)" +
                (a->ndim() == 1 ? " with a stride of " + std::to_string(a->strides(0)) + " bytes" : ""));
        if (!output.writeable()) throw py::value_error("correlate_line_fft: output must be writeable");
        if (size == 4) return correlate_line_fft_of<float>(input, taps, output, left, log2_size);
        return correlate_line_fft_of<double>(input, taps, output, left, log2_size);
      },
      py::arg("input"), py::arg("taps"), py::arg("output"), py::arg("left"), py::arg("log2_size") = 0,
      "output[i] = sum_j input[i + j - left] * taps[j] by overlap-save FFTs of 2**log2_size points (0: "
      "picked), into a preallocated contiguous 1-d output (fieldconv/fft_correlate.hpp). False when an "
      "output is not finite (compute those directly).");
  module.def(
      "fft_correlate_plan",
      [](std::int64_t taps, bool float32) {
        const FftCorrelatePlan plan = fft_correlate_plan(taps, float32);
        return py::make_tuple(plan.log2_size, plan.ns_per_output);
      },
      py::arg("taps"), py::arg("float32"),
      "(log2 of the FFT length correlate_line_fft picks for `taps` taps, 0: too many; estimated ns "
      "per output on one thread).");
}

}  // namespace

void register_filter2d(py::module_& module) {
  register_fft_correlate(module);
  module.def(
      "filter2d",
      [](const py::array& input, py::array& output, const py::array_t<std::int64_t, py::array::c_style>& tap_rows,
         const py::array_t<std::int64_t, py::array::c_style>& tap_cols, const py::array& weights, const py::array& fill,
         int accumulator, std::int64_t row_offset, std::int64_t col_offset, int border) {
        check_layout(input, "input", false);
        check_layout(output, "output", true);
        const FilterScalar input_type = scalar_of(input, "input");
        const FilterScalar output_type = scalar_of(output, "output");
        static const char* accumulator_dtypes[] = {"float32", "float64", "uint32", "uint64"};
        if (accumulator < 0 || accumulator > 3) throw py::value_error("accumulator must be 0..3");
        const py::dtype acc_dtype(accumulator_dtypes[accumulator]);
        if (!weights.dtype().is(acc_dtype) && !weights.dtype().equal(acc_dtype))
          throw py::type_error("weights must have the accumulator's dtype");
        if (!fill.dtype().equal(acc_dtype) || fill.size() != 1)
          throw py::type_error("fill must be one accumulator value");
        if (!(weights.flags() & py::array::c_style)) throw py::type_error("weights must be contiguous");
        const py::ssize_t count = tap_rows.size();
        if (tap_cols.size() != count || weights.size() != count)
          throw py::value_error("tap rows, columns and weights must have the same length");
        if (input.shape(0) != output.shape(0)) throw py::value_error("input and output plane counts differ");
        Filter2dParams p;
        p.planes = input.shape(0);
        p.in_height = input.shape(1);
        p.in_width = input.shape(2);
        p.out_height = output.shape(1);
        p.out_width = output.shape(2);
        p.row_offset = row_offset;
        p.col_offset = col_offset;
        p.border = static_cast<FilterBorder>(border);
        Filter2dTaps taps;
        taps.count = count;
        taps.rows = tap_rows.data();
        taps.cols = tap_cols.data();
        taps.weights = weights.data();
        const void* in_data = input.data();
        void* out_data = output.mutable_data();
        const void* fill_data = fill.data();
        py::gil_scoped_release release;
        filter2d(p, input_type, in_data, output_type, out_data, static_cast<FilterAccumulator>(accumulator), taps,
                 fill_data);
      },
      py::arg("input"), py::arg("output"), py::arg("tap_rows"), py::arg("tap_cols"), py::arg("weights"),
      py::arg("fill"), py::arg("accumulator"), py::arg("row_offset"), py::arg("col_offset"), py::arg("border"),
      "2-D filter of a (planes, H, W) stack into a preallocated (planes, H_out, W_out) output "
      "(fieldconv/filter2d.hpp); arguments already checked by fieldconv._filter_args.");

  module.def(
      "filter_nd",
      [](const py::array& input, py::array& output, const py::array_t<std::int64_t, py::array::c_style>& coords,
         const py::array& weights, const py::array& fill, int accumulator,
         const py::array_t<std::int64_t, py::array::c_style>& offsets, int border) {
        const py::ssize_t ndim = input.ndim();
        if (!(input.flags() & py::array::c_style) || input.dtype().byteorder() == '>')
          throw py::type_error("input: expected a C-contiguous native array");
        if (!(output.flags() & py::array::c_style) || output.dtype().byteorder() == '>')
          throw py::type_error("output: expected a C-contiguous native array");
        if (!output.writeable()) throw py::value_error("output must be writeable");
        if (output.ndim() != ndim) throw py::value_error("input and output shapes differ");
        for (py::ssize_t d = 0; d < ndim; ++d)
          if (input.shape(d) != output.shape(d)) throw py::value_error("input and output shapes differ");
        if (offsets.ndim() != 1 || offsets.size() != ndim)
          throw py::value_error("offsets must have one entry per axis");
        if (coords.ndim() != 2 || coords.shape(1) != ndim)
          throw py::value_error("coords must be (taps, ndim) tap coordinates");
        const FilterScalar input_type = scalar_of(input, "input");
        const FilterScalar output_type = scalar_of(output, "output");
        static const char* accumulator_dtypes[] = {"float32", "float64", "uint32", "uint64"};
        if (accumulator < 0 || accumulator > 3) throw py::value_error("accumulator must be 0..3");
        const py::dtype acc_dtype(accumulator_dtypes[accumulator]);
        if (!weights.dtype().equal(acc_dtype) || !(weights.flags() & py::array::c_style))
          throw py::type_error("weights must be a contiguous array of the accumulator's dtype");
        if (!fill.dtype().equal(acc_dtype) || fill.size() != 1)
          throw py::type_error("fill must be one accumulator value");
        if (weights.size() != coords.shape(0)) throw py::value_error("coords and weights must have the same length");
        std::vector<std::int64_t> shape(static_cast<std::size_t>(ndim));
        for (py::ssize_t d = 0; d < ndim; ++d) shape[d] = input.shape(d);
        FilterNdTaps taps;
        taps.count = coords.shape(0);
        taps.coords = coords.data();
        taps.weights = weights.data();
        const void* in_data = input.data();
        void* out_data = output.mutable_data();
        const void* fill_data = fill.data();
        const std::int64_t* offset_data = offsets.data();
        py::gil_scoped_release release;
        filter_nd(int(ndim), shape.data(), offset_data, static_cast<FilterBorder>(border), input_type, in_data,
                  output_type, out_data, static_cast<FilterAccumulator>(accumulator), taps, fill_data);
      },
      py::arg("input"), py::arg("output"), py::arg("coords"), py::arg("weights"), py::arg("fill"),
      py::arg("accumulator"), py::arg("offsets"), py::arg("border"),
      "N-D filter of an array into a preallocated array of its shape (fieldconv/filter2d.hpp, "
      "filter_nd); arguments already checked by fieldconv._filter_args.");

  module.def(
      "correlate1d",
      [](const py::array& input, py::array& output, const py::array_t<double, py::array::c_style>& weights,
         std::int64_t size, std::int64_t origin, int border, double cval, int kind) {
        check_layout(input, "input", false);
        check_layout(output, "output", true);
        for (int d = 0; d < 3; ++d)
          if (input.shape(d) != output.shape(d)) throw py::value_error("input and output shapes differ");
        if (kind == 0 && weights.size() != size) throw py::value_error("weights must have `size` elements");
        const FilterScalar input_type = scalar_of(input, "input");
        const FilterScalar output_type = scalar_of(output, "output");
        Correlate1dParams p;
        p.outer = input.shape(0);
        p.length = input.shape(1);
        p.inner = input.shape(2);
        p.size = size;
        p.origin = origin;
        p.border = static_cast<FilterBorder>(border);
        p.cval = cval;
        p.kind = static_cast<Line1dKind>(kind);
        const void* in_data = input.data();
        void* out_data = output.mutable_data();
        const double* w = weights.data();
        py::gil_scoped_release release;
        correlate1d(p, input_type, in_data, output_type, out_data, w);
      },
      py::arg("input"), py::arg("output"), py::arg("weights"), py::arg("size"), py::arg("origin"), py::arg("border"),
      py::arg("cval"), py::arg("kind"),
      "1-D filter along the middle axis of a C-contiguous (outer, length, inner) array into a "
      "preallocated output of the same shape (fieldconv/correlate1d.hpp); kind 0: weights, "
      "1: uniform. Output may be the input itself.");

  module.def(
      "correlate1d_then_last",
      [](const py::array& input, py::array& output, const py::array_t<double, py::array::c_style>& weights,
         std::int64_t origin, int border, double cval, const py::array_t<double, py::array::c_style>& weights2,
         std::int64_t origin2, int border2, double cval2) {
        check_layout(input, "input", false);
        check_layout(output, "output", true);
        for (int d = 0; d < 3; ++d)
          if (input.shape(d) != output.shape(d)) throw py::value_error("input and output shapes differ");
        const FilterScalar input_type = scalar_of(input, "input");
        const FilterScalar output_type = scalar_of(output, "output");
        Correlate1dParams first, last;
        first.outer = input.shape(0);
        first.length = input.shape(1);
        first.inner = input.shape(2);
        first.size = weights.size();
        first.origin = origin;
        first.border = static_cast<FilterBorder>(border);
        first.cval = cval;
        last.size = weights2.size();
        last.origin = origin2;
        last.border = static_cast<FilterBorder>(border2);
        last.cval = cval2;
        const void* in_data = input.data();
        void* out_data = output.mutable_data();
        const double* w1 = weights.data();
        const double* w2 = weights2.data();
        py::gil_scoped_release release;
        correlate1d_then_last(first, w1, last, w2, input_type, in_data, output_type, out_data);
      },
      py::arg("input"), py::arg("output"), py::arg("weights"), py::arg("origin"), py::arg("border"), py::arg("cval"),
      py::arg("weights2"), py::arg("origin2"), py::arg("border2"), py::arg("cval2"),
      "correlate1d along the middle axis of (outer, length, inner), then along the last axis of the "
      "output in place, in one sweep where the rows fit (fieldconv/correlate1d.hpp).");

  module.def(
      "correlate1d_then_last_two",
      [](const py::array& input, py::array& output, std::int64_t plane_rows,
         const py::array_t<double, py::array::c_style>& w1, int border1,
         const py::array_t<double, py::array::c_style>& w2, int border2,
         const py::array_t<double, py::array::c_style>& w3, int border3, double cval) {
        check_layout(input, "input", false);
        check_layout(output, "output", true);
        for (int d = 0; d < 3; ++d)
          if (input.shape(d) != output.shape(d)) throw py::value_error("input and output shapes differ");
        const FilterScalar input_type = scalar_of(input, "input");
        const FilterScalar output_type = scalar_of(output, "output");
        Correlate1dParams first, middle, last;
        first.outer = input.shape(0);
        first.length = input.shape(1);
        first.inner = input.shape(2);
        first.size = w1.size();
        first.border = static_cast<FilterBorder>(border1);
        middle.size = w2.size();
        middle.border = static_cast<FilterBorder>(border2);
        last.size = w3.size();
        last.border = static_cast<FilterBorder>(border3);
        first.cval = middle.cval = last.cval = cval;
        const void* in_data = input.data();
        void* out_data = output.mutable_data();
        const double *p1 = w1.data(), *p2 = w2.data(), *p3 = w3.data();
        py::gil_scoped_release release;
        correlate1d_then_last_two(first, p1, middle, p2, last, p3, plane_rows, input_type, in_data, output_type,
                                  out_data);
      },
      py::arg("input"), py::arg("output"), py::arg("plane_rows"), py::arg("weights1"), py::arg("border1"),
      py::arg("weights2"), py::arg("border2"), py::arg("weights3"), py::arg("border3"), py::arg("cval"),
      "Three correlate1d passes (middle axis of (outer, length, inner), then the rows and columns of "
      "each inner plane of plane_rows rows), origin 0, in one sweep (fieldconv/correlate1d.hpp).");
}

}  // namespace fieldconv::bindings
