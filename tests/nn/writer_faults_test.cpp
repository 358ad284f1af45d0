// Every writer of soma under injected write faults (a full disk, a file size limit, an I/O
// error) at every stage of the write: the previous file stays byte for byte, no temporary is left
// in the folder, and the error names the file and the reason — for saved models, checkpoints,
// history CSVs, .npy files and the disk cache (which fails quietly: a cache write is best effort).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

#include "frontend/nn/history.h"
#include "frontend/nn/model.h"
#include "nn/nn_test_util.h"
#include "runtime/disk_cache.h"
#include "runtime/file_io.h"
#include "runtime/npy.h"
#include "tests/source_tree.h"

namespace soma::nn {
namespace {

namespace fs = std::filesystem;
using namespace soma::nn::testing;
using soma::testing::read_text;

struct FaultScope {
  FaultScope(int err, uint64_t after) { set_write_fault_for_testing(err, after); }
  ~FaultScope() { clear_write_fault_for_testing(); }
};

class WriterFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("soma_faults_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    return out;
  }

  // `write(path, 1)` makes the first version of `name`, `write(path, 2)` tries another one
  // under faults.
  void check(const std::string& name,
             const std::function<void(const std::string& path, int version)>& write) {
    const std::string path = (dir_ / name).string();
    write(path, 1);
    const std::string before = read_text(path);
    ASSERT_FALSE(before.empty()) << name;
    for (int err : {ENOSPC, EFBIG, EIO}) {
      for (uint64_t at :
           {uint64_t{0}, uint64_t{1}, uint64_t{before.size() / 2}, uint64_t{1} << 40}) {
        SCOPED_TRACE(name + ": " + std::strerror(err) + " after " + std::to_string(at) + " bytes");
        {
          FaultScope fault(err, at);
          try {
            write(path, 2);
            ADD_FAILURE() << "no error";
          } catch (const IOError& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(path), std::string::npos) << m;
            EXPECT_NE(m.find(std::strerror(err)), std::string::npos) << m;
          }
        }
        EXPECT_EQ(read_text(path), before);
        EXPECT_EQ(files(), std::vector<std::string>{name});  // no temporary left
      }
    }
    write(path, 2);  // and without a fault the new version lands
    EXPECT_NE(read_text(path), before);
  }

  fs::path dir_;
};

std::shared_ptr<Sequential> small_model(uint64_t seed) {
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(4, DenseOptions{.activation = "relu"}),
                            std::make_shared<Dense>(2)},
      "m", seed);
  m->compile(get_optimizer("adam"), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->build(Shape{3});
  return m;
}

TEST_F(WriterFaults, SavedModels) {
  check("model.soma-model",
        [](const std::string& path, int v) { small_model(static_cast<uint64_t>(v))->save(path); });
}

TEST_F(WriterFaults, Checkpoints) {
  check("weights.soma-weights", [](const std::string& path, int v) {
    small_model(static_cast<uint64_t>(v))->save_weights(path);
  });
}

TEST_F(WriterFaults, HistoryCsv) {
  check("history.csv", [](const std::string& path, int v) {
    History h;
    for (int e = 0; e < 3; ++e) {
      Logs logs;
      logs.set("loss", 1.0 / (e + v));
      h.append(e, logs, 0.5);
    }
    h.write_csv(path);
  });
}

TEST_F(WriterFaults, NpyFiles) {
  check("x.npy", [](const std::string& path, int v) {
    save_npy(path, random_array({16, 8}, -1, 1, static_cast<uint64_t>(v)));
  });
}

// A cache entry is best effort: a failed write returns false, says nothing, and leaves the
// entry that was there.
TEST_F(WriterFaults, DiskCacheEntries) {
  const CacheKey key{"test", "soma tests", "the key"};
  ASSERT_TRUE(write_cache_entry(dir_.string(), key, "payload one"));
  const std::string path = (dir_ / key.file_name()).string();
  const std::string before = read_text(path);
  for (uint64_t at : {uint64_t{0}, uint64_t{10}, uint64_t{1} << 40}) {
    {
      FaultScope fault(ENOSPC, at);
      EXPECT_FALSE(write_cache_entry(dir_.string(), key, "payload two")) << at;
    }
    EXPECT_EQ(read_text(path), before) << at;
    EXPECT_EQ(files(), std::vector<std::string>{key.file_name()}) << at;
  }
  CacheLookup hit = read_cache_entry(dir_.string(), key);
  EXPECT_EQ(hit.status, CacheLookup::Status::Hit);
  EXPECT_EQ(hit.payload, "payload one");
}

}  // namespace
}  // namespace soma::nn
