// Fashion-MNIST (Zalando's 28x28 grayscale clothes, 10 classes) from the IDX files of Debian's
// dataset-fashion-mnist package:
//   /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
// The folder is found as: the `dir` argument if given; else $SOMA_DATA/fashion-mnist or
// $SOMA_DATA itself (the first holding the files); else /usr/share/datasets/fashion-mnist.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "runtime/array.h"

namespace soma::data {

struct FashionMnist {
  Array x_train;  // f32 [60000, 28, 28] in [0, 1] (or the raw 0..255 values when not normalized)
  Array y_train;  // i32 [60000], classes 0..9
  Array x_test;   // f32 [10000, 28, 28]
  Array y_test;   // i32 [10000]
};

// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
// "Ankle boot".
extern const std::array<const char*, 10> kFashionMnistClasses;

struct FashionMnistOptions {
  std::string dir;           // "" : $SOMA_DATA, then the Debian package's folder
  int64_t train_limit = -1;  // load only the first N training samples (-1: all)
  int64_t test_limit = -1;   // load only the first N test samples (-1: all)
  bool normalize = true;     // divide pixels by 255
};

// The folder the loader would use, or "" when no candidate holds the four files.
std::string find_fashion_mnist_dir(const std::string& dir = "");
// Throws IOError when the files are missing — naming the folders searched and saying to
// `apt-get install dataset-fashion-mnist` (or to set SOMA_DATA) — or malformed, or when images
// and labels disagree (count, 28x28, labels outside 0..9).
FashionMnist load_fashion_mnist(const FashionMnistOptions& options = {});

}  // namespace soma::data
