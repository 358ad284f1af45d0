#include "runtime/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>

#include "graph/error.h"
#include "runtime/host_memory.h"

namespace soma {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error (close can report a deferred write error).
  int close() {
    int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

std::string base_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a pipe (FIFO)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// Removes "<base>.tmp-<pid>-..." files in `dir` whose process is gone.
void remove_orphans(const std::string& dir, const std::string& base) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const std::string prefix = base + ".tmp-";
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still running
    ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

}  // namespace

std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  auto fail = [&](const std::string& why) -> void {
    SOMA_THROW(IOError, "cannot read " << what << " '" << path << "': " << why);
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) fail(std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(std::string("it is ") + kind_of(st.st_mode) + ", not a file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    fail("it has " + format_bytes(st.st_size) + ", more than the limit of " +
         format_bytes(static_cast<int64_t>(max_bytes)));
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  std::string bytes;
  try {
    bytes.reserve(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    fail("out of memory allocating " + format_bytes(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(std::strerror(errno));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > max_bytes)  // a file that grows while we read it
      fail("it grew past the limit of " + format_bytes(static_cast<int64_t>(max_bytes)) +
           " while being read");
  }
  return bytes;
}

namespace {

struct WriteFault {
  std::atomic<int> err{0};  // 0: none
  std::atomic<uint64_t> after_bytes{0};
};

WriteFault& write_fault() {
  static WriteFault f;
  return f;
}

}  // namespace

void set_write_fault_for_testing(int err, uint64_t after_bytes) {
  write_fault().after_bytes = after_bytes;
  write_fault().err = err;
}

void clear_write_fault_for_testing() {
  write_fault().err = 0;
}

bool try_write_file_atomic(const std::string& path, std::string_view bytes, std::string* why) {
  return try_write_file_atomic(path, std::span<const std::string_view>(&bytes, 1), why);
}

bool try_write_file_atomic(const std::string& path, std::span<const std::string_view> pieces,
                           std::string* why) {
  const std::string dir = dir_of(path), base = base_of(path);
  remove_orphans(dir, base);
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  std::string tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 100 && raw < 0; ++attempt) {
    tmp = dir + "/" + base + ".tmp-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter++) + "-" + std::to_string(rd() % 1000000);
    // Mode 0666: the umask decides the permissions, as for any new file.
    raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw < 0 && errno != EEXIST) break;
  }
  if (raw < 0) {
    if (why)
      *why = "cannot create a temporary file in folder '" + dir + "': " + std::strerror(errno);
    return false;
  }
  Fd fd(raw);
  auto abandon = [&](const std::string& msg) {
    int err = errno;
    if (fd.get() >= 0) fd.close();
    ::unlink(tmp.c_str());
    if (why) *why = msg + ": " + std::strerror(err);
    return false;
  };
  const int fault = write_fault().err;
  const uint64_t fault_at = fault ? write_fault().after_bytes.load() : UINT64_MAX;
  uint64_t written = 0;  // over all pieces, for the fault injection
  for (std::string_view bytes : pieces) {
    size_t done = 0;
    while (done < bytes.size()) {
      if (written >= fault_at) {
        errno = fault;
        return abandon("cannot write temporary file '" + tmp + "'");
      }
      const size_t chunk =
          static_cast<size_t>(std::min<uint64_t>(bytes.size() - done, fault_at - written));
      ssize_t n = ::write(fd.get(), bytes.data() + done, chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = EIO;
        return abandon("cannot write temporary file '" + tmp + "'");
      }
      done += static_cast<size_t>(n);
      written += static_cast<uint64_t>(n);
    }
  }
  if (fault) {
    errno = fault;
    return abandon("cannot flush temporary file '" + tmp + "'");
  }
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != EROFS)
    return abandon("cannot flush temporary file '" + tmp + "'");
  if (fd.close() != 0) return abandon("cannot close temporary file '" + tmp + "'");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return abandon("cannot rename temporary file '" + tmp + "' to '" + path + "'");
  return true;
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what) {
  write_file_atomic(path, std::span<const std::string_view>(&bytes, 1), what);
}

void write_file_atomic(const std::string& path, std::span<const std::string_view> pieces,
                       const std::string& what) {
  std::string why;
  if (!try_write_file_atomic(path, pieces, &why))
    SOMA_THROW(IOError, "cannot save " << what << " '" << path << "': " << why);
}

}  // namespace soma
