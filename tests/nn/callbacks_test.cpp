// Keras's callbacks ReduceLROnPlateau, ModelCheckpoint and CSVLogger: their rules driven with
// chosen epoch logs, and each in a real fit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "frontend/nn/model.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/soma-callbacks-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::shared_ptr<Sequential> model(double lr = 0.1) {
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(1)});
  m->compile(std::make_shared<SGD>(lr), get_loss("mse"));
  m->build({2});
  return m;
}

Logs logs(std::vector<std::pair<std::string, double>> items) {
  Logs l;
  for (const auto& [k, v] : items) l.set(k, v);
  return l;
}

std::string text_of(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReduceLROnPlateau, ReducesAfterPatienceThenCoolsDown) {
  auto m = model(1.0);
  std::ostringstream out;
  ReduceLROnPlateau cb("val_loss", 0.5, 2, "auto", 1e-4, 1, 0.2, true, &out);
  cb.on_train_begin(*m);
  const double losses[] = {1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97};
  std::vector<double> lr;
  for (int e = 0; e < 10; ++e) {
    cb.on_epoch_end(*m, e, logs({{"loss", 1}, {"val_loss", losses[e]}}));
    lr.push_back(m->optimizer()->learning_rate());
  }
  // Best 0.9 at epoch 1; two epochs without improvement (2, 3): 0.5 after epoch 3. Keras's
  // cooldown of 1 ends within epoch 4, which already counts as waiting: 0.25 after epoch 5, then
  // 0.2 (min_lr, not 0.125) after epoch 7, and never below.
  EXPECT_EQ(lr, (std::vector<double>{1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2}));
  EXPECT_NE(out.str().find("Epoch 4: ReduceLROnPlateau reducing learning rate to 0.5."),
            std::string::npos)
      << out.str();
  EXPECT_THROW(ReduceLROnPlateau("val_loss", 1.0), ValueError);
  EXPECT_THROW(cb.on_epoch_end(*m, 10, logs({{"loss", 1}})), NameError);
  // "acc" in the name: higher is better.
  auto m2 = model(1.0);
  ReduceLROnPlateau acc("val_accuracy", 0.1, 1);
  acc.on_train_begin(*m2);
  acc.on_epoch_end(*m2, 0, logs({{"val_accuracy", 0.5}}));
  acc.on_epoch_end(*m2, 1, logs({{"val_accuracy", 0.6}}));
  EXPECT_EQ(m2->optimizer()->learning_rate(), 1.0);
  acc.on_epoch_end(*m2, 2, logs({{"val_accuracy", 0.55}}));
  EXPECT_NEAR(m2->optimizer()->learning_rate(), 0.1, 1e-12);
}

TEST(ModelCheckpoint, FillsThePathAndSavesTheBest) {
  TempDir d;
  auto m = model();
  const std::string pattern = (d.path / "m-{epoch:02d}-{val_loss:.2f}.soma").string();
  ModelCheckpoint every(pattern);
  EXPECT_EQ(every.path_for(2, logs({{"val_loss", 0.1234}})), (d.path / "m-03-0.12.soma").string());
  EXPECT_THROW(ModelCheckpoint("m-{epoch:x}.soma"), ValueError);
  EXPECT_THROW(ModelCheckpoint("m-{epoch.soma"), ValueError);
  EXPECT_THROW(every.path_for(0, logs({{"loss", 1}})), ValueError);  // no val_loss logged

  const fs::path best = d.path / "best.soma";
  ModelCheckpoint cb(best.string(), "val_loss", /*save_best_only=*/true, /*weights_only=*/true);
  cb.on_train_begin(*m);
  cb.on_epoch_end(*m, 0, logs({{"val_loss", 0.5}}));
  ASSERT_TRUE(fs::exists(best));
  const auto saved = fs::last_write_time(best);
  auto w0 = m->get_weights();
  m->params().assign(m->weights()[0].name, f32({2, 1}, {7, 8}));
  cb.on_epoch_end(*m, 1, logs({{"val_loss", 0.6}}));  // worse: not saved
  EXPECT_EQ(fs::last_write_time(best), saved);
  auto reloaded = model();
  reloaded->load_weights(best.string());
  EXPECT_EQ(reloaded->get_weights()[0].to_doubles(), w0[0].to_doubles());
  cb.on_epoch_end(*m, 2, logs({{"val_loss", 0.4}}));  // better: saved
  reloaded->load_weights(best.string());
  EXPECT_EQ(reloaded->get_weights()[0].to_doubles(), (std::vector<double>{7, 8}));
}

TEST(CSVLogger, OneRowPerEpochAndAppend) {
  TempDir d;
  const fs::path file = d.path / "log.csv";
  auto m = model();
  CSVLogger cb(file.string());
  cb.on_train_begin(*m);
  cb.on_epoch_end(*m, 0, logs({{"loss", 0.5}, {"val_loss", 0.75}}));
  cb.on_epoch_end(*m, 1, logs({{"loss", 0.25}, {"val_loss", 0.5}}));
  EXPECT_EQ(text_of(file), "epoch,loss,val_loss\n0,0.5,0.75\n1,0.25,0.5\n");
  CSVLogger again(file.string(), ";", /*append=*/true);
  again.on_train_begin(*m);
  again.on_epoch_end(*m, 2, logs({{"loss", 0.125}, {"val_loss", 0.25}}));
  EXPECT_EQ(text_of(file), "epoch,loss,val_loss\n0,0.5,0.75\n1,0.25,0.5\n2;0.125;0.25\n");
  CSVLogger fresh(file.string());  // without append: a new file
  fresh.on_train_begin(*m);
  EXPECT_EQ(text_of(file), "");
  CSVLogger nowhere((d.path / "no/such/dir/log.csv").string());
  EXPECT_THROW(nowhere.on_train_begin(*m), IOError);
}

// The three in one fit: rows for every epoch, a checkpoint per epoch, the rate reduced.
TEST(Callbacks, InAFit) {
  TempDir d;
  const int64_t n = 32;
  Array x = random_array({n, 2}, -1, 1, 3), y(DType::f32, {n});
  for (int64_t i = 0; i < n; ++i) y.set(i, x.get(2 * i) - x.get(2 * i + 1));
  auto m = model(0.0);  // nothing learns: the loss plateaus at once
  FitOptions o;
  o.epochs = 4;
  o.batch_size = 8;
  o.verbose = 0;
  o.callbacks = {std::make_shared<CSVLogger>((d.path / "log.csv").string()),
                 std::make_shared<ModelCheckpoint>((d.path / "e{epoch}.soma").string(), "loss"),
                 std::make_shared<ReduceLROnPlateau>("loss", 0.5, 1, "auto", 1e-4)};
  m->optimizer()->set_learning_rate(0.0);
  m->fit(x, y, o);
  std::string csv = text_of(d.path / "log.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;
  EXPECT_EQ(csv.rfind("epoch,loss\n0,", 0), 0u) << csv;
  for (int e = 1; e <= 4; ++e)
    EXPECT_TRUE(fs::exists(d.path / ("e" + std::to_string(e) + ".soma")));
}

}  // namespace
}  // namespace soma::nn
