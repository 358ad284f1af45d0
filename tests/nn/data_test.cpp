// Datasets: the IDX reader (plain and gzip, malformed files rejected), the Fashion-MNIST loader
// (a missing package gives install instructions; SOMA_DATA overrides the folder), shuffling and
// batching.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "frontend/data/dataset.h"
#include "frontend/data/fashion_mnist.h"
#include "frontend/data/idx.h"
#include "nn/nn_test_util.h"

namespace soma::data {
namespace {

std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims,
                      const std::vector<uint8_t>& body) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xFF));
  s.append(body.begin(), body.end());
  return s;
}

std::string temp_dir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/soma_data_" + std::to_string(::getpid()) + "_" + name;
  std::filesystem::create_directories(d);
  return d;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ParsesU8AndBigEndianTypes) {
  IdxFile f = parse_idx(idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 255}), "t");
  EXPECT_EQ(f.dims, (std::vector<int64_t>{2, 3}));
  Array a = idx_to_array(f, DType::f32, 1.0 / 255);
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ(a.get(5), 1.0f);
  EXPECT_FLOAT_EQ(a.get(0), 1.0f / 255);
  IdxFile g = parse_idx(idx_bytes(0x0C, {2}, {0, 0, 1, 2, 0xFF, 0xFF, 0xFF, 0xFE}), "t");
  Array b = idx_to_array(g, DType::i32);
  EXPECT_EQ(b.get(0), 258);
  EXPECT_EQ(b.get(1), -2);
}

TEST(Idx, RejectsMalformedFiles) {
  auto expect_bad = [](const std::string& bytes, const std::string& words) {
    try {
      parse_idx(bytes, "file.idx");
      ADD_FAILURE() << "accepted; expected an error about " << words;
    } catch (const IOError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("file.idx"), std::string::npos) << e.what();
    }
  };
  expect_bad("", "magic");
  expect_bad(std::string("\x01\x00\x08\x01", 4), "zero bytes");
  expect_bad(idx_bytes(0x07, {1}, {0}), "type code 0x07");
  expect_bad(idx_bytes(0x08, {}, {}), "rank 0");
  expect_bad(idx_bytes(0x08, {2, 2}, {1, 2, 3}), "truncated");
  expect_bad(idx_bytes(0x08, {2}, {1, 2, 3}), "unexpected bytes");
  expect_bad(idx_bytes(0x08, {2, 2}, {}).substr(0, 9), "truncated header");
  expect_bad(idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF}, {}), "too large");
}

TEST(Idx, ReadsGzipAndPlainFilesAndRejectsTruncatedGzip) {
  std::string dir = temp_dir("gz");
  std::string bytes = idx_bytes(0x08, {300, 10}, std::vector<uint8_t>(3000, 7));
  write_gz(dir + "/a.gz", bytes);
  EXPECT_EQ(read_idx(dir + "/a.gz").dims, (std::vector<int64_t>{300, 10}));
  std::ofstream(dir + "/b", std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
  EXPECT_EQ(read_idx(dir + "/b").numel(), 3000);
  // Only the first rows, decompressing no more than needed.
  IdxFile first = read_idx(dir + "/a.gz", 7);
  EXPECT_EQ(first.dims, (std::vector<int64_t>{7, 10}));
  EXPECT_EQ(first.bytes.size(), 70u);
  EXPECT_EQ(read_idx(dir + "/a.gz", 1000).dims[0], 300);  // more than there are: all
  EXPECT_EQ(read_idx(dir + "/b", 0).dims[0], 0);
  std::ifstream in(dir + "/a.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/c.gz", std::ios::binary).write(gz.data(), static_cast<long>(gz.size() / 2));
  EXPECT_THROW(read_idx(dir + "/c.gz"), IOError);
  EXPECT_THROW(read_idx(dir + "/missing.gz"), IOError);
  std::filesystem::remove_all(dir);
}

// Writes a tiny fake Fashion-MNIST (n train, m test) into dir.
void write_fake(const std::string& dir, uint32_t n, uint32_t m) {
  auto images = [](uint32_t k) {
    std::vector<uint8_t> px(k * 784);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i % 256);
    return px;
  };
  auto labels = [](uint32_t k) {
    std::vector<uint8_t> l(k);
    for (uint32_t i = 0; i < k; ++i) l[i] = static_cast<uint8_t>(i % 10);
    return l;
  };
  write_gz(dir + "/train-images-idx3-ubyte.gz", idx_bytes(0x08, {n, 28, 28}, images(n)));
  write_gz(dir + "/train-labels-idx1-ubyte.gz", idx_bytes(0x08, {n}, labels(n)));
  write_gz(dir + "/t10k-images-idx3-ubyte.gz", idx_bytes(0x08, {m, 28, 28}, images(m)));
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", idx_bytes(0x08, {m}, labels(m)));
}

TEST(FashionMnist, MissingPackageSaysHowToInstallIt) {
  try {
    load_fashion_mnist({.dir = "/nonexistent/fashion"});
    ADD_FAILURE() << "no error";
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/nonexistent/fashion"), std::string::npos) << msg;
    EXPECT_NE(msg.find("SOMA_DATA"), std::string::npos) << msg;
  }
}

TEST(FashionMnist, SomaDataOverridesTheFolder) {
  std::string root = temp_dir("root");
  std::filesystem::create_directories(root + "/fashion-mnist");
  write_fake(root + "/fashion-mnist", 12, 5);
  const char* old = std::getenv("SOMA_DATA");
  std::string saved = old ? old : "";
  ::setenv("SOMA_DATA", root.c_str(), 1);
  FashionMnist d = load_fashion_mnist({.train_limit = 10});
  if (old)
    ::setenv("SOMA_DATA", saved.c_str(), 1);
  else
    ::unsetenv("SOMA_DATA");
  EXPECT_EQ(d.x_train.shape(), (Shape{10, 28, 28}));
  EXPECT_EQ(d.y_train.shape(), (Shape{10}));
  EXPECT_EQ(d.x_test.shape(), (Shape{5, 28, 28}));
  EXPECT_EQ(d.y_test.dtype(), DType::i32);
  EXPECT_FLOAT_EQ(d.x_train.get(255), 1.0f);  // normalized to [0, 1]
  EXPECT_EQ(d.y_train.get(9), 9);
  // Labels outside 0..9 are rejected.
  write_gz(root + "/fashion-mnist/t10k-labels-idx1-ubyte.gz",
           idx_bytes(0x08, {5}, {1, 2, 3, 4, 12}));
  EXPECT_THROW(load_fashion_mnist({.dir = root + "/fashion-mnist"}), IOError);
  std::filesystem::remove_all(root);
}

TEST(FashionMnist, RealDataWhenInstalled) {
  if (find_fashion_mnist_dir().empty())
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  FashionMnist d = load_fashion_mnist({.train_limit = 6000, .test_limit = 2000});
  EXPECT_EQ(d.x_train.shape(), (Shape{6000, 28, 28}));
  EXPECT_EQ(d.y_train.shape(), (Shape{6000}));
  EXPECT_EQ(d.x_test.shape(), (Shape{2000, 28, 28}));
  double lo = 1, hi = 0;
  const float* px = d.x_train.data<float>();
  for (int64_t i = 0; i < d.x_train.numel(); ++i) {
    lo = std::min<double>(lo, px[i]);
    hi = std::max<double>(hi, px[i]);
  }
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
  // The full label files: 60000 + 10000, the training set balanced.
  std::string dir = find_fashion_mnist_dir();
  IdxFile train = read_idx(dir + "/train-labels-idx1-ubyte.gz");
  EXPECT_EQ(train.dims, (std::vector<int64_t>{60000}));
  EXPECT_EQ(read_idx(dir + "/t10k-labels-idx1-ubyte.gz").dims, (std::vector<int64_t>{10000}));
  std::vector<int> counts(10, 0);
  for (uint8_t l : train.bytes) ++counts[l];
  for (int c : counts) EXPECT_EQ(c, 6000);
  EXPECT_STREQ(kFashionMnistClasses[9], "Ankle boot");
}

TEST(Dataset, ShuffledIndicesArePermutationsFixedBySeed) {
  auto a = shuffled_indices(1000, 3), b = shuffled_indices(1000, 3), c = shuffled_indices(1000, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 1000u);
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += a[static_cast<size_t>(i)] == i;
  EXPECT_LT(fixed, 20);
}

TEST(Dataset, BatchesCoverEverySampleOncePerEpoch) {
  Array x(DType::f32, {10, 2}), y(DType::i32, {10});
  for (int64_t i = 0; i < 10; ++i) {
    x.set(2 * i, i);
    x.set(2 * i + 1, -i);
    y.set(i, i);
  }
  BatchIterator it(x, y, 4, true, 7);
  EXPECT_EQ(it.num_batches(), 3);
  for (int epoch = 0; epoch < 2; ++epoch) {
    it.start_epoch(epoch);
    std::multiset<int> seen;
    for (int64_t b = 0; b < 3; ++b) {
      Batch batch = it.batch(b);
      EXPECT_EQ(batch.size, b < 2 ? 4 : 2);
      EXPECT_EQ(batch.x.shape(), (Shape{batch.size, 2}));
      for (int64_t i = 0; i < batch.size; ++i) {
        EXPECT_EQ(batch.x.get(2 * i), batch.y->get(i));  // rows stay paired
        EXPECT_EQ(batch.x.get(2 * i + 1), -batch.y->get(i));
        seen.insert(static_cast<int>(batch.y->get(i)));
      }
    }
    EXPECT_EQ(seen.size(), 10u);
    EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), 10u);
  }
  BatchIterator drop(x, y, 4, false, 0, true);
  EXPECT_EQ(drop.num_batches(), 2);
  EXPECT_EQ(drop.batch(1).y->get(0), 4);  // unshuffled: in order
  EXPECT_THROW(BatchIterator(x, Array(DType::i32, {9}), 4), ShapeError);
  EXPECT_THROW(BatchIterator(x, y, 0), ValueError);
}

// The training loop's form: batches gathered into the same arrays, and an iterator over row
// numbers only that gives the same rows as one over the arrays.
TEST(Dataset, BatchesReuseTheirArrays) {
  Array x(DType::f32, {10, 3}), y(DType::i32, {10});
  for (int64_t i = 0; i < 30; ++i) x.set(i, i);
  for (int64_t i = 0; i < 10; ++i) y.set(i, 100 + i);
  BatchIterator it(x, y, 4, true, 3, false, 1, 9);  // rows 1..8
  BatchIterator rows(10, 4, true, 3, false, 1, 9);
  EXPECT_THROW(rows.batch(0), ValueError);
  it.start_epoch(2);
  rows.start_epoch(2);
  Batch batch;
  std::vector<int64_t> r;
  const void* storage = nullptr;
  for (int64_t b = 0; b < it.num_batches(); ++b) {
    it.batch_into(b, batch);
    rows.batch_rows(b, r);
    ASSERT_EQ(static_cast<int64_t>(r.size()), batch.size);
    if (b == 0) storage = batch.x.raw();
    EXPECT_EQ(batch.x.raw(), storage) << "batch " << b << " reallocated";
    Array gx, gy;
    gather_rows_into(x, r, gx);
    gather_rows_into(y, r, gy);
    for (int64_t i = 0; i < batch.size; ++i) {
      EXPECT_GE(r[static_cast<size_t>(i)], 1);
      EXPECT_LT(r[static_cast<size_t>(i)], 9);
      EXPECT_EQ(batch.y->get(i), 100 + r[static_cast<size_t>(i)]);
      EXPECT_EQ(gy.get(i), batch.y->get(i));
      for (int64_t c = 0; c < 3; ++c) {
        EXPECT_EQ(batch.x.get(3 * i + c), 3 * r[static_cast<size_t>(i)] + c);
        EXPECT_EQ(gx.get(3 * i + c), batch.x.get(3 * i + c));
      }
    }
  }
  // Consecutive rows (unshuffled, or runs within a shuffle) and the checks.
  Array out(DType::f32, {3, 3});
  const void* before = out.raw();
  std::vector<int64_t> run = {4, 5, 2};
  gather_rows_into(x, run, out);
  EXPECT_EQ(out.raw(), before);
  EXPECT_EQ(out.to_doubles(), (std::vector<double>{12, 13, 14, 15, 16, 17, 6, 7, 8}));
  std::vector<int64_t> fewer = {9, 0};
  gather_rows_into(x, fewer, out);  // another shape: a fresh array
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(out.to_doubles(), (std::vector<double>{27, 28, 29, 0, 1, 2}));
  std::vector<int64_t> bad = {8, 9, 10};
  EXPECT_THROW(gather_rows_into(x, bad, out), ValueError);
  BatchIterator plain(x, std::nullopt, 4);
  Batch p;
  plain.batch_into(2, p);
  EXPECT_FALSE(p.y.has_value());
  EXPECT_EQ(p.x.to_doubles(), (std::vector<double>{24, 25, 26, 27, 28, 29}));
}

}  // namespace
}  // namespace soma::data
