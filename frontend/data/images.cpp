// Images as arrays: color conversion, resizing, load/save, and folders of images as a dataset.
#include "frontend/data/images.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "frontend/data/dataset.h"
#include "graph/error.h"

namespace soma::data {

namespace fs = std::filesystem;

ColorMode parse_color_mode(const std::string& s) {
  if (s == "grayscale") return ColorMode::grayscale;
  if (s == "rgb") return ColorMode::rgb;
  if (s == "rgba") return ColorMode::rgba;
  SOMA_THROW(ValueError, "unknown color_mode '" << s << "' (one of: grayscale, rgb, rgba)");
}

Interpolation parse_interpolation(const std::string& s) {
  if (s == "nearest") return Interpolation::nearest;
  if (s == "bilinear") return Interpolation::bilinear;
  SOMA_THROW(ValueError, "unknown interpolation '" << s << "' (one of: nearest, bilinear)");
}

LabelMode parse_label_mode(const std::string& s) {
  if (s == "int") return LabelMode::int_labels;
  if (s == "categorical") return LabelMode::categorical;
  if (s == "binary") return LabelMode::binary;
  SOMA_THROW(ValueError, "unknown label_mode '" << s << "' (one of: int, categorical, binary)");
}

namespace {

int channels_of(ColorMode m) {
  return m == ColorMode::grayscale ? 1 : m == ColorMode::rgb ? 3 : 4;
}

// [H, W, C] -> [C, H, W] (a copy).
Array to_channels_first(const Array& hwc) {
  const int64_t h = hwc.shape()[0], w = hwc.shape()[1], c = hwc.shape()[2];
  Array out(DType::f32, Shape{c, h, w});
  const float* s = hwc.data<float>();
  float* d = out.data<float>();
  for (int64_t i = 0; i < h * w; ++i)
    for (int64_t k = 0; k < c; ++k) d[k * h * w + i] = s[i * c + k];
  return out;
}

}  // namespace

Array image_to_array(const Image& image, ColorMode mode) {
  const int out_c = channels_of(mode), in_c = image.channels;
  const bool wide = image.bit_depth == 16;
  const double unit = wide ? 255.0 / 65535.0 : 1.0;
  Array out(DType::f32, Shape{image.height, image.width, out_c});
  float* d = out.data<float>();
  const int64_t n = image.height * image.width;
  const bool in_color = in_c >= 3, in_alpha = in_c == 2 || in_c == 4;
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t* s = &image.samples[static_cast<size_t>(i * in_c)];
    float* o = d + i * out_c;
    if (mode == ColorMode::grayscale) {
      if (!in_color) {
        o[0] = static_cast<float>(s[0] * unit);
      } else if (!wide) {
        // PIL's fixed-point ITU-R 601 luma, rounded: what keras.utils.load_img gives.
        o[0] = static_cast<float>((s[0] * 19595u + s[1] * 38470u + s[2] * 7471u + 0x8000u) >> 16);
      } else {
        o[0] = static_cast<float>((0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2]) * unit);
      }
      continue;
    }
    for (int k = 0; k < 3; ++k) o[k] = static_cast<float>(s[in_color ? k : 0] * unit);
    if (out_c == 4) o[3] = in_alpha ? static_cast<float>(s[in_c - 1] * unit) : 255.0f;
  }
  return out;
}

Array resize_image(const Array& hwc, int64_t height, int64_t width, Interpolation how) {
  if (hwc.dtype() != DType::f32 || hwc.shape().rank() != 3)
    SOMA_THROW(ShapeError, "resize_image takes an f32 [H, W, C] image, not " << hwc.type_str());
  if (height < 1 || width < 1)
    SOMA_THROW(ValueError, "cannot resize an image to " << height << "x" << width);
  const int64_t ih = hwc.shape()[0], iw = hwc.shape()[1], c = hwc.shape()[2];
  if (ih == height && iw == width) return hwc;
  Array out(DType::f32, Shape{height, width, c});
  const float* s = hwc.data<float>();
  float* d = out.data<float>();
  const double sy = static_cast<double>(ih) / height, sx = static_cast<double>(iw) / width;
  if (how == Interpolation::nearest) {
    for (int64_t y = 0; y < height; ++y) {
      const int64_t iy = std::min(static_cast<int64_t>(std::floor((y + 0.5) * sy)), ih - 1);
      for (int64_t x = 0; x < width; ++x) {
        const int64_t ix = std::min(static_cast<int64_t>(std::floor((x + 0.5) * sx)), iw - 1);
        std::copy_n(s + (iy * iw + ix) * c, c, d + (y * width + x) * c);
      }
    }
    return out;
  }
  // Bilinear with half-pixel centers: source coordinate (o + 0.5) * scale - 0.5, its two
  // neighbours clamped to the image.
  struct Tap {
    int64_t lo, hi;
    double frac;
  };
  auto taps = [](int64_t out_n, int64_t in_n, double scale) {
    std::vector<Tap> t(static_cast<size_t>(out_n));
    for (int64_t o = 0; o < out_n; ++o) {
      const double in = (o + 0.5) * scale - 0.5, fl = std::floor(in);
      t[static_cast<size_t>(o)] = {std::max<int64_t>(static_cast<int64_t>(fl), 0),
                                   std::min<int64_t>(static_cast<int64_t>(std::ceil(in)), in_n - 1),
                                   in - fl};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(height, ih, sy), tx = taps(width, iw, sx);
  for (int64_t y = 0; y < height; ++y) {
    const Tap& a = ty[static_cast<size_t>(y)];
    for (int64_t x = 0; x < width; ++x) {
      const Tap& b = tx[static_cast<size_t>(x)];
      for (int64_t k = 0; k < c; ++k) {
        const double tl = s[(a.lo * iw + b.lo) * c + k], tr = s[(a.lo * iw + b.hi) * c + k];
        const double bl = s[(a.hi * iw + b.lo) * c + k], br = s[(a.hi * iw + b.hi) * c + k];
        const double top = tl + (tr - tl) * b.frac, bottom = bl + (br - bl) * b.frac;
        d[(y * width + x) * c + k] = static_cast<float>(top + (bottom - top) * a.frac);
      }
    }
  }
  return out;
}

Array load_image(const std::string& path, const LoadImageOptions& options) {
  Array a = image_to_array(read_png(path), options.color_mode);
  if (options.size)
    a = resize_image(a, options.size->first, options.size->second, options.interpolation);
  return options.channels_first ? to_channels_first(a) : a;
}

void save_image(const std::string& path, const Array& x, bool scale, bool channels_first) {
  const int rank = x.shape().rank();
  if (rank != 2 && rank != 3)
    SOMA_THROW(ShapeError,
               "save_image takes an image [H, W] or [H, W, C] (channels_first: "
               "[C, H, W]), not "
                   << x.type_str());
  const int64_t h = x.shape()[rank == 3 && channels_first ? 1 : 0];
  const int64_t w = x.shape()[rank == 3 && channels_first ? 2 : 1];
  const int64_t c = rank == 2 ? 1 : x.shape()[channels_first ? 0 : 2];
  if (c < 1 || c > 4)
    SOMA_THROW(ShapeError, "save_image: an image has 1 to 4 channels; "
                               << x.type_str() << " has " << c << " ("
                               << (channels_first ? "channels_first" : "channels_last") << ")");
  std::vector<double> v = x.to_doubles();
  double lo = 0, hi = 255;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      SOMA_THROW(ValueError, "save_image: element " << i << " of the image is " << v[i]);
  if (scale && !v.empty()) {
    lo = *std::min_element(v.begin(), v.end());
    hi = *std::max_element(v.begin(), v.end()) - lo;
  }
  Image img;
  img.height = h;
  img.width = w;
  img.channels = static_cast<int>(c);
  img.samples.resize(v.size());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t xx = 0; xx < w; ++xx)
      for (int64_t k = 0; k < c; ++k) {
        const int64_t src =
            channels_first && rank == 3 ? (k * h + y) * w + xx : (y * w + xx) * c + k;
        double val = v[static_cast<size_t>(src)];
        if (scale) {
          val -= lo;
          if (hi != 0) val = val / hi * 255;
        } else if (val < 0 || val > 255) {
          SOMA_THROW(ValueError, "save_image: element " << src << " is " << val
                                                        << ", outside [0, 255] (pass scale=True "
                                                           "to map [min, max] to [0, 255])");
        }
        // Truncated, as Keras's astype("uint8") does.
        img.samples[static_cast<size_t>((y * w + xx) * c + k)] =
            static_cast<uint16_t>(std::clamp(val, 0.0, 255.0));
      }
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);  // write_png names any failure
  write_png(path, img);
}

namespace {

bool is_png(const std::string& ext) {
  return ext == ".png";
}
bool is_other_image(const std::string& ext) {
  return ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif";
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The image files under `dir` (recursively, not following links), ordered as os.walk sorted by
// folder and then by name.
std::vector<std::string> image_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;
  std::vector<std::string> others;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string ext = lower(it->path().extension().string());
    if (is_png(ext))
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    else if (is_other_image(ext))
      others.push_back(it->path().string());
  }
  if (ec)
    SOMA_THROW(IOError, "cannot list image folder '" << dir.string() << "': " << ec.message());
  if (!others.empty()) {
    std::sort(others.begin(), others.end());
    SOMA_THROW(IOError,
               "'" << others[0] << "'" << (others.size() > 1 ? " and " : "")
                   << (others.size() > 1 ? std::to_string(others.size() - 1) + " more" : "")
                   << (others.size() > 1 ? " files are" : " is")
                   << " not PNG; soma reads PNG images only (convert them, e.g. with "
                      "ImageMagick: mogrify -format png *.jpg)");
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [parent, name] : found) out.push_back((fs::path(parent) / name).string());
  return out;
}

// Decodes files[i] into row i of x ([N, H, W, C] or [N, C, H, W]) on all cores; the first failing
// file's error (in file order) is rethrown.
void decode_all(const std::vector<std::string>& files, const ImageFolderOptions& o, Array& x) {
  const int64_t n = static_cast<int64_t>(files.size());
  const int64_t row = x.numel() / std::max<int64_t>(n, 1);
  LoadImageOptions lo{o.color_mode, std::pair{o.height, o.width}, o.interpolation,
                      o.channels_first};
  std::vector<std::exception_ptr> errors(files.size());
  const int64_t threads =
      std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(n, 1));
  auto work = [&](int64_t t) {
    for (int64_t i = t; i < n; i += threads) {
      try {
        Array img = load_image(files[static_cast<size_t>(i)], lo);
        std::copy_n(img.data<float>(), row, x.data<float>() + i * row);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

std::vector<ImageFolder> image_dataset_from_directory(const std::string& directory,
                                                      const ImageFolderOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec))
    SOMA_THROW(IOError, "image folder '"
                            << directory << "' is not a folder"
                            << (fs::exists(directory, ec) ? "" : " (it does not exist)"));
  if (o.height < 1 || o.width < 1)
    SOMA_THROW(ValueError, "image_size must be positive, not " << o.height << "x" << o.width);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    SOMA_THROW(ValueError, "validation_split must be in [0, 1), not " << o.validation_split);
  const bool split = o.validation_split > 0;
  if (split && o.subset != "training" && o.subset != "validation" && o.subset != "both")
    SOMA_THROW(ValueError, "a validation_split needs subset='training', 'validation' or 'both'"
                               << (o.subset.empty() ? "" : ", not '" + o.subset + "'"));
  if (!split && !o.subset.empty())
    SOMA_THROW(ValueError, "subset='" << o.subset << "' needs a validation_split");

  std::vector<std::string> subdirs;
  for (const auto& e : fs::directory_iterator(directory, ec))
    if (e.is_directory()) subdirs.push_back(e.path().filename().string());
  if (ec) SOMA_THROW(IOError, "cannot list image folder '" << directory << "': " << ec.message());
  std::sort(subdirs.begin(), subdirs.end());
  std::vector<std::string> classes = subdirs;
  if (!o.class_names.empty()) {
    std::set<std::string> given(o.class_names.begin(), o.class_names.end()),
        have(subdirs.begin(), subdirs.end());
    if (given.size() != o.class_names.size())
      SOMA_THROW(ValueError, "class_names lists a name twice");
    if (given != have) {
      std::string list;
      for (const auto& s : subdirs) list += (list.empty() ? "" : ", ") + s;
      SOMA_THROW(ValueError, "class_names must name exactly the subfolders of '"
                                 << directory
                                 << "', which are: " << (list.empty() ? "(none)" : list));
    }
    classes = o.class_names;
  }
  if (classes.empty() && o.label_mode != LabelMode::none)
    SOMA_THROW(IOError, "image folder '" << directory
                                         << "' has no subfolders: put each class's images in a "
                                            "subfolder named after the class");
  if (o.label_mode == LabelMode::binary && classes.size() != 2)
    SOMA_THROW(ValueError, "label_mode='binary' needs exactly 2 classes; '" << directory << "' has "
                                                                            << classes.size());

  std::vector<std::string> files;
  std::vector<int32_t> labels;
  if (o.label_mode == LabelMode::none) {
    files = image_files(directory);
  } else {
    for (size_t k = 0; k < classes.size(); ++k) {
      std::vector<std::string> f = image_files(fs::path(directory) / classes[k]);
      files.insert(files.end(), f.begin(), f.end());
      labels.insert(labels.end(), f.size(), static_cast<int32_t>(k));
    }
  }
  if (files.empty()) SOMA_THROW(IOError, "image folder '" << directory << "' holds no PNG images");
  if (o.shuffle) {
    std::vector<int64_t> perm =
        shuffled_indices(static_cast<int64_t>(files.size()), o.seed.value_or(0));
    std::vector<std::string> f2;
    std::vector<int32_t> l2;
    for (int64_t i : perm) {
      f2.push_back(files[static_cast<size_t>(i)]);
      if (!labels.empty()) l2.push_back(labels[static_cast<size_t>(i)]);
    }
    files.swap(f2);
    labels.swap(l2);
  }

  const int64_t n_all = static_cast<int64_t>(files.size());
  const int64_t n_val = split ? static_cast<int64_t>(o.validation_split * n_all) : 0;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [begin, end) of each result
  if (!split) ranges = {{0, n_all}};
  if (o.subset == "training" || o.subset == "both") ranges.push_back({0, n_all - n_val});
  if (o.subset == "validation" || o.subset == "both") ranges.push_back({n_all - n_val, n_all});

  const int64_t c = channels_of(o.color_mode);
  const double bytes = static_cast<double>(n_all) * o.height * o.width * c * 4;
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (ram > 0 && bytes > ram)
    SOMA_THROW(ValueError, n_all << " images of " << o.height << "x" << o.width << "x" << c
                                 << " f32 need " << bytes / (1 << 30) << " GiB, more than this "
                                 << "machine's " << ram / (1 << 30)
                                 << " GiB: choose a smaller image_size or a validation subset");

  std::vector<ImageFolder> out;
  for (auto [b, e] : ranges) {
    ImageFolder r;
    r.class_names = classes;
    r.file_paths.assign(files.begin() + b, files.begin() + e);
    const int64_t n = e - b;
    r.x = o.channels_first ? Array(DType::f32, Shape{n, c, o.height, o.width})
                           : Array(DType::f32, Shape{n, o.height, o.width, c});
    if (n > 0) decode_all(r.file_paths, o, r.x);
    const int64_t k = static_cast<int64_t>(classes.size());
    switch (o.label_mode) {
      case LabelMode::none:
        break;
      case LabelMode::int_labels:
        r.y = Array::from_i32(Shape{n}, std::span(labels).subspan(static_cast<size_t>(b), n));
        break;
      case LabelMode::categorical: {
        Array y(DType::f32, Shape{n, k});
        for (int64_t i = 0; i < n; ++i)
          y.data<float>()[i * k + labels[static_cast<size_t>(b + i)]] = 1;
        r.y = y;
        break;
      }
      case LabelMode::binary: {
        Array y(DType::f32, Shape{n, 1});
        for (int64_t i = 0; i < n; ++i)
          y.data<float>()[i] = static_cast<float>(labels[static_cast<size_t>(b + i)]);
        r.y = y;
        break;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace soma::data
