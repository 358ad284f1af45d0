// The docs' runnable code: every fenced block of README.md and docs/*.md that the line before it
// marks `<!-- runnable -->` runs in a fresh session without an error. A block that is a REPL
// transcript (`>>> ` before each statement) must also print what the transcript shows, line for
// line (digits of timing lines, those with " ms", are not compared).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "frontend/script/batch.h"

namespace soma::script {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(SOMA_TEST_DATA_DIR) / ".." / "..";
constexpr const char* kMarker = "<!-- runnable -->";

struct Block {
  std::string where;  // file:line of the fence
  std::vector<std::string> lines;
};

std::vector<Block> runnable_blocks() {
  std::vector<fs::path> files = {kRoot / "README.md"};
  for (const auto& e : fs::directory_iterator(kRoot / "docs"))
    if (e.path().extension() == ".md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Block> out;
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::string line, prev;
    int n = 0;
    Block* open = nullptr;
    bool in_fence = false;
    while (std::getline(in, line)) {
      ++n;
      if (line.rfind("```", 0) == 0) {
        if (!in_fence && prev == kMarker) {
          out.push_back(Block{f.filename().string() + ":" + std::to_string(n), {}});
          open = &out.back();
        } else if (in_fence) {
          open = nullptr;
        }
        in_fence = !in_fence;
      } else if (open) {
        open->lines.push_back(line);
      }
      prev = line;
    }
  }
  return out;
}

void PrintTo(const Block& b, std::ostream* os) {
  *os << b.where;
}

bool is_transcript(const Block& b) {
  for (const std::string& l : b.lines)
    if (l.rfind(">>> ", 0) == 0) return true;
  return false;
}

std::string mask_timing(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  static const std::regex digits("[0-9]+(\\.[0-9]+)?");
  while (std::getline(in, line))
    out += (line.find(" ms") != std::string::npos ? std::regex_replace(line, digits, "N") : line) +
           "\n";
  return out;
}

class DocsBlock : public ::testing::TestWithParam<Block> {};

TEST_P(DocsBlock, Runs) {
  const Block& b = GetParam();
  std::string program, expected;
  bool transcript = is_transcript(b);
  for (const std::string& l : b.lines) {
    if (!transcript) {
      program += l + "\n";
    } else if (l.rfind(">>> ", 0) == 0) {
      program += l.substr(4) + "\n";
    } else if (l.rfind("... ", 0) == 0) {
      program += l.substr(4) + "\n";
    } else if (l.rfind("$ ", 0) != 0 && l.rfind("soma ", 0) != 0) {
      expected += l + "\n";
    }
  }
  fs::path dir = fs::path(::testing::TempDir()) / ("soma_docs_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path cwd = fs::current_path();
  fs::current_path(dir);  // files a block writes land here
  std::ostringstream out;
  SessionOptions o;
  o.backend = transcript ? "interp" : "llvm";  // the transcripts show the REPL's default
  o.out = &out;
  o.err = &out;
  int rc;
  {
    Session s(o);
    rc = run_batch(s, b.where, program, out);
  }
  fs::current_path(cwd);
  fs::remove_all(dir);
  EXPECT_EQ(rc, 0) << b.where << " failed:\n" << out.str();
  if (transcript) {
    EXPECT_EQ(mask_timing(out.str()), mask_timing(expected)) << b.where;
  }
}

std::string block_name(const ::testing::TestParamInfo<Block>& info) {
  std::string s = info.param.where;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Docs, DocsBlock, ::testing::ValuesIn(runnable_blocks()), block_name);

TEST(Docs, SomeBlocksAreMarkedRunnable) {
  EXPECT_GE(runnable_blocks().size(), 3u);
}

}  // namespace
}  // namespace soma::script
