// Checkpoints: round trips of save_weights/load_weights and Model::save/Sequential::load, atomic
// writes, and clear errors that leave the model unchanged for truncated, corrupt or mismatched
// files.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "frontend/nn/checkpoint.h"
#include "frontend/nn/model.h"
#include "nn/nn_test_util.h"
#include "tests/sanitizer.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/soma_ckpt_" + std::to_string(::getpid()) + "_" + name;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::shared_ptr<Sequential> net(uint64_t seed, int64_t hidden = 6) {
  return std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(hidden, DenseOptions{.activation = "relu"}),
                            std::make_shared<BatchNorm>(), std::make_shared<Dense>(3)},
      "net", seed);
}

struct Data {
  Array x = random_array({24, 5}, -1, 1, 11);
  Array y = Array(DType::i32, {24});
  Data() {
    for (int64_t i = 0; i < 24; ++i) y.set(i, i % 3);
  }
};

FitOptions quiet(int epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 8;
  o.verbose = 0;
  return o;
}

TEST(Checkpoint, FileFormatRoundTrip) {
  Checkpoint ck;
  ck.meta["model"] = "m";
  ck.meta["note"] = "two words";
  ck.architecture = "Sequential m seed=0\nDense units=3\n";
  ck.tensors.emplace_back("a/kernel", f32({2, 2}, {1, 2, 3, 4}));
  ck.tensors.emplace_back("b", i32({3}, {7, 8, 9}));
  ck.tensors.emplace_back("s", Array::scalar(DType::f64, 2.5));
  std::string path = temp_path("format");
  write_checkpoint(path, ck);
  std::string bytes = read_all(path);
  EXPECT_EQ(bytes.rfind("soma-checkpoint 2\n", 0), 0u);
  EXPECT_NE(bytes.find("tensor a/kernel f32 [2,2] 16 "), std::string::npos);
  Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.meta, ck.meta);
  EXPECT_EQ(back.architecture, ck.architecture);
  ASSERT_EQ(back.tensors.size(), 3u);
  EXPECT_EQ(back.tensors[0].first, "a/kernel");
  EXPECT_EQ(back.tensors[0].second.to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(back.tensors[1].second.dtype(), DType::i32);
  EXPECT_EQ(back.tensors[2].second.shape(), Shape{});
  EXPECT_EQ(back.tensors[2].second.get(0), 2.5);
  // No temporary file is left behind.
  for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(e.path().string().find(path + ".tmp"), std::string::npos) << e.path();
  std::remove(path.c_str());
}

TEST(Checkpoint, RejectsBadFilesWithClearErrors) {
  Checkpoint ck;
  ck.tensors.emplace_back("w", f32({4}, {1, 2, 3, 4}));
  std::string path = temp_path("bad");
  write_checkpoint(path, ck);
  std::string good = read_all(path);
  auto expect_error = [&](const std::string& bytes, const std::string& words) {
    write_all(path, bytes);
    try {
      read_checkpoint(path);
      ADD_FAILURE() << "no error; expected one mentioning '" << words << "'";
    } catch (const IOError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  expect_error(good.substr(0, good.size() - 3), "truncated");
  expect_error(good.substr(0, 20), "end");
  expect_error(good + "x", "unexpected bytes");
  std::string flipped = good;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  expect_error(flipped, "CRC");
  expect_error("PK\x03\x04 not a checkpoint", "magic");
  expect_error("soma-checkpoint 9\nend\n", "version");
  std::string bad_dtype = good;
  bad_dtype.replace(bad_dtype.find(" f32 "), 5, " u16 ");
  expect_error(bad_dtype, "dtype");
  std::remove(path.c_str());
  EXPECT_THROW(read_checkpoint(temp_path("missing")), IOError);
  EXPECT_THROW(write_checkpoint("/nonexistent-dir/x.soma-weights", ck), IOError);
}

TEST(Checkpoint, SaveWeightsLoadWeightsRoundTrip) {
  Data d;
  auto a = net(1);
  a->compile(get_optimizer("adam"), std::make_shared<SparseCategoricalCrossentropy>(true));
  a->fit(d.x, d.y, quiet(2));
  std::string path = temp_path("weights");
  a->save_weights(path);
  // An unbuilt model of the same architecture builds itself from the checkpoint's input type.
  auto b = net(2);
  b->load_weights(path);
  EXPECT_TRUE(b->built());
  auto wa = a->get_weights(), wb = b->get_weights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].to_doubles(), wb[i].to_doubles()) << i;
  EXPECT_EQ(a->predict(d.x).to_doubles(), b->predict(d.x).to_doubles());
  std::remove(path.c_str());
}

TEST(Checkpoint, TruncatedOrMismatchedLeavesTheModelUnchanged) {
  Data d;
  auto a = net(1);
  a->build({5});
  std::string path = temp_path("mismatch");
  a->save_weights(path);
  auto b = net(2);
  b->build({5});
  auto before = b->get_weights();
  auto unchanged = [&] {
    auto now = b->get_weights();
    for (size_t i = 0; i < now.size(); ++i)
      EXPECT_EQ(now[i].to_doubles(), before[i].to_doubles()) << i;
  };
  // Truncated: an IOError, and nothing written.
  std::string bytes = read_all(path);
  write_all(path, bytes.substr(0, bytes.size() - 10));
  EXPECT_THROW(b->load_weights(path), IOError);
  unchanged();
  // Another architecture (hidden 7 instead of 6): a ShapeError naming the weight.
  auto c = net(3, 7);
  c->build({5});
  c->save_weights(path);
  try {
    b->load_weights(path);
    ADD_FAILURE() << "no error for mismatched shapes";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("dense/kernel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[5,7]"), std::string::npos) << e.what();
  }
  unchanged();
  // Missing weights (a smaller model's checkpoint).
  auto small =
      std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(6)}, "small");
  small->build({5});
  small->save_weights(path);
  EXPECT_THROW(b->load_weights(path), ValueError);
  unchanged();
  // Extra weights.
  EXPECT_THROW(
      [&] {
        auto s2 =
            std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(6)}, "s2");
        a->save_weights(path);
        s2->build({5});
        s2->load_weights(path);
      }(),
      ValueError);
  std::remove(path.c_str());
}

TEST(Checkpoint, ModelSaveRestoresArchitectureWeightsAndOptimizer) {
  Data d;
  auto a = std::make_shared<Sequential>(
      std::vector<LayerPtr>{
          std::make_shared<Reshape>(std::vector<int64_t>{1, 5, 1}),
          std::make_shared<Conv2D>(2, Pair{3, 1}, Conv2DOptions{.padding = "same"}),
          std::make_shared<Flatten>(),
          std::make_shared<Dense>(6, DenseOptions{.activation = "relu", .seed = 4}),
          std::make_shared<Dropout>(0.2), std::make_shared<BatchNorm>(),
          std::make_shared<Dense>(3, DenseOptions{.activation = "softmax"})},
      "saved", 9);
  a->compile(std::make_shared<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  a->fit(d.x, d.y, quiet(2));
  std::string path = temp_path("model");
  a->save(path);
  auto b = Sequential::load(path);
  EXPECT_EQ(b->name(), "saved");
  EXPECT_EQ(b->summary(), a->summary());
  EXPECT_TRUE(b->compiled());
  EXPECT_EQ(b->optimizer()->name(), "Adam");
  EXPECT_DOUBLE_EQ(b->optimizer()->learning_rate(), 0.01);
  EXPECT_EQ(b->metrics_names(), a->metrics_names());
  EXPECT_EQ(b->iterations(), a->iterations());
  EXPECT_EQ(a->predict(d.x).to_doubles(), b->predict(d.x).to_doubles());
  // Training on from the checkpoint continues exactly as the original does (slots, step count
  // and therefore dropout masks included).
  FitOptions o = quiet(1);
  o.seed = 5;
  a->fit(d.x, d.y, o);
  b->fit(d.x, d.y, o);
  auto wa = a->get_weights(), wb = b->get_weights();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].to_doubles(), wb[i].to_doubles()) << i;
  // load_weights accepts a full save too (the optimizer's slots are skipped).
  auto c = Sequential::from_architecture(read_checkpoint(path).architecture);
  EXPECT_NO_THROW(c->load_weights(path));
  // A weights-only file is not a model.
  a->save_weights(path);
  EXPECT_THROW(Sequential::load(path), IOError);
  std::remove(path.c_str());
}

TEST(Checkpoint, EveryByteOfASavedModelIsChecked) {
  // A trained model with its optimizer state: a byte changed anywhere (the architecture text,
  // metadata such as the optimizer, tensor entries, the payload) is an error on load, never a
  // model that loads with other weights, another activation or without its optimizer.
  Data d;
  auto a = net(4);
  a->compile(std::make_shared<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  a->fit(d.x, d.y, quiet(1));
  std::string path = temp_path("every_byte");
  a->save(path);
  const std::string good = read_all(path);
  ASSERT_NE(good.find("relu"), std::string::npos);
  int loaded = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x20}) {
      if (soma::testing::kSanitized && flip == 0x20) continue;  // one pattern suffices there
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ flip);
      write_all(path, bad);
      try {
        read_checkpoint(path);
        ++loaded;
        ADD_FAILURE() << "byte " << i << " ^ " << int{flip} << " loaded silently";
      } catch (const IOError&) {
      }
    }
  }
  EXPECT_EQ(loaded, 0);
  // The edit of the report: relu -> selu in the architecture.
  std::string edited = good;
  edited.replace(edited.find("relu"), 4, "selu");
  write_all(path, edited);
  EXPECT_THROW(Sequential::load(path), IOError);
  // The intact file loads.
  write_all(path, good);
  auto back = Sequential::load(path);
  EXPECT_EQ(back->predict(d.x).to_doubles(), a->predict(d.x).to_doubles());
  std::remove(path.c_str());
}

TEST(Checkpoint, ReadsVersionOneFiles) {
  // A file written by the previous format: "soma-checkpoint 1", "end" without a checksum.
  Checkpoint ck;
  ck.meta["model"] = "m";
  ck.tensors.emplace_back("w", f32({2}, {1.5, -2}));
  std::string path = temp_path("v1");
  write_checkpoint(path, ck);
  std::string bytes = read_all(path);
  bytes.replace(0, 17, "soma-checkpoint 1");
  size_t end = bytes.find("\nend ");
  ASSERT_NE(end, std::string::npos);
  bytes.erase(end + 4, 65);  // " <64 hex digits>"
  write_all(path, bytes);
  Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.meta, ck.meta);
  EXPECT_EQ(back.tensors[0].second.to_doubles(), (std::vector<double>{1.5, -2}));
  std::remove(path.c_str());
}

TEST(Checkpoint, KilledWhileSavingLeavesALoadableFileAndNoTemporaries) {
  // A writer killed (SIGKILL) at random points while saving over and over: the file is always
  // either absent or a complete checkpoint, and the next save removes the dead writer's
  // temporary file.
  const std::string dir = ::testing::TempDir() + "/soma_ckpt_kill_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/model.soma-weights";
  std::mt19937 rng(5);
  for (int round = 0; round < 12; ++round) {
    pid_t child = ::fork();
    if (child == 0) {
      Checkpoint ck;
      for (int i = 0;; ++i) {
        ck.tensors.clear();
        ck.tensors.emplace_back("w",
                                f32({1 << 20}, std::vector<float>(1 << 20, static_cast<float>(i))));
        write_checkpoint(path, ck);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 80));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    if (std::filesystem::exists(path)) {
      Checkpoint back = read_checkpoint(path);  // complete, or this throws
      ASSERT_EQ(back.tensors.size(), 1u);
      const Array& w = back.tensors[0].second;
      EXPECT_EQ(w.get(0), w.get(w.numel() - 1)) << "a mix of two saves";
    }
  }
  Checkpoint ck;
  ck.tensors.emplace_back("w", f32({2}, {1, 2}));
  write_checkpoint(path, ck);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"model.soma-weights"});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace soma::nn
