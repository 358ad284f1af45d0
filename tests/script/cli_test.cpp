// The soma tool as a user runs it: exit codes, messages, .npy feeds and fetches, bench --json,
// emit, and a REPL session driven through stdin.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "backends/backend.h"
#include "frontend/script/stages.h"
#include "graph/kernel_parser.h"
#include "runtime/npy.h"
#include "tests/sanitizer.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("soma_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Runs `soma ARGS` in the test's folder with `input` on stdin (and `env`, assignments that
  // end with a space, before it).
  Result soma(const std::string& args, const std::string& input = "",
              const std::string& env = "") const {
    write("stdin.txt", input);
    std::string cmd = "cd '" + dir_.string() + "' && " + env +
                      "SOMA_HISTORY= SOMA_BACKEND=interp '" + std::string(SOMA_CLI_PATH) + "' " +
                      args + " < stdin.txt > stdout.txt 2> stderr.txt";
    int rc = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = read(dir_ / "stdout.txt");
    r.err = read(dir_ / "stderr.txt");
    return r;
  }

  fs::path dir_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(Cli, AnOutputThatCannotBeWrittenFailsTheCommand) {
  // stdout on a full disk (/dev/full: every write fails with ENOSPC): not exit 0 with a cut file.
  write("big.soma", "for i in range(2000):\n    print(i)\n");
  std::string cmd = "cd '" + dir_.string() + "' && SOMA_HISTORY= SOMA_BACKEND=interp '" +
                    std::string(SOMA_CLI_PATH) + "' run big.soma > /dev/full 2> stderr.txt";
  int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::string err = read(dir_ / "stderr.txt");
  EXPECT_TRUE(contains(err, "writing the output to stdout failed")) << err;
  EXPECT_TRUE(contains(err, "the output is incomplete")) << err;
}

// Under any address-space limit the tool ends with a status and a message — never a signal: too
// little to load its libraries (127, the loader's message), a library's initializer out of memory
// (70, one line), out of memory while running (1, a clear error), or success.
TEST_F(Cli, EveryMemoryLimitEndsWithAStatusNotASignal) {
  if (testing::kSanitized)
    GTEST_SKIP() << "the sanitizers reserve more address space than any limit here";
  write("t.soma", "print(float(sum(exp(arange(0, 10)))))\n");
  for (int mb = 150; mb <= 290; mb += 4) {
    for (const char* args : {"--version", "run t.soma"}) {
      std::string cmd = "cd '" + dir_.string() + "' && ulimit -v " + std::to_string(mb * 1024) +
                        " && SOMA_DISK_CACHE=0 SOMA_BACKEND=llvm timeout 60 '" +
                        std::string(SOMA_CLI_PATH) + "' " + args + " > out.txt 2> err.txt";
      int rc = std::system(cmd.c_str());
      ASSERT_TRUE(WIFEXITED(rc));
      const int status = WEXITSTATUS(rc);
      EXPECT_TRUE(status == 0 || status == 1 || status == 70 || status == 127)
          << "ulimit -v " << mb << " MB, soma " << args << ": status " << status << "\n"
          << read(dir_ / "err.txt");
      if (status == 70) {
        EXPECT_TRUE(contains(read(dir_ / "err.txt"), "soma: could not start")) << mb;
      }
    }
  }
}

TEST_F(Cli, ScriptsThatAreNotFilesAreRefusedAtOnce) {
  fs::create_directory(dir_ / "folder");
  for (const std::string& f :
       {std::string("/dev/zero"), std::string("/dev/urandom"), std::string("folder")}) {
    Result r = soma("run " + f);
    EXPECT_EQ(r.status, 1) << f;
    EXPECT_TRUE(contains(r.err, "cannot read script '" + f + "'")) << r.err;
    EXPECT_TRUE(contains(r.err, "not a file")) << r.err;
  }
  Result r = soma("", ":load folder\n");
  EXPECT_TRUE(contains(r.err, "cannot read script 'folder'")) << r.err;
}

TEST_F(Cli, VersionAndHelp) {
  Result r = soma("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("soma ", 0), 0u);
  r = soma("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "soma run FILE.soma"));
  EXPECT_TRUE(contains(r.out, "exit status"));
  EXPECT_TRUE(contains(r.out, "2  a usage error"));
}

TEST_F(Cli, UsageErrorsExitWith2) {
  write("ok.soma", "y = const([1.0])\n");
  for (const char* args :
       {"run", "frob", "run ok.soma --bogus", "emit nosuch ok.soma", "run ok.soma --feed x",
        "bench ok.soma --runs 0", "run ok.soma --backend nosuch", "run ok.soma --json",
        "run a.soma b.soma"}) {
    Result r = soma(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

TEST_F(Cli, ScriptErrorsExitWith1WithLocationAndCaret) {
  write("bad.soma", "x = const([[1.0, 2.0]])\ny = x @ x\nprint(\"not reached\")\n");
  Result r = soma("run bad.soma");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "bad.soma:2:7: error: matmul: shapes [1,2] and [1,2] do not contract: 2 (last axis "
            "of the first) != 1 (second-to-last axis of the second)\n"
            "    2 | y = x @ x\n"
            "      |       ^\n");
  EXPECT_EQ(r.out, "");

  write("syntax.soma", "y = (1 +\n");
  r = soma("run syntax.soma");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "syntax.soma:1:5: error: '(' was never closed")) << r.err;

  r = soma("run missing.soma");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "cannot read script 'missing.soma'")) << r.err;
}

TEST_F(Cli, FeedsAndFetchesRoundTrip) {
  save_npy(path("x.npy"), Array::from_f32({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  write("f.soma",
        "x = input(\"x\", [2, 3])\n"
        "y = x * 2 + 1\n"
        "s = sum(x, axis=1)\n"
        "n = argmax(x, axis=1)\n"
        "k = 7\n");
  Result r = soma(
      "run f.soma --feed x=x.npy --fetch y=y.npy --fetch s=s.npy --fetch n=n.npy "
      "--fetch k");  // NAME alone writes NAME.npy
  ASSERT_EQ(r.status, 0) << r.err;
  Array y = load_npy(path("y.npy"));
  EXPECT_EQ(y.type_str(), "f32[2,3]");
  EXPECT_EQ(y.to_doubles(), (std::vector<double>{3, 5, 7, 9, 11, 13}));
  EXPECT_EQ(load_npy(path("s.npy")).to_doubles(), (std::vector<double>{6, 15}));
  Array n = load_npy(path("n.npy"));
  EXPECT_EQ(n.type_str(), "i32[2]");
  EXPECT_EQ(n.to_doubles(), (std::vector<double>{2, 2}));
  EXPECT_EQ(load_npy(path("k.npy")).type_str(), "i32[]");
}

TEST_F(Cli, FeedErrorsNameBothShapes) {
  save_npy(path("x.npy"), Array::from_f64({3}, std::vector<double>{1, 2, 3}));
  write("f.soma", "x = input(\"x\", [2, 3])\ny = x + 1\n");
  Result r = soma("run f.soma --feed x=x.npy");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err,
                       "f.soma:1:5: error: input 'x' is declared as f32[2,3] but x.npy "
                       "holds f64[3]"))
      << r.err;

  r = soma("run f.soma --fetch y=y.npy");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--fetch y: input 'x' (f32[2,3]) has no value")) << r.err;
  EXPECT_TRUE(contains(r.err, "note: input 'x' is declared here")) << r.err;

  r = soma("run f.soma --feed x=nosuch.npy");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--feed x=nosuch.npy")) << r.err;

  write("garbage.npy", "not an npy file");
  r = soma("run f.soma --feed x=garbage.npy");
  EXPECT_EQ(r.status, 1);

  save_npy(path("ok.npy"), Array::from_f32({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  r = soma("run f.soma --feed x=ok.npy --fetch nosuch=o.npy");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--fetch nosuch: the script has no variable 'nosuch'")) << r.err;

  r = soma("run f.soma --feed x=ok.npy --feed extra=ok.npy");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.err, "warning: --feed extra")) << r.err;
}

TEST_F(Cli, EveryStageEmits) {
  write("ok.soma", "x = input(\"x\", [4])\ny = exp(x) + 1\n");
  for (const script::EmitStage& st : script::emit_stages()) {
    Result r = soma("emit " + st.name + " ok.soma");
    EXPECT_EQ(r.status, 0) << st.name << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << st.name;
  }
}

// A flat JSON object of strings, numbers and null: key -> raw value text.
std::map<std::string, std::string> parse_flat_json(const std::string& line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  auto ws = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  auto str = [&]() -> std::string {
    if (line[i] != '"') throw std::runtime_error("expected a string");
    std::string s;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\') ++i;
      s += line[i];
    }
    ++i;
    return s;
  };
  ws();
  if (line[i++] != '{') throw std::runtime_error("expected {");
  while (true) {
    ws();
    std::string key = str();
    ws();
    if (line[i++] != ':') throw std::runtime_error("expected :");
    ws();
    std::string value;
    if (line[i] == '"') {
      value = std::string(1, '"').append(str()).append(1, '"');
    } else {
      size_t e = line.find_first_of(",}", i);
      value = line.substr(i, e - i);
      i = e;
    }
    out[key] = value;
    ws();
    if (line[i] == ',') {
      ++i;
      continue;
    }
    if (line[i] == '}') break;
    throw std::runtime_error("expected , or }");
  }
  return out;
}

TEST_F(Cli, BenchJsonLines) {
  write("b.soma", "x = input(\"x\", [8, 4])\nw = param(\"w\", [4, 2])\nloss = mean(relu(x @ w))\n");
  Result r = soma("bench b.soma --backends interp --runs 3 --warmup 1 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto obj = parse_flat_json(line);
    for (const char* key : {"name", "backend", "compile_ms", "run_ms_median", "run_ms_min", "runs"})
      EXPECT_TRUE(obj.count(key)) << key << " missing in " << line;
    EXPECT_EQ(obj["name"], "\"loss\"");
    EXPECT_EQ(obj["backend"], "\"interp\"");
    EXPECT_EQ(obj["runs"], "3");
    EXPECT_GE(std::stod(obj["compile_ms"]), 0.0);
    EXPECT_GE(std::stod(obj["run_ms_median"]), std::stod(obj["run_ms_min"]));
    ++n;
  }
  EXPECT_EQ(n, 1);

  r = soma("bench b.soma x --backends interp --runs 2");  // a named variable, as a table
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "bench x: 2 runs after 2 warm-up runs")) << r.out;
  EXPECT_TRUE(contains(r.out, "interp")) << r.out;

  r = soma("bench b.soma nosuch --backends interp");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "no variable 'nosuch'")) << r.err;
}

TEST_F(Cli, EmitStages) {
  write("e.soma", "x = input(\"x\", [2])\ny = exp(x) * 2\nz = 1\n");
  Result r = soma("emit graph e.soma y");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "%0 = input() {name=\"x\"} : f32[2]\n"
            "%1 = exp(%0) : f32[2]\n"
            "%2 = const() {value=[2.0]} : f32[]\n"
            "%3 = reshape(%2) : f32[1]\n"
            "%4 = broadcast(%3) : f32[2]\n"
            "%5 = mul(%1, %4) : f32[2]\n"
            "return %5\n");
  for (const char* stage : {"grad", "opt", "fused", "kernel"}) {
    r = soma(std::string("emit ") + stage + " e.soma y");
    EXPECT_EQ(r.status, 0) << stage << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << stage;
  }
  r = soma("emit graph e.soma");  // the last assigned variable, z, is a number
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "const() {value=[1.0]} : i32[]")) << r.out;
}

// exit(n) / quit(n) end the tool with status n, as in Python; exit() with 0.
TEST_F(Cli, ExitEndsTheToolWithItsStatus) {
  write("q.soma", "print(1)\nquit(3)\nprint(2)\n");
  Result r = soma("run q.soma");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "1\n");
  r = soma("", "print(1)\nexit()\nprint(2)\n");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
}

// `soma cache` lists what the compile caches hold, by folder and kind; `soma cache clear` removes
// the entries and nothing else (a cache folder pointed at a folder of the user's own keeps the
// user's files).
TEST_F(Cli, CacheInfoAndClear) {
  write("c.soma", "x = const([1.0, 2.0])\nprint(x * 3)\n");
  const std::string env = "SOMA_CACHE_DIR='" + (dir_ / "cache").string() + "' ";
  ASSERT_EQ(soma("run c.soma --backend llvm", "", env).status, 0);
  write("cache/llvm/notes.txt", "the user's own file");
  Result r = soma("cache", "", env);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "llvm/")) << r.out;
  EXPECT_TRUE(contains(r.out, "llvm-object 1")) << r.out;
  r = soma("cache clear", "", env);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "removed 1 entry")) << r.out;
  EXPECT_TRUE(contains(soma("cache info", "", env).out, "(empty)"));
  EXPECT_TRUE(fs::exists(dir_ / "cache/llvm/notes.txt")) << "clear removed a file of the user's";
  EXPECT_EQ(soma("cache nope", "", env).status, 2);
  EXPECT_TRUE(contains(soma("cache", "", "SOMA_DISK_CACHE=0 ").out, "off"));
}

// `emit fused` shows the kernels that run: its count is the number of kernels `emit kernel`
// prints, on each backend (vulkan splits reductions longer than its loop limit), for a
// softmax's gradient, a long sum and a convolution's training step.
TEST_F(Cli, EmitFusedCountsTheKernelsThatRun) {
  write("softmax.soma",
        "x = input(\"x\", [64, 100])\nw = param(\"w\", [100, 10])\n"
        "y = softmax(x @ w)\ng = grad(sum(y * y), w)\n");
  write("long.soma", "x = input(\"x\", [300000])\ng = sum(x * x)\n");
  write("conv.soma",
        "x = input(\"x\", [8, 1, 12, 12])\nw = param(\"w\", [4, 1, 3, 3])\n"
        "y = relu(conv2d(x, w))\ng = grad(mean(max_pool2d(y, 2)), w)\n");
  for (const char* backend : {"llvm", "vulkan"})
    for (const char* file : {"softmax.soma", "long.soma", "conv.soma"}) {
      SCOPED_TRACE(std::string(file) + " on " + backend);
      const std::string args = std::string(" ") + file + " g --backend " + backend;
      Result fused = soma("emit fused" + args), kernel = soma("emit kernel" + args);
      ASSERT_EQ(fused.status, 0) << fused.err;
      ASSERT_EQ(kernel.status, 0) << kernel.err;
      size_t kernels = 0;
      for (size_t at = 0; (at = kernel.out.find("kernel ", at)) != std::string::npos; ++at)
        kernels += at == 0 || kernel.out[at - 1] == '\n';
      ASSERT_GT(kernels, 0u) << kernel.out;
      const std::string count =
          "# " + std::to_string(kernels) + (kernels == 1 ? " kernel\n" : " kernels\n");
      EXPECT_TRUE(contains(fused.out, count)) << "want '" << count << "' in\n" << fused.out;
    }
}

// Where the chosen backend's device is missing, the target-independent stages still show a
// program, and say first (in a comment line the readers skip) that it lacks the device's loop
// limits; the kernel text with that line still reads back.
TEST_F(Cli, EmitWithoutTheBackendsDeviceSaysSo) {
  write("e.soma", "x = input(\"x\", [4, 8])\ny = softmax(x)\n");
  for (const char* stage : {"opt", "fused", "kernel"}) {
    Result r = soma(std::string("emit ") + stage + " e.soma y --backend vulkan", "",
                    "VK_DRIVER_FILES=/nonexistent/no_driver.json VK_ICD_FILENAMES= ");
    ASSERT_EQ(r.status, 0) << stage << ": " << r.err;
    EXPECT_EQ(r.out.rfind("# backend 'vulkan' is unavailable", 0), 0u) << stage << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "without that device's loop limits")) << r.out;
    if (std::string(stage) == "kernel") {
      EXPECT_NO_THROW(kir::parse_program(r.out)) << r.out;
    }
  }
}

TEST_F(Cli, ReplThroughStdin) {
  std::string session =
      "x = const([1.0, 2.0, 3.0])\n"
      "y = x * 2\n"
      "y\n"
      "print(sum(y))\n"
      "y + undefined\n"
      "for i in range(2):\n"
      "    print(i)\n"
      "\n"
      ":vars\n"
      ":emit graph y\n"
      ":help len\n"
      ":backend interp\n"
      ":reset\n"
      ":vars\n"
      ":quit\n"
      "print(\"after quit\")\n";
  Result r = soma("", session);
  EXPECT_EQ(r.status, 1);  // one statement failed
  EXPECT_EQ(r.out,
            "array([2., 4., 6.])\n"
            "12.0\n"
            "0\n1\n"
            "x  tensor  f32[3]\n"
            "y  tensor  f32[3]\n"
            "i  int     1\n"
            "%0 = const() {value=[1.0,2.0,3.0]} : f32[3]\n"
            "%1 = const() {value=[2.0]} : f32[]\n"
            "%2 = reshape(%1) : f32[1]\n"
            "%3 = broadcast(%2) : f32[3]\n"
            "%4 = mul(%0, %3) : f32[3]\n"
            "return %4\n"
            "len(x)\n"
            "    The length of a list or string, or the size of a tensor's first axis.\n"
            "session reset\n"
            "(no variables)\n");
  EXPECT_EQ(r.err,
            "<stdin>:5:5: error: name 'undefined' is not defined\n"
            "    5 | y + undefined\n"
            "      |     ^\n");

  r = soma("", "print(1)\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "1\n");
}

TEST_F(Cli, FileShorthandAndQuit) {
  write("q.soma", "print(1)\n:quit\nprint(2)\n");
  Result r = soma("q.soma");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
}

const std::filesystem::path kExamples =
    std::filesystem::path(SOMA_TEST_DATA_DIR) / ".." / ".." / "examples";

TEST_F(Cli, NeuronExampleLearnsOr) {
  Result r = soma("run '" + (kExamples / "neuron.soma").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "learned OR: True")) << r.out;
}

// Embedding -> LSTM -> Dense on the interpreter (about 2 s; skipped under the sanitizers, where
// the interpreter is several times slower).
TEST_F(Cli, SequenceLstmExampleClassifiesTokenSequences) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "too slow under AddressSanitizer";
#endif
  Result r = soma("run --backend interp '" + (kExamples / "sequence_lstm.soma").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  size_t at = r.out.find("held-out accuracy: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stod(r.out.substr(at + 19)), 0.9) << r.out;
  EXPECT_TRUE(contains(r.out, " lstm (LSTM)                 (None, 16)                1600"))
      << r.out;
}

// The benchmark scripts of bench/ (compare_torch.sh runs them) still run: each on a small slice of
// Fashion-MNIST for one epoch, on llvm, writing its history CSV and the test accuracy.
TEST_F(Cli, BenchmarkScriptsRun) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "too slow under AddressSanitizer";
#endif
  const fs::path bench = fs::path(SOMA_TEST_DATA_DIR) / ".." / ".." / "bench";
  for (const char* model : {"mlp", "cnn"}) {
    std::string text = read(bench / (std::string(model) + "_epoch.soma"));
    for (auto [from, to] : {std::pair<std::string, std::string>{"fashion_mnist()",
                                                                "fashion_mnist(train_limit=512, "
                                                                "test_limit=128)"},
                            {"epochs=5", "epochs=1"}}) {
      const size_t at = text.find(from);
      ASSERT_NE(at, std::string::npos) << model << ": no " << from;
      text.replace(at, from.size(), to);
    }
    write("b.soma", text);
    Result r = soma("run --backend llvm b.soma");
    ASSERT_EQ(r.status, 0) << model << ": " << r.err;
    EXPECT_TRUE(contains(r.out, "test_accuracy: ")) << r.out;
    EXPECT_TRUE(fs::exists(dir_ / (std::string(model) + "_history.csv"))) << model;
  }
}

}  // namespace
}  // namespace soma
