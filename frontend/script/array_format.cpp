#include "frontend/script/array_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

namespace soma::script {

namespace {

// Shortest round-trip digits of v (as its dtype: a float32 value gets float32's shortest form).
std::string shortest(double v, DType t, std::chars_format fmt) {
  char buf[512];
  std::to_chars_result r = t == DType::f32
                               ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), fmt)
                               : std::to_chars(buf, buf + sizeof buf, v, fmt);
  return std::string(buf, r.ptr);
}

std::string with_precision(double v, DType t, std::chars_format fmt, int precision) {
  char buf[512];
  std::to_chars_result r =
      t == DType::f32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), fmt, precision)
                      : std::to_chars(buf, buf + sizeof buf, v, fmt, precision);
  return std::string(buf, r.ptr);
}

// Splits "-1.25" into "-1" and "25" (the fraction may be empty); adds no digits.
void split_point(const std::string& s, std::string& int_part, std::string& frac) {
  size_t dot = s.find('.');
  int_part = dot == std::string::npos ? s : s.substr(0, dot);
  frac = dot == std::string::npos ? "" : s.substr(dot + 1);
}

void trim_zeros(std::string& frac) {
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
}

// numpy's dragon4_positional(unique=True, precision=p, trim='.'): the shortest digits that
// read back, cut to p fractional digits.
void positional(double v, DType t, int precision, std::string& int_part, std::string& frac) {
  split_point(shortest(v, t, std::chars_format::fixed), int_part, frac);
  if (static_cast<int>(frac.size()) > precision) {
    split_point(with_precision(v, t, std::chars_format::fixed, precision), int_part, frac);
    trim_zeros(frac);
  }
}

// numpy's dragon4_scientific(unique=True, precision=p): mantissa int and fraction, exponent
// (with sign, e.g. "-05").
void scientific(double v, DType t, int precision, std::string& int_part, std::string& frac,
                std::string& exp) {
  std::string s = shortest(v, t, std::chars_format::scientific);
  size_t e = s.find('e');
  split_point(s.substr(0, e), int_part, frac);
  if (static_cast<int>(frac.size()) > precision) {
    s = with_precision(v, t, std::chars_format::scientific, precision);
    e = s.find('e');
    split_point(s.substr(0, e), int_part, frac);
    trim_zeros(frac);
  }
  exp = s.substr(e + 1);
}

// The element formatter: numpy's FloatingFormat / IntegerFormat / BoolFormat, fitted to the
// elements that will be shown.
class ElementFormat {
 public:
  ElementFormat(const Array& a, const std::vector<int64_t>& shown, const PrintOptions& o,
                bool zero_d)
      : a_(a), t_(a.dtype()), precision_(o.precision) {
    if (t_ == DType::boolean) {
      zero_d_ = zero_d;
      return;
    }
    if (!is_float(t_)) {
      for (int64_t i : shown) width_ = std::max(width_, static_cast<int>(int_text(i).size()));
      return;
    }
    std::vector<double> finite;
    for (int64_t i : shown) {
      double v = a.get(i);
      if (std::isfinite(v)) finite.push_back(v);
    }
    double max_val = 0, min_val = 0;
    bool any = false;
    for (double v : finite) {
      if (v == 0) continue;
      double m = std::fabs(v);
      max_val = any ? std::max(max_val, m) : m;
      min_val = any ? std::min(min_val, m) : m;
      any = true;
    }
    exp_ = any && (max_val >= 1e8 || min_val < 1e-4 || max_val / min_val > 1e3);
    std::string ip, fp, ep;
    if (exp_) {
      int frac_max = 0;
      for (double v : finite) {
        scientific(v, t_, precision_, ip, fp, ep);
        pad_left_ = std::max(pad_left_, static_cast<int>(ip.size()));
        frac_max = std::max(frac_max, static_cast<int>(fp.size()));
        exp_size_ = std::max(exp_size_, static_cast<int>(ep.size()) - 1);
      }
      exp_digits_ = frac_max;
      pad_right_ = exp_size_ + 2 + frac_max;
    } else {
      for (double v : finite) {
        positional(v, t_, precision_, ip, fp);
        pad_left_ = std::max(pad_left_, static_cast<int>(ip.size()));
        pad_right_ = std::max(pad_right_, static_cast<int>(fp.size()));
      }
    }
    // Room for "nan", "inf" and "-inf" (numpy widens the integer part for them).
    bool nonfinite = false, neginf = false;
    for (int64_t i : shown) {
      double v = a.get(i);
      nonfinite = nonfinite || !std::isfinite(v);
      neginf = neginf || (std::isinf(v) && v < 0);
    }
    if (nonfinite) pad_left_ = std::max(pad_left_, (neginf ? 4 : 3) - (pad_right_ + 1));
  }

  std::string operator()(int64_t i) const {
    if (t_ == DType::boolean) return a_.get(i) != 0 ? (zero_d_ ? "True" : " True") : "False";
    if (!is_float(t_)) {
      std::string s = int_text(i);
      return std::string(static_cast<size_t>(std::max(0, width_ - static_cast<int>(s.size()))),
                         ' ') +
             s;
    }
    double v = a_.get(i);
    if (!std::isfinite(v)) {
      std::string s = std::isnan(v) ? "nan" : v < 0 ? "-inf" : "inf";
      int w = pad_left_ + pad_right_ + 1;
      return std::string(static_cast<size_t>(std::max(0, w - static_cast<int>(s.size()))), ' ') + s;
    }
    std::string ip, fp, ep;
    std::string out;
    if (exp_) {
      scientific(v, t_, precision_, ip, fp, ep);
      if (static_cast<int>(fp.size()) < exp_digits_) {
        // numpy gives every element the same digits, continuing with the value's exact digits.
        std::string s = with_precision(v, t_, std::chars_format::scientific, exp_digits_);
        size_t e = s.find('e');
        split_point(s.substr(0, e), ip, fp);
        ep = s.substr(e + 1);
      }
      char sign = ep[0] == '-' ? '-' : '+';
      std::string digits = ep.substr(ep[0] == '-' || ep[0] == '+' ? 1 : 0);
      while (static_cast<int>(digits.size()) < exp_size_) digits = "0" + digits;
      out = pad(ip, pad_left_) + "." + fp + "e" + sign + digits;
    } else {
      positional(v, t_, precision_, ip, fp);
      out = pad(ip, pad_left_) + "." + fp;
      out.append(static_cast<size_t>(std::max(0, pad_right_ - static_cast<int>(fp.size()))), ' ');
    }
    return out;
  }

 private:
  static std::string pad(const std::string& s, int w) {
    return std::string(static_cast<size_t>(std::max(0, w - static_cast<int>(s.size()))), ' ') + s;
  }
  std::string int_text(int64_t i) const { return std::to_string(static_cast<int64_t>(a_.get(i))); }

  const Array& a_;
  DType t_;
  int precision_;
  bool zero_d_ = false;
  bool exp_ = false;
  int width_ = 0, pad_left_ = 0, pad_right_ = 0, exp_size_ = 0, exp_digits_ = 0;
};

// numpy's _formatArray: nested brackets, summarization and line wrapping.
class Layout {
 public:
  Layout(const Array& a, const PrintOptions& o, const std::string& separator)
      : a_(a), o_(o), sep_(separator), strides_(a.shape().strides()) {
    summarize_ = a.numel() > o.threshold;
  }

  // The flat indices of the elements that will be shown.
  std::vector<int64_t> shown() const {
    std::vector<int64_t> out;
    std::function<void(int, int64_t)> walk = [&](int axis, int64_t base) {
      if (axis == a_.shape().rank()) {
        out.push_back(base);
        return;
      }
      int64_t n = a_.shape()[axis];
      int64_t st = strides_[static_cast<size_t>(axis)];
      if (summarize_ && 2 * o_.edgeitems < n) {
        for (int64_t i = 0; i < o_.edgeitems; ++i) walk(axis + 1, base + i * st);
        for (int64_t i = n - o_.edgeitems; i < n; ++i) walk(axis + 1, base + i * st);
      } else {
        for (int64_t i = 0; i < n; ++i) walk(axis + 1, base + i * st);
      }
    };
    walk(0, 0);
    return out;
  }

  std::string format(const ElementFormat& f, const std::string& next_line_prefix,
                     int line_width) const {
    return recurse(f, 0, 0, next_line_prefix, line_width, next_line_prefix);
  }

 private:
  void extend(std::string& s, std::string& line, const std::string& word, int width,
              const std::string& next_line_prefix) const {
    bool wrap = static_cast<int>(line.size() + word.size()) > width;
    if (line.size() <= next_line_prefix.size()) wrap = false;
    if (wrap) {
      size_t end = line.find_last_not_of(' ');
      s += line.substr(0, end == std::string::npos ? 0 : end + 1) + "\n";
      line = next_line_prefix;
    }
    line += word;
  }

  std::string recurse(const ElementFormat& f, int axis, int64_t base, const std::string& hanging,
                      int width, const std::string& nlp) const {
    int rank = a_.shape().rank();
    if (axis == rank) return f(base);
    std::string next_hanging = hanging + " ";
    int next_width = width - 1;
    int64_t n = a_.shape()[axis];
    int64_t st = strides_[static_cast<size_t>(axis)];
    bool summary = summarize_ && 2 * o_.edgeitems < n;
    int64_t leading = summary ? o_.edgeitems : 0;
    int64_t trailing = summary ? o_.edgeitems : n;
    std::string s;
    std::string sep_r = sep_.substr(0, sep_.find_last_not_of(' ') + 1);
    if (rank - axis == 1) {
      int elem_width = width - static_cast<int>(std::max(sep_r.size(), size_t{1}));
      std::string line = hanging;
      for (int64_t i = 0; i < leading; ++i) {
        extend(s, line, recurse(f, axis + 1, base + i * st, next_hanging, next_width, nlp),
               elem_width, hanging);
        line += sep_;
      }
      if (summary) {
        extend(s, line, "...", elem_width, hanging);
        line += sep_;
      }
      for (int64_t i = trailing; i > 1; --i) {
        extend(s, line, recurse(f, axis + 1, base + (n - i) * st, next_hanging, next_width, nlp),
               elem_width, hanging);
        line += sep_;
      }
      if (n > 0)
        extend(s, line, recurse(f, axis + 1, base + (n - 1) * st, next_hanging, next_width, nlp),
               elem_width, hanging);
      s += line;
    } else {
      std::string line_sep = sep_r + std::string(static_cast<size_t>(rank - axis - 1), '\n');
      for (int64_t i = 0; i < leading; ++i)
        s +=
            hanging + recurse(f, axis + 1, base + i * st, next_hanging, next_width, nlp) + line_sep;
      if (summary) s += hanging + "..." + line_sep;
      for (int64_t i = trailing; i > 1; --i)
        s += hanging + recurse(f, axis + 1, base + (n - i) * st, next_hanging, next_width, nlp) +
             line_sep;
      if (n > 0)
        s += hanging + recurse(f, axis + 1, base + (n - 1) * st, next_hanging, next_width, nlp);
    }
    std::string out = "[";
    out += std::string_view(s).substr(std::min(hanging.size(), s.size()));
    return out + "]";
  }

  const Array& a_;
  const PrintOptions& o_;
  std::string sep_;
  std::vector<int64_t> strides_;
  bool summarize_ = false;
};

// A 0-d array prints as numpy prints its scalar: Python's float repr with the dtype's shortest
// digits ("0.1" for float32's 0.1, "46.0"), ints and True/False as they are.
std::string zero_d(const Array& a, const PrintOptions&) {
  double v = a.get(0);
  if (a.dtype() == DType::boolean) return v != 0 ? "True" : "False";
  if (!is_float(a.dtype())) return std::to_string(static_cast<int64_t>(v));
  return python_float(v, a.dtype());
}

}  // namespace

std::string format_array_str(const Array& a, const PrintOptions& o) {
  if (a.shape().rank() == 0) return zero_d(a, o);
  if (a.numel() == 0) return "[]";
  Layout layout(a, o, " ");
  ElementFormat f(a, layout.shown(), o, false);
  return layout.format(f, " ", o.linewidth);
}

std::string format_array_repr(const Array& a, const PrintOptions& o) {
  if (a.shape().rank() == 0) return zero_d(a, o);
  bool show_dtype = a.dtype() != DType::f32 && a.dtype() != DType::boolean;
  std::string dtype_str = std::string("dtype=") + dtype_name(a.dtype()) + ")";
  if (a.numel() == 0) {
    std::string s = "array([]";
    if (a.shape().rank() != 1) s += ", shape=" + a.shape().str();
    return s + (show_dtype ? ", " + dtype_str : ")");
  }
  Layout layout(a, o, ", ");
  ElementFormat f(a, layout.shown(), o, false);
  std::string body = layout.format(f, std::string(7, ' '), o.linewidth - 1);
  std::string s = "array(" + body;
  if (!show_dtype) return s + ")";
  s += ",";
  size_t last_nl = s.rfind('\n');
  size_t last_len = last_nl == std::string::npos ? s.size() : s.size() - last_nl - 1;
  if (static_cast<int>(last_len + dtype_str.size() + 1) > o.linewidth)
    return s + "\n" + std::string(6, ' ') + dtype_str;
  return s + " " + dtype_str;
}

std::string python_float(double v, DType t) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  std::string s = shortest(v, t, std::chars_format::scientific);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::stoi(s.substr(e + 1));
  bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant = mant.substr(1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      if (static_cast<int>(digits.size()) <= exp + 1) {
        out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." +
              digits.substr(static_cast<size_t>(exp + 1));
      }
    } else {
      out = "0.";
      out.append(static_cast<size_t>(-exp - 1), '0').append(digits);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return neg ? "-" + out : out;
}

}  // namespace soma::script
