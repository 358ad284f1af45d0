// The evaluator against a Session: values, laziness and caching, feeds, parameter updates,
// errors with locations, completion.
#include "frontend/script/session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/backend.h"
#include "frontend/script/batch.h"
#include "frontend/script/completion.h"
#include "frontend/script/stages.h"
#include "tests/sanitizer.h"

namespace soma::script {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : s_(options()) {}
  SessionOptions options() {
    SessionOptions o;
    o.backend = "interp";
    o.out = &out_;
    o.err = &out_;
    return o;
  }
  // Runs text; returns what it printed (errors included).
  std::string run(const std::string& text) {
    out_.str("");
    run_batch(s_, "t.soma", text, out_);
    return out_.str();
  }
  ScriptError error(const std::string& text) {
    try {
      s_.run(std::make_shared<const Source>("t.soma", text));
    } catch (const ScriptError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for " << text;
    return ScriptError({}, "");
  }
  std::ostringstream out_;
  Session s_;
};

TEST_F(SessionTest, TensorsAreComputedWhenPrinted) {
  EXPECT_EQ(run("x = const([1.0, 2.0])\ny = x * 3\ny\n"), "array([3., 6.])\n");
  EXPECT_EQ(run("print(y + 1)"), "[4. 7.]\n");
  EXPECT_EQ(run("float(sum(y))"), "9.0\n");
}

TEST_F(SessionTest, ReevaluatingDoesNotRecompile) {
  run("x = const([1.0, 2.0])\nw = param(\"w\", [2], init=\"ones\")\n");
  int before = s_.compile_count();
  run("sum(x * w)");
  EXPECT_EQ(s_.compile_count(), before + 1);
  run("sum(x * w)");  // the same expression again: the same node, the cached executable
  run("y = sum(x * w)\ny\ny");
  EXPECT_EQ(s_.compile_count(), before + 1);
  run("sum(x * w) + 1");
  EXPECT_EQ(s_.compile_count(), before + 2);
}

TEST_F(SessionTest, LoopsReuseTheirGraphs) {
  run("w = param(\"w\", [2], init=\"ones\")\ng = grad(sum(w * w), w)\n");
  int nodes = s_.context()->graph().size();
  run("for i in range(50):\n    w -= 0.1 * g\n\n");
  EXPECT_EQ(s_.compile_count(), 1);
  EXPECT_LE(s_.context()->graph().size(), nodes + 8);  // not 50 copies of the update
  // w <- w - 0.2 w, 50 times
  run("w0 = float(w[0])");
  EXPECT_NEAR(s_.lookup("w0")->as_float(), std::pow(0.8, 50), 1e-9);
}

TEST_F(SessionTest, TheTallestExpressionEvaluates) {
  // The parser's height limit leaves the evaluator (and the tree's destructor) enough stack.
  std::string text = "x = const([1.0, 2.0])\ny = x";
  for (int i = 1; i < kMaxExprHeight - 1; ++i) text += " + x";
  run(text + "\n");
  EXPECT_EQ(run("print(float(sum(y)))"), std::to_string(3 * (kMaxExprHeight - 1)) + ".0\n");
}

TEST_F(SessionTest, LongGraphChainsCompile) {
  // A loop that builds a chain of 100,000 nodes: compiled (in kernels of bounded depth) and run.
  const int steps = soma::testing::kSanitized ? 5000 : 50000;
  run("x = const([0.5, -0.25])\ny = x\nfor i in range(" + std::to_string(steps) +
      "):\n    y = tanh(y) * 0.5 + x\n\n");
  std::string out = run("print(y)");
  EXPECT_NE(out.find("["), std::string::npos) << out;
}

TEST_F(SessionTest, AssignUpdatesAllAtOnce) {
  run("a = param(\"a\", [], init=1.0)\nb = param(\"b\", [], init=2.0)\nassign([a, b], [b, a])");
  EXPECT_EQ(run("print(a, b)"), "2.0 1.0\n");
  ScriptError e = error("assign(a, const([1.0, 2.0]))");
  EXPECT_NE(e.message().find("parameter 'a' is f32[] but the new value is f32[2]"),
            std::string::npos);
  e = error("c = const(1.0)\nassign(c, c)");
  EXPECT_NE(e.message().find("only parameters"), std::string::npos);
}

TEST_F(SessionTest, FeedsAreChecked) {
  s_.set_feed("x", Array::from_f32({2}, std::vector<float>{1, 2}), "x.npy");
  EXPECT_EQ(run("x = input(\"x\", [2])\nx * 2"), "array([2., 4.])\n");
  ScriptError e = error("z = input(\"x\", [3])");
  EXPECT_EQ(e.message(),
            "input 'x' is declared as f32[3] but x.npy holds f32[2] (the shape differ)");
  EXPECT_EQ(e.loc().col, 5);
  e = error("q = input(\"q\", [2])\nq + 1");
  EXPECT_NE(e.message().find("input 'q' (f32[2]) has no value"), std::string::npos);
  ASSERT_EQ(e.notes().size(), 1u);
  EXPECT_EQ(e.notes()[0].loc.line, 1);
  EXPECT_EQ(run("feed(\"q\", [5.0, 6.0])\nq + 1"), "array([6., 7.])\n");
}

TEST_F(SessionTest, ArraysBecomeFedInputs) {
  s_.bind("a", Value::array(Array::from_f32({3}, std::vector<float>{1, 2, 3})), {});
  EXPECT_EQ(run("argmax(a)"), "2\n");
  EXPECT_EQ(run("a[1:]"), "array([2., 3.])\n");
  int n = s_.compile_count();
  run("argmax(a)");
  EXPECT_EQ(s_.compile_count(), n);
}

TEST_F(SessionTest, ShapeErrorsNameTheOpAndShapes) {
  run("x = const([[1.0, 2.0, 3.0]])\n");
  ScriptError e = error("y = x @ x");
  EXPECT_NE(e.message().find("matmul: shapes [1,3] and [1,3]"), std::string::npos);
  EXPECT_EQ(e.loc().line, 1);
  EXPECT_EQ(e.loc().col, 7);
  e = error("x + const([1.0, 2.0])");
  EXPECT_NE(e.message().find("add: shapes [1,3] and [2]"), std::string::npos);
}

TEST_F(SessionTest, ErrorsKeepTheState) {
  std::string out = run("a = 1\nb = a + undefined\nc = a + 1\nc");
  EXPECT_NE(out.find("name 'undefined' is not defined"), std::string::npos);
  EXPECT_NE(out.find("\n2\n"), std::string::npos);
  EXPECT_FALSE(s_.lookup("b").has_value());
  EXPECT_EQ(s_.last_assigned(), "c");
}

TEST_F(SessionTest, MethodsAndAttributes) {
  EXPECT_EQ(run("x = const([[1, 2], [3, 4]])\nx.sum(axis=0)"), "array([4, 6], dtype=i32)\n");
  EXPECT_EQ(run("x.T.shape"), "[2, 2]\n");
  EXPECT_EQ(run("x.astype(\"f32\").mean()"), "2.5\n");
  ScriptError e = error("x.nope");
  EXPECT_NE(e.message().find("has no attribute 'nope'"), std::string::npos);
}

TEST_F(SessionTest, BackendSelection) {
  EXPECT_EQ(s_.backend(), "interp");
  ScriptError e = error(":backend nosuch");
  EXPECT_NE(e.message().find("unknown backend 'nosuch'"), std::string::npos);
  EXPECT_EQ(s_.backend(), "interp");
}

TEST_F(SessionTest, EmitStages) {
  run("x = input(\"x\", [2])\ny = exp(x)\n");
  EXPECT_EQ(run(":emit graph y"),
            "%0 = input() {name=\"x\"} : f32[2]\n%1 = exp(%0) : f32[2]\nreturn %1\n");
  for (const EmitStage& st : emit_stages())
    EXPECT_FALSE(run(":emit " + st.name + " y").empty()) << st.name;
  EXPECT_NE(run(":emit opt y").find("return"), std::string::npos);
  EXPECT_NE(run(":emit fused y").find("# kernel"), std::string::npos);
  EXPECT_NE(run(":emit kernel y").find("kernel"), std::string::npos);
  ScriptError e = error(":emit graph nosuch");
  EXPECT_NE(e.message().find("name 'nosuch' is not defined"), std::string::npos);
}

TEST_F(SessionTest, Reset) {
  run("w = param(\"w\", [1], init=\"ones\")\nw -= [1.0]\n");
  EXPECT_EQ(run("w"), "array([0.])\n");
  run(":reset");
  EXPECT_TRUE(s_.var_names().empty());
  EXPECT_EQ(run("w = param(\"w\", [1], init=\"ones\")\nw"), "array([1.])\n");
}

// :help NAME shows everything the name is: a built-in and the stage of that name (grad), a
// method of a model even before one is made (fit), a command with its aliases (exit).
TEST_F(SessionTest, HelpFindsFunctionsStagesAndMethods) {
  std::string h = run(":help grad");
  EXPECT_NE(h.find("grad(y, x)"), std::string::npos) << h;
  EXPECT_NE(h.find("stage grad"), std::string::npos) << h;
  h = run(":help fit");
  EXPECT_NE(h.find("fit(x, y=None, epochs=1"), std::string::npos) << h;
  run("net = Sequential([Dense(2)])");
  h = run(":help evaluate");
  EXPECT_EQ(h.rfind("net.evaluate(", 0), 0u) << h;
  h = run(":help exit");
  EXPECT_NE(h.find(":quit"), std::string::npos) << h;
  EXPECT_NE(h.find("exit(status=0)"), std::string::npos) << h;
  EXPECT_NE(run(":help nosuch").find("no help for 'nosuch'"), std::string::npos);
  EXPECT_EQ(s_.var_names(), (std::vector<std::string>{"net"})) << "help left no variable";
}

TEST_F(SessionTest, ExitAndQuitStopTheBatch) {
  EXPECT_EQ(run("1\nexit()\n2"), "1\n");
  EXPECT_EQ(run("quit(4)\n2"), "");
  EXPECT_EQ(s_.exit_status(), 4);
  EXPECT_NE(run("exit(256)").find("must be in 0..255"), std::string::npos);
}

// Keras's callbacks from the script: a CSV row and a checkpoint per epoch, the rate reduced.
TEST_F(SessionTest, FitCallbacks) {
  char tmpl[] = "/tmp/soma-fit-cb-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::string out =
      run("x = array(rand([32, 2], seed=1))\ny = x @ const([[1.0], [-1.0]])\n"
          "m = Sequential([Dense(1)])\nm.compile(optimizer=SGD(lr=0.000001), loss=\"mse\")\n"
          "h = m.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[CSVLogger(\"" +
          dir + "/log.csv\"), ModelCheckpoint(\"" + dir +
          "/m{epoch}.soma\", monitor=\"loss\"), ReduceLROnPlateau(monitor=\"loss\", patience=1, "
          "verbose=1)])\n");
  EXPECT_NE(out.find("ReduceLROnPlateau reducing learning rate"), std::string::npos) << out;
  std::ifstream csv(dir + "/log.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,loss");
  EXPECT_TRUE(std::ifstream(dir + "/m1.soma").good());
  EXPECT_TRUE(std::ifstream(dir + "/m2.soma").good());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_F(SessionTest, QuitStopsTheBatch) {
  EXPECT_EQ(run("1\n:quit\n2"), "1\n");
}

TEST_F(SessionTest, Completion) {
  run("loss = const(1.0)\nlong_name = 2\n");
  Completion c = complete(s_, "y = lo");
  EXPECT_EQ(c.start, 4u);
  EXPECT_EQ(c.items,
            (std::vector<std::string>{"load_csv", "load_image", "load_model", "load_npy", "log",
                                      "log1p", "log_softmax", "logsumexp", "long_name", "loss"}));
  c = complete(s_, ":em");
  EXPECT_EQ(c.items, (std::vector<std::string>{"emit"}));
  c = complete(s_, ":emit gr");
  EXPECT_EQ(c.items, (std::vector<std::string>{"grad", "graph"}));
  c = complete(s_, "loss.sh");
  EXPECT_EQ(c.items, (std::vector<std::string>{"shape"}));
  c = complete(s_, ":backend int");
  EXPECT_FALSE(c.items.empty());
  EXPECT_EQ(c.items[0], "interp");
  EXPECT_EQ(common_prefix({"grad", "graph"}), "gra");
}

}  // namespace
}  // namespace soma::script

namespace soma::script {
namespace {

// Keras's fit(dataset): an ImageDataset gives x and y (and validation_data); y beside it, a
// dataset without labels, or no labels at all are errors that say which.
TEST_F(SessionTest, ImageDatasetsGoToFitEvaluateAndPredictWhole) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("soma_session_images_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string d = dir.string();
  run("for i in range(8):\n"
      "    save_image('" +
      d +
      "/a/' + str(i) + '.png', rand([4, 4, 1], seed=i) * 50, scale=False)\n"
      "    save_image('" +
      d +
      "/b/' + str(i) + '.png', rand([4, 4, 1], seed=i) * 50 + 200, "
      "scale=False)\n"
      "train, val = image_dataset_from_directory('" +
      d +
      "', image_size=[4, 4], "
      "color_mode='grayscale', validation_split=0.25, subset='both', seed=3)\n"
      "unlabeled = image_dataset_from_directory('" +
      d +
      "', image_size=[4, 4], "
      "color_mode='grayscale', labels=None)\n"
      "m = Sequential([Rescaling(1 / 255), Flatten(), Dense(2)])\n"
      "m.compile(optimizer='adam', loss=SparseCategoricalCrossentropy(from_logits=True))\n");
  EXPECT_EQ(run("h = m.fit(train, epochs=2, verbose=0, "
                "validation_data=val)\nh.history['val_loss'][1] > 0"),
            "True\n");
  EXPECT_EQ(run("float(m.evaluate(val, verbose=0)) == float(m.evaluate(val.x, val.y, verbose=0))"),
            "True\n");
  EXPECT_EQ(run("m.predict(unlabeled).shape"), "[16, 2]\n");
  EXPECT_NE(run("m.fit(train, train.y)").find("must be None when x is a dataset"),
            std::string::npos);
  EXPECT_NE(run("m.fit(unlabeled)").find("this dataset has no labels"), std::string::npos);
  EXPECT_NE(run("m.evaluate(train.x)").find("the labels are required"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace soma::script
