// The checked reader and the atomic writer: what is not a regular file is refused at once (a
// FIFO does not block, /dev/zero is not read forever), errors name the path and the reason, and a
// failed write (a file size limit) keeps the old file and leaves no temporary; temporaries of
// killed writers are cleaned up by the next write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/soma-fileio-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IOError& e) {
    return e.what();
  }
  return "";
}

TEST(ReadFile, RefusesWhatIsNotARegularFile) {
  TempDir d;
  std::string fifo = d.path + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& p :
       {fifo, d.path, std::string("/dev/zero"), std::string("/dev/urandom")}) {
    std::string m = error_of([&] { read_file(p, "script"); });
    EXPECT_NE(m.find("cannot read script '" + p + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("not a file"), std::string::npos) << m;
  }
  std::string m = error_of([&] { read_file(d.path + "/missing", "script"); });
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
}

TEST(ReadFile, SizeLimit) {
  TempDir d;
  std::string p = d.path + "/big";
  std::ofstream(p) << std::string(5000, 'x');
  EXPECT_EQ(read_file(p, "file").size(), 5000u);
  std::string m = error_of([&] { read_file(p, "script", 4096); });
  EXPECT_NE(m.find("more than the limit of 4096 bytes"), std::string::npos) << m;
}

TEST(WriteFileAtomic, ReplacesAndLeavesNoTemporary) {
  TempDir d;
  std::string p = d.path + "/out.bin";
  write_file_atomic(p, "first", "file");
  write_file_atomic(p, "second", "file");
  EXPECT_EQ(read_file(p, "file"), "second");
  EXPECT_EQ(d.entries(), std::vector<std::string>{"out.bin"});
}

TEST(WriteFileAtomic, AFailedWriteKeepsTheOldFile) {
  TempDir d;
  std::string p = d.path + "/out.bin";
  write_file_atomic(p, "old content", "file");
  // A file size limit makes the write fail with EFBIG (SIGXFSZ ignored, as a shell would).
  struct rlimit old_limit;
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1024;
  ::setrlimit(RLIMIT_FSIZE, &small);
  std::string m = error_of([&] { write_file_atomic(p, std::string(4096, 'y'), "model"); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(m.find("cannot save model '" + p + "'"), std::string::npos) << m;
  EXPECT_NE(m.find("File too large"), std::string::npos) << m;
  EXPECT_EQ(read_file(p, "file"), "old content");
  EXPECT_EQ(d.entries(), std::vector<std::string>{"out.bin"});
}

TEST(WriteFileAtomic, RemovesTemporariesOfKilledWriters) {
  TempDir d;
  std::string p = d.path + "/model.soma";
  // A writer killed mid-save: its pid is gone (a child that exited), its temporary remains.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  std::string orphan = d.path + "/model.soma.tmp-" + std::to_string(child) + "-0-1";
  std::ofstream(orphan) << "partial";
  // A temporary of a live writer (this process's parent) is left alone.
  std::string live = d.path + "/model.soma.tmp-" + std::to_string(::getppid()) + "-0-1";
  std::ofstream(live) << "in progress";
  write_file_atomic(p, "data", "model");
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_TRUE(fs::exists(live));
}

}  // namespace
}  // namespace soma
