// Parameters stay on the device: training steps (forward, backward and update in one program) move
// no parameter between host and device; the host downloads a parameter only when it reads it;
// host writes (set_weights, load_weights) reach the next device run; llvm and vulkan executables
// over one ParamStore stay consistent in any order.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "frontend/compile.h"
#include "frontend/context.h"
#include "frontend/nn/layers.h"
#include "frontend/nn/losses.h"
#include "frontend/nn/model.h"
#include "frontend/nn/optimizers.h"
#include "frontend/tensor.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

const char* const kParams[] = {"w1", "b1", "w2", "b2", "w3", "b3"};

// A small MLP's training step (SGD) and predict function over one context; more executables of
// either on any backend share its ParamStore.
struct Mlp {
  std::shared_ptr<Context> ctx = std::make_shared<Context>();
  Tensor loss, probs;
  std::vector<std::pair<Tensor, Tensor>> updates;
  Feeds feeds;
  Compiled step, predict;

  explicit Mlp(const std::string& backend) {
    ContextScope scope(ctx);
    const int64_t batch = 16;
    Tensor x = input("x", {batch, 8});
    Tensor t = input("t", {batch}, DType::i32);
    Tensor w1 = param("w1", {8, 32}, "glorot_uniform", 1), b1 = param("b1", {32}, "zeros");
    Tensor w2 = param("w2", {32, 16}, "glorot_uniform", 2), b2 = param("b2", {16}, "zeros");
    Tensor w3 = param("w3", {16, 4}, "glorot_uniform", 3), b3 = param("b3", {4}, "zeros");
    Tensor logits = matmul(relu(matmul(tanh(matmul(x, w1) + b1), w2) + b2), w3) + b3;
    loss = cross_entropy(logits, t);
    probs = softmax(logits);
    std::vector<Tensor> ps = {w1, b1, w2, b2, w3, b3};
    std::vector<Tensor> gs = grad(loss, ps);
    for (size_t i = 0; i < ps.size(); ++i) updates.push_back({ps[i], ps[i] - gs[i] * 0.2});
    Array xs(DType::f32, Shape{batch, 8}), ts(DType::i32, Shape{batch});
    for (int64_t i = 0; i < xs.numel(); ++i)
      xs.set(i, std::sin(0.37 * static_cast<double>(i)) + ((i / 8) % 4 == i % 4 ? 1.0 : 0.0));
    for (int64_t i = 0; i < batch; ++i) ts.set(i, static_cast<double>(i % 4));
    feeds = {{"x", xs}, {"t", ts}};
    step = step_on(backend);
    predict = predict_on(backend);
  }
  Compiled step_on(const std::string& backend) {
    ContextScope scope(ctx);
    CompileOptions opts;
    opts.backend = backend;
    return compile({loss}, opts, updates);
  }
  Compiled predict_on(const std::string& backend) {
    ContextScope scope(ctx);
    CompileOptions opts;
    opts.backend = backend;
    return compile({probs}, opts);
  }
  ParamStore& store() { return ctx->params(); }
  double train() { return train(step); }
  double train(Compiled& s) { return s.run(feeds)[0].get(0); }
  Array probabilities() { return probabilities(predict); }
  Array probabilities(Compiled& p) { return p.run({{"x", feeds.at("x")}})[0]; }
};

class ParamSync : public VulkanTest {};

TEST_F(ParamSync, TrainingStepsMoveNoParameters) {
  Mlp vk("vulkan");
  Mlp ref("llvm");
  vk.train();  // the first run uploads every parameter
  ref.train();
  const vulkan::ParamTransfers before = vulkan::param_transfers();
  const int64_t fetches = vk.store().fetch_count();
  const int steps = 25;
  double loss = 0, ref_loss = 0;
  for (int i = 0; i < steps; ++i) {
    loss = vk.train();
    ref_loss = ref.train();
    if (i % 10 == 0) vk.probabilities();  // predict on the device reads the device copies
  }
  const vulkan::ParamTransfers after = vulkan::param_transfers();
  EXPECT_EQ(after.downloads - before.downloads, 0);
  EXPECT_EQ(after.uploads - before.uploads, 0);
  EXPECT_EQ(vk.store().fetch_count(), fetches);
  for (const char* n : kParams) EXPECT_FALSE(vk.store().host_current(n)) << n;
  EXPECT_NEAR(loss, ref_loss, 1e-3 * std::max(1.0, std::fabs(ref_loss)));
}

TEST_F(ParamSync, AHostReadDownloadsTheTrainedValuesOnce) {
  Mlp vk("vulkan");
  Mlp ref("llvm");
  Array w1_before = vk.store().get("w1").clone();
  for (int i = 0; i < 20; ++i) vk.train(), ref.train();
  const vulkan::ParamTransfers before = vulkan::param_transfers();
  for (const char* n : kParams)
    expect_close(vk.store().get(n), ref.store().get(n), 1e-3, 1e-4, std::string("param ") + n);
  for (const char* n : kParams) EXPECT_TRUE(vk.store().host_current(n)) << n;
  const vulkan::ParamTransfers after = vulkan::param_transfers();
  EXPECT_EQ(after.downloads - before.downloads, 6);  // one per parameter, on the first read
  for (const char* n : kParams) vk.store().get(n);
  EXPECT_EQ(vulkan::param_transfers().downloads, after.downloads);
  bool changed = false;
  for (int64_t i = 0; i < w1_before.numel(); ++i)
    changed = changed || w1_before.get(i) != vk.store().get("w1").get(i);
  EXPECT_TRUE(changed);  // it trained
  // Reading uploads nothing: the device copies are still current.
  vk.train();
  EXPECT_EQ(vulkan::param_transfers().uploads, after.uploads);
}

TEST_F(ParamSync, HostWritesAfterTrainingReachTheNextRun) {
  Mlp vk("vulkan");
  Mlp ref("llvm");
  for (int i = 0; i < 5; ++i) vk.train(), ref.train();
  // The host overwrites two trained parameters (without reading them first).
  Array w2 = Array(DType::f32, Shape{32, 16});
  for (int64_t i = 0; i < w2.numel(); ++i) w2.set(i, 0.01 * static_cast<double>(i % 7) - 0.03);
  Array b3 = Array::from_f32({4}, std::vector<float>{0.5f, -0.5f, 0.25f, 0});
  const int64_t downloads = vulkan::param_transfers().downloads;
  for (Mlp* m : {&vk, &ref}) {
    m->store().assign("w2", w2);
    m->store().set("b3", b3.clone());
  }
  EXPECT_EQ(vulkan::param_transfers().downloads, downloads);  // the stale values were dropped
  expect_close(vk.probabilities(), ref.probabilities(), 1e-3, 1e-5, "predict after the writes");
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(vk.train(), ref.train(), 1e-3) << "step " << i;
  for (const char* n : kParams)
    expect_close(vk.store().get(n), ref.store().get(n), 1e-3, 1e-4, std::string("param ") + n);
}

// A stale host copy owns the device copy it will download: the trained values survive the
// executables that computed them.
TEST_F(ParamSync, TrainedValuesOutliveTheExecutables) {
  Mlp ref("llvm");
  std::shared_ptr<Context> ctx;
  {
    Mlp vk("vulkan");
    for (int i = 0; i < 5; ++i) vk.train(), ref.train();
    ctx = vk.ctx;
  }
  for (const char* n : kParams) EXPECT_FALSE(ctx->params().host_current(n)) << n;
  for (const char* n : kParams)
    expect_close(ctx->params().get(n), ref.store().get(n), 1e-3, 1e-4, std::string("param ") + n);
}

// Steps and predictions alternate between backends over one store: every executable sees the
// newest values wherever they were computed.
TEST_F(ParamSync, LlvmAndVulkanExecutablesShareOneStore) {
  Mlp m("vulkan");
  Compiled llvm_step = m.step_on("llvm"), llvm_predict = m.predict_on("llvm");
  Mlp ref("llvm");
  const std::string order = "vvlvllvvvlvlv";  // v: a vulkan step, l: an llvm step
  for (size_t i = 0; i < order.size(); ++i) {
    double want = ref.train();
    double got = order[i] == 'v' ? m.train() : m.train(llvm_step);
    EXPECT_NEAR(got, want, 1e-3 * std::max(1.0, std::fabs(want))) << "step " << i;
    if (i % 3 == 2) {
      Array p = ref.probabilities();
      expect_close(m.probabilities(), p, 1e-3, 1e-5, "vulkan predict, step " + std::to_string(i));
      expect_close(m.probabilities(llvm_predict), p, 1e-3, 1e-5,
                   "llvm predict, step " + std::to_string(i));
    }
  }
  for (const char* n : kParams)
    expect_close(m.store().get(n), ref.store().get(n), 1e-3, 1e-4, std::string("param ") + n);
}

// A Keras-style model: fit (momentum SGD, a partial last batch, validation on the device) moves no
// parameter once its steps are compiled; save_weights reads the trained values, and load_weights
// after more training is what the next device run uses.
TEST_F(ParamSync, ModelFitAndLoadWeights) {
  using namespace soma::nn;
  auto make = [](const std::string& backend) {
    DenseOptions relu;
    relu.activation = "relu";
    auto m = std::make_shared<Sequential>(
        std::vector<LayerPtr>{std::make_shared<Dense>(16, relu), std::make_shared<Dense>(4)}, "m",
        7);
    m->compile(std::make_shared<SGD>(0.1, 0.9),
               std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"}, backend);
    return m;
  };
  Array x(DType::f32, Shape{40, 8}), y(DType::i32, Shape{40});
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, std::cos(0.7 * static_cast<double>(i)));
  for (int64_t i = 0; i < 40; ++i) y.set(i, static_cast<double>(i % 4));
  FitOptions fit;
  fit.batch_size = 16;  // 16, 16, 8
  fit.verbose = 0;
  fit.validation_data.emplace(x, y);
  auto model = make("vulkan");
  model->fit(x, y, fit);  // compiles the steps, uploads the weights and slots once
  const vulkan::ParamTransfers before = vulkan::param_transfers();
  fit.epochs = 3;
  model->fit(x, y, fit);
  const vulkan::ParamTransfers after = vulkan::param_transfers();
  EXPECT_EQ(after.downloads - before.downloads, 0);
  EXPECT_EQ(after.uploads - before.uploads, 0);

  const std::string path =
      ::testing::TempDir() + "/soma_vk_param_sync_" + std::to_string(::getpid()) + ".weights";
  model->save_weights(path);
  PredictOptions po;
  po.batch_size = 40;
  Array saved = model->predict(x, po);
  fit.epochs = 2;
  model->fit(x, y, fit);
  Array trained = model->predict(x, po);
  double moved = 0;
  for (int64_t i = 0; i < saved.numel(); ++i) moved += std::fabs(saved.get(i) - trained.get(i));
  EXPECT_GT(moved, 1e-4);
  model->load_weights(path);
  expect_close(model->predict(x, po), saved, 1e-5, 1e-6, "predict after load_weights");
  auto on_llvm = make("llvm");
  on_llvm->load_weights(path);
  expect_close(on_llvm->predict(x, po), saved, 1e-4, 1e-5, "llvm predict of the checkpoint");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace soma::vktest
