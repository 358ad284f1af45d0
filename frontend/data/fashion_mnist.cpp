#include "frontend/data/fashion_mnist.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "frontend/data/idx.h"
#include "graph/error.h"
#include "runtime/env.h"

namespace soma::data {

const std::array<const char*, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

namespace {

constexpr const char* kDebianDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kFiles[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

bool exists(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return static_cast<bool>(f);
}

// The file's path in `dir`: NAME.gz or NAME (uncompressed), or "" when neither exists.
std::string file_in(const std::string& dir, const std::string& name) {
  for (const std::string& p : {dir + "/" + name + ".gz", dir + "/" + name})
    if (exists(p)) return p;
  return "";
}

bool has_all(const std::string& dir) {
  for (const char* f : kFiles)
    if (file_in(dir, f).empty()) return false;
  return true;
}

std::vector<std::string> candidates(const std::string& dir) {
  if (!dir.empty()) return {dir};
  std::vector<std::string> c;
  if (auto env = env_value("SOMA_DATA")) {
    c.push_back(*env + "/fashion-mnist");
    c.push_back(*env);
  }
  c.push_back(kDebianDir);
  return c;
}

Array images(const std::string& path, int64_t limit, bool normalize) {
  IdxFile f = read_idx(path, limit);
  if (f.type != IdxType::u8 || f.dims.size() != 3 || f.dims[1] != 28 || f.dims[2] != 28)
    SOMA_THROW(IOError, "'" << path << "' does not hold 28x28 u8 images (dims "
                            << Shape(f.dims).str() << ")");
  return idx_to_array(f, DType::f32, normalize ? 1.0 / 255.0 : 1.0);
}

Array labels(const std::string& path, int64_t limit) {
  IdxFile f = read_idx(path, limit);
  if (f.type != IdxType::u8 || f.dims.size() != 1)
    SOMA_THROW(IOError,
               "'" << path << "' does not hold u8 labels (dims " << Shape(f.dims).str() << ")");
  for (uint8_t b : f.bytes)
    if (b > 9) SOMA_THROW(IOError, "'" << path << "' has label " << int(b) << " outside 0..9");
  return idx_to_array(f, DType::i32);
}

}  // namespace

std::string find_fashion_mnist_dir(const std::string& dir) {
  for (const std::string& c : candidates(dir))
    if (has_all(c)) return c;
  return "";
}

FashionMnist load_fashion_mnist(const FashionMnistOptions& o) {
  std::string dir = find_fashion_mnist_dir(o.dir);
  if (dir.empty()) {
    std::string searched;
    for (const std::string& c : candidates(o.dir)) searched += (searched.empty() ? "" : ", ") + c;
    SOMA_THROW(IOError, "Fashion-MNIST not found: no folder holds "
                            << kFiles[0] << ".gz, " << kFiles[1] << ".gz, " << kFiles[2]
                            << ".gz and " << kFiles[3] << ".gz (searched " << searched
                            << "). Install Debian's package with `sudo apt-get install "
                               "dataset-fashion-mnist`, or set SOMA_DATA to a folder holding the "
                               "files");
  }
  FashionMnist d;
  d.x_train = images(file_in(dir, kFiles[0]), o.train_limit, o.normalize);
  d.y_train = labels(file_in(dir, kFiles[1]), o.train_limit);
  d.x_test = images(file_in(dir, kFiles[2]), o.test_limit, o.normalize);
  d.y_test = labels(file_in(dir, kFiles[3]), o.test_limit);
  if (d.x_train.shape()[0] != d.y_train.shape()[0] || d.x_test.shape()[0] != d.y_test.shape()[0])
    SOMA_THROW(IOError, "Fashion-MNIST in '" << dir << "': image and label counts differ ("
                                             << d.x_train.shape()[0] << " vs "
                                             << d.y_train.shape()[0] << ", " << d.x_test.shape()[0]
                                             << " vs " << d.y_test.shape()[0] << ")");
  return d;
}

}  // namespace soma::data
