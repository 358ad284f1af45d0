// The pass manager and the pipeline's knobs: order, SOMA_DISABLE_PASSES, SOMA_DEBUG logging,
// SOMA_DUMP_DIR files, the verifier after each pass, and unknown pass names.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "frontend/pipeline_env.h"
#include "graph/error.h"
#include "pass_test_util.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "tests/source_tree.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

const char* kText = R"(%0 = input() {name="x"} : f32[3]
%1 = const() {value=[1.0]} : f32[3]
%2 = mul(%0, %1) : f32[3]
%3 = exp(%2) : f32[3]
%4 = exp(%2) : f32[3]
%5 = add(%3, %4) : f32[3]
%6 = neg(%0) : f32[3]
return %5
)";

// Sets an environment variable for the lifetime of the scope.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~EnvVar() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

fs::path temp_dir(const std::string& name) {
  return testing::fresh_temp_dir("pass_" + name);
}

std::string read_file(const fs::path& p) {
  return testing::read_text(p);
}

PipelineOptions quiet_options(std::ostream& log) {
  PipelineOptions o;
  o.verify = true;
  o.log = &log;
  return o;
}

TEST(PassManager, RunsPassesInOrderAndSkipsDisabledOnes) {
  std::vector<std::string> ran;
  auto pass = [&](const std::string& name) {
    return GraphPass{name, [&ran, name](Module&) {
                       ran.push_back(name);
                       return false;
                     }};
  };
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  run_passes(m, {pass("a"), pass("b"), pass("c"), pass("b")}, o);
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "c", "b"}));
  ran.clear();
  o.disabled = {"b"};
  run_passes(m, {pass("a"), pass("b"), pass("c"), pass("b")}, o);
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(log.str(), "");  // debug level 0 prints nothing
}

TEST(PassManager, OptionsFromTheEnvironment) {
  {
    EnvVar debug("SOMA_DEBUG", "2"), dump("SOMA_DUMP_DIR", "/tmp/somewhere"),
        disable("SOMA_DISABLE_PASSES", " cse, simplify ,,dce");
    PipelineOptions o = pipeline_options_from_env();
    EXPECT_EQ(o.debug_level, 2);
    EXPECT_EQ(o.dump_dir, "/tmp/somewhere");
    EXPECT_EQ(o.disabled, (std::set<std::string>{"cse", "simplify", "dce"}));
  }
  {
    EnvVar debug("SOMA_DEBUG", "lots");
    EXPECT_THROW(pipeline_options_from_env(), ValueError);
  }
  unsetenv("SOMA_DEBUG");
  unsetenv("SOMA_DUMP_DIR");
  unsetenv("SOMA_DISABLE_PASSES");
  PipelineOptions o = pipeline_options_from_env();
  EXPECT_EQ(o.debug_level, 0);
  EXPECT_EQ(o.dump_dir, "");
  EXPECT_TRUE(o.disabled.empty());
}

TEST(PassManager, UnknownDisabledPassIsReportedWithTheKnownNames) {
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.disabled = {"cse", "fusion"};
  try {
    optimize_graph(m, o);
    FAIL() << "expected a NameError";
  } catch (const NameError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'fusion'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dce, simplify, cse"), std::string::npos) << msg;
  }
  EXPECT_EQ(pipeline_pass_names(),
            (std::vector<std::string>{"dce", "simplify", "cse", "split_k", "split_reduce", "fuse",
                                      "lower", "plan"}));
}

TEST(PassManager, DisablingEveryPassLeavesTheModuleAlone) {
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.disabled = {"dce", "simplify", "cse"};
  optimize_graph(m, o);
  EXPECT_EQ(print_graph(m.graph, m.outputs), kText);
}

TEST(PassManager, DisablingOnePassKeepsTheOthers) {
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.disabled = {"cse"};
  optimize_graph(m, o);
  EXPECT_EQ(print_graph(m.graph, m.outputs), R"(%0 = input() {name="x"} : f32[3]
%1 = exp(%0) : f32[3]
%2 = exp(%0) : f32[3]
%3 = add(%1, %2) : f32[3]
return %3
)");
}

TEST(PassManager, DebugLevelTwoPrintsTheIrAfterEachPassThatChangedIt) {
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.debug_level = 2;
  optimize_graph(m, o);
  std::string s = log.str();
  EXPECT_NE(s.find("--- input ---\n" + std::string(kText)), std::string::npos) << s;
  // The first dce removes %6, simplify removes x*1, cse merges the two exps; the second
  // simplify and dce find nothing to do.
  EXPECT_NE(s.find("--- after dce ---\n"), std::string::npos) << s;
  EXPECT_NE(s.find("--- after simplify ---\n"), std::string::npos) << s;
  EXPECT_NE(s.find(R"(--- after cse ---
%0 = input() {name="x"} : f32[3]
%1 = exp(%0) : f32[3]
%2 = add(%1, %1) : f32[3]
return %2
)"),
            std::string::npos)
      << s;
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("--- after "), 3u) << s;
  EXPECT_EQ(count("soma: pass "), 7u) << s;  // level 1's timing lines come along
  EXPECT_NE(s.find("soma: pass simplify: "), std::string::npos) << s;
  EXPECT_NE(s.find("(unchanged)"), std::string::npos) << s;
}

TEST(PassManager, DebugLevelOnePrintsTimingsOnly) {
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.debug_level = 1;
  o.disabled = {"cse"};
  optimize_graph(m, o);
  std::string s = log.str();
  EXPECT_EQ(s.find("--- "), std::string::npos) << s;
  EXPECT_NE(s.find("soma: pass dce: "), std::string::npos) << s;
  EXPECT_NE(s.find("soma: pass cse: disabled"), std::string::npos) << s;
}

TEST(PassManager, DumpDirGetsEveryStage) {
  fs::path dir = temp_dir("dump") / "nested";
  Module m = pass_test::parse_module(kText);
  m.updates = {};
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.dump_dir = dir.string();
  o.disabled = {"cse"};
  optimize_graph(m, o);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  // Stage numbers count on across the process (a second compile does not overwrite the first's).
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  // input, dce, simplify, simplify, split_k, split_reduce, dce (cse is disabled)
  ASSERT_EQ(names.size(), 7u);
  const char* stages[] = {"-input",   "-dce",          "-simplify", "-simplify",
                          "-split_k", "-split_reduce", "-dce"};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_NE(names[i].find(std::string(stages[i]) + ".soma-ir"), std::string::npos) << names[i];
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(names[i][0]))) << names[i];
  }
  EXPECT_EQ(read_file(dir / names[0]), kText);
  // Every stage parses back, and the last one is the result.
  for (const std::string& n : names) EXPECT_NO_THROW(parse_graph(read_file(dir / n))) << n;
  EXPECT_EQ(read_file(dir / names.back()), print_graph(m.graph, m.outputs));
  fs::remove_all(dir.parent_path());
}

TEST(PassManager, DumpsShowUpdatesAsComments) {
  fs::path dir = temp_dir("dump_updates");
  Module m = pass_test::parse_module(R"(%0 = param() {name="w"} : f32[3]
%1 = const() {value=[0.5]} : f32[3]
%2 = mul(%0, %1) : f32[3]
return %2
)");
  m.updates = {{0, 2}};
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.dump_dir = dir.string();
  run_passes(m, {GraphPass{"nothing", [](Module&) { return false; }}}, o);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 2u);
  for (const fs::path& f : files) {
    std::string text = read_file(f);
    EXPECT_NE(text.find("return %2\n# update %0 <- %2\n"), std::string::npos) << text;
    EXPECT_NO_THROW(parse_graph(text));
  }
  fs::remove_all(dir);
}

TEST(PassManager, UnwritableDumpDirIsAnIOErrorNamingThePath) {
  fs::path dir = temp_dir("dump_blocked");
  fs::create_directories(dir);
  std::ofstream(dir / "file") << "not a directory";
  Module m = pass_test::parse_module(kText);
  std::ostringstream log;
  PipelineOptions o = quiet_options(log);
  o.dump_dir = (dir / "file" / "sub").string();
  try {
    optimize_graph(m, o);
    FAIL() << "expected an IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find(o.dump_dir), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(PassManagerDeathTest, AnInvalidGraphAfterAPassAbortsNamingThePass) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Module m = pass_test::parse_module(kText);
  GraphPass breaker{"breaker", [](Module& mod) {
                      // An add whose inputs disagree in shape, appended without checks.
                      NodeId big = mod.graph.add(Op::Input, {}, {{"name", std::string("y")}},
                                                 TensorType{DType::f32, Shape{4}});
                      mod.outputs.push_back(mod.graph.add_unchecked(
                          Node{Op::Add, TensorType{DType::f32, Shape{3}}, {0, big}, {}}));
                      return true;
                    }};
  PipelineOptions o;
  o.verify = true;
  EXPECT_DEATH(run_passes(m, {breaker}, o), "invalid after pass 'breaker'");
  // A param that an update writes must stay a param.
  GraphPass replacer{"replacer", [](Module& mod) {
                       mod.updates[0].first = mod.updates[0].second;
                       return true;
                     }};
  Module u = pass_test::parse_module("%0 = param() {name=\"w\"} : f32[3]\n%1 = neg(%0) : f32[3]\n");
  u.updates = {{0, 1}};
  EXPECT_DEATH(run_passes(u, {replacer}, o), "invalid after pass 'replacer'.*not a param");
}

}  // namespace
}  // namespace soma
