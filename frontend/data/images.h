// Images as arrays, the way Keras's image utilities give them: load_image (keras.utils.load_img +
// img_to_array), save_image (keras.utils.save_img) and image_dataset_from_directory (one class per
// subfolder). Values are f32 in [0, 255] (16-bit images scaled by 255/65535), laid out [H, W, C]
// (channels_last, Keras's default) or [C, H, W] (channels_first, the layout soma's Conv2D
// computes in). PNG is the file format (frontend/data/png.h); JPEG, BMP and GIF files in an image
// folder are an error that names them, never silently skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frontend/data/png.h"
#include "runtime/array.h"

namespace soma::data {

enum class ColorMode { grayscale, rgb, rgba };
enum class Interpolation { nearest, bilinear };
enum class LabelMode { none, int_labels, categorical, binary };

// Parse Keras's names ("grayscale", "rgb", "rgba"; "nearest", "bilinear"; "int", "categorical",
// "binary"); ValueError listing the valid ones otherwise.
ColorMode parse_color_mode(const std::string& s);
Interpolation parse_interpolation(const std::string& s);
LabelMode parse_label_mode(const std::string& s);

// An image's pixels as f32 [H, W, C] in [0, 255] in `mode`: RGB to gray by ITU-R 601 luma
// (0.299 R + 0.587 G + 0.114 B, as PIL and keras.utils.load_img do); a missing alpha is opaque
// (255); alpha is dropped (not composited) when the mode has none.
Array image_to_array(const Image& image, ColorMode mode);
// Resizes f32 [H, W, C] to [height, width, C] as tf.image.resize does (half-pixel centers, no
// antialiasing).
Array resize_image(const Array& hwc, int64_t height, int64_t width, Interpolation how);

struct LoadImageOptions {
  ColorMode color_mode = ColorMode::rgb;
  std::optional<std::pair<int64_t, int64_t>> size;       // [height, width]; none: as stored
  Interpolation interpolation = Interpolation::nearest;  // load_img's default
  bool channels_first = false;
};
Array load_image(const std::string& path, const LoadImageOptions& options = {});

// Writes a [H, W] or [H, W, C] (C 1..4; [C, H, W] with channels_first) array as an 8-bit PNG.
// With `scale`, values are mapped linearly from [min, max] to [0, 255] (Keras's save_img); without
// it they must lie in [0, 255] already (ValueError naming the first that does not); values are
// then truncated to integers, as Keras's astype("uint8") does. Missing folders of `path` are
// created.
void save_image(const std::string& path, const Array& x, bool scale = true,
                bool channels_first = false);

struct ImageFolderOptions {
  LabelMode label_mode = LabelMode::int_labels;  // none: no labels (Keras's labels=None)
  std::vector<std::string> class_names;  // the subfolders to use, in label order; empty: all,
                                         // sorted
  ColorMode color_mode = ColorMode::rgb;
  int64_t height = 256, width = 256;  // every image is resized to this
  Interpolation interpolation = Interpolation::bilinear;
  bool shuffle = true;
  std::optional<uint64_t> seed;  // none: a fixed default (soma's runs are reproducible)
  double validation_split = 0;   // 0: no split
  // "training", "validation" or "both" (with a validation_split); "": all files.
  std::string subset;
  bool channels_first = false;
};

struct ImageFolder {
  Array x;                 // f32 [N, H, W, C] or [N, C, H, W]
  std::optional<Array> y;  // i32 [N] (int), f32 [N, K] (categorical), f32 [N, 1] (binary)
  std::vector<std::string> class_names;
  std::vector<std::string> file_paths;  // in the order of x's rows
};

// Reads `directory`/<class>/**/*.png (subfolders searched recursively, files in sorted order,
// labels in class-name order), as keras.utils.image_dataset_from_directory(labels="inferred")
// does, into arrays. Returns one ImageFolder, or two (training, validation) for subset "both".
// The split is Keras's: the shuffled file list's last floor(split * N) files are the
// validation set. Errors (IOError/ValueError) name the folder or the file: no class folders,
// an empty folder, a non-PNG image, a corrupt PNG, "binary" with other than 2 classes.
std::vector<ImageFolder> image_dataset_from_directory(const std::string& directory,
                                                      const ImageFolderOptions& options = {});

}  // namespace soma::data
