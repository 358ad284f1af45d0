#include "runtime/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "graph/error.h"
#include "runtime/env.h"
#include "runtime/file_io.h"
#include "runtime/sha256.h"

namespace soma {

namespace {

constexpr const char* kMagic = "soma-cache 1";
// An entry larger than this is not read (no compile cache entry comes close).
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 30;

bool is_word(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

// Reads one "\n"-terminated line at `pos`.
bool line_at(std::string_view bytes, size_t& pos, std::string_view* line) {
  size_t nl = bytes.find('\n', pos);
  if (nl == std::string_view::npos) return false;
  *line = bytes.substr(pos, nl - pos);
  pos = nl + 1;
  return true;
}

bool parse_u64(std::string_view s, uint64_t* v) {
  auto x = parse_int(std::string(s), 0, INT64_MAX);
  if (!x) return false;
  *v = static_cast<uint64_t>(*x);
  return true;
}

// Why `bytes` is not a valid entry for `key` ("" when it is); the payload in *payload.
std::string check_entry(std::string_view bytes, const CacheKey& key, std::string_view* payload) {
  size_t pos = 0;
  std::string_view line;
  if (!line_at(bytes, pos, &line) || line != kMagic)
    return "not a soma cache entry of this version (bad first line)";
  if (!line_at(bytes, pos, &line) || line != "kind " + key.kind)
    return "of another kind (expected '" + key.kind + "')";
  if (!line_at(bytes, pos, &line) || line != "producer " + key.producer)
    return "made by another producer (expected '" + key.producer + "')";
  uint64_t n = 0;
  if (!line_at(bytes, pos, &line) || line.substr(0, 4) != "key " || !parse_u64(line.substr(4), &n))
    return "malformed (no key line)";
  if (bytes.size() - pos < n + 1 || bytes.substr(pos, n) != key.key || bytes[pos + n] != '\n')
    return "for another key (its file name collides, or it was overwritten)";
  pos += n + 1;
  if (!line_at(bytes, pos, &line) || line.substr(0, 8) != "payload ")
    return "malformed (no payload line)";
  std::string_view rest = line.substr(8);
  size_t space = rest.find(' ');
  uint64_t m = 0;
  if (space == std::string_view::npos || !parse_u64(rest.substr(0, space), &m))
    return "malformed (bad payload line)";
  if (bytes.size() - pos != m)
    return "truncated or padded (payload of " + std::to_string(bytes.size() - pos) +
           " bytes, expected " + std::to_string(m) + ")";
  *payload = bytes.substr(pos);
  if (sha256_hex(*payload) != rest.substr(space + 1)) return "corrupt (payload digest mismatch)";
  return "";
}

struct Item {
  std::string path;
  uint64_t bytes;
  int64_t mtime_ns;
};

}  // namespace

std::string CacheKey::file_name() const {
  Sha256 h;
  h.update(kind);
  h.update("\n", 1);
  h.update(producer);
  h.update("\n", 1);
  h.update(key);
  auto d = h.final();
  return to_hex(d.data(), d.size()) + "." + kind;
}

std::string cache_dir(const std::string& sub) {
  if (!env_flag("SOMA_DISK_CACHE", true)) return "";
  std::string root;
  if (auto d = env_value("SOMA_CACHE_DIR"))
    root = *d;
  else if (auto x = env_value("XDG_CACHE_HOME"); x && (*x)[0] == '/')
    root = *x + "/soma";
  else if (auto h = env_value("HOME"))
    root = *h + "/.cache/soma";
  else
    return "";
  return sub.empty() ? root : root + "/" + sub;
}

std::string encode_cache_entry(const CacheKey& key, std::string_view payload) {
  std::string out;
  out.reserve(key.key.size() + payload.size() + key.producer.size() + 160);
  out += kMagic;
  out += "\nkind " + key.kind + "\nproducer " + key.producer + "\nkey " +
         std::to_string(key.key.size()) + "\n";
  out += key.key;
  out += "\npayload " + std::to_string(payload.size()) + " " + sha256_hex(payload) + "\n";
  out.append(payload.data(), payload.size());
  return out;
}

CacheLookup read_cache_entry(const std::string& dir, const CacheKey& key) {
  CacheLookup r;
  if (dir.empty()) return r;
  SOMA_CHECK(is_word(key.kind) && key.producer.find('\n') == std::string::npos)
      << "cache kind '" << key.kind << "' or producer is not one word / line";
  const std::string path = dir + "/" + key.file_name();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return r;  // a miss
  std::string bytes, why;
  try {
    bytes = read_file(path, "cache entry", kMaxEntryBytes);
  } catch (const IOError& e) {
    why = e.what();
  }
  std::string_view payload;
  if (why.empty()) why = check_entry(bytes, key, &payload);
  if (!why.empty()) {
    r.status = CacheLookup::Status::Rejected;
    r.why = why;
    std::cerr << "soma: warning: ignoring the " << key.kind << " cache entry '" << path
              << "': " << why << "; it is rebuilt\n";
    if (S_ISREG(st.st_mode)) ::unlink(path.c_str());
    return r;
  }
  r.status = CacheLookup::Status::Hit;
  r.payload.assign(payload.data(), payload.size());
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used (for eviction)
  return r;
}

bool write_cache_entry(const std::string& dir, const CacheKey& key, std::string_view payload) {
  if (dir.empty()) return false;
  std::string d;
  // Create the folder (and its parents) as needed.
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at < dir.size() && dir[at] != '/') continue;
    d = dir.substr(0, at);
    if (::mkdir(d.c_str(), 0777) != 0 && errno != EEXIST) return false;
  }
  std::string entry = encode_cache_entry(key, payload);
  uint64_t limit = cache_max_bytes();
  if (entry.size() > limit) return false;
  if (!try_write_file_atomic(dir + "/" + key.file_name(), entry)) return false;
  prune_cache_dir(dir, limit);
  return true;
}

uint64_t cache_max_bytes() {
  return static_cast<uint64_t>(env_int("SOMA_CACHE_MAX_MB", 1024, 1, int64_t{1} << 30)) << 20;
}

bool is_cache_file_name(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot != 64) return false;
  for (size_t i = 0; i < 64; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  std::string rest = name.substr(65);
  if (const size_t tmp = rest.find(".tmp-"); tmp != std::string::npos) rest.resize(tmp);
  return is_word(rest);
}

namespace {

// The kind of an entry's file name (its extension, without a temporary suffix).
std::string kind_of(const std::string& name) {
  std::string kind = name.substr(65);
  if (const size_t tmp = kind.find(".tmp-"); tmp != std::string::npos) kind.resize(tmp);
  return kind;
}

// Visits every cache file of `dir` with its path, name and size.
template <typename F>
void each_cache_file(const std::string& dir, F&& f) {
  DIR* d = dir.empty() ? nullptr : ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!is_cache_file_name(name)) continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    f(path, name, static_cast<uint64_t>(st.st_size));
  }
  ::closedir(d);
}

void count(CacheUsage& u, const std::string& name, uint64_t bytes) {
  const std::string kind = kind_of(name);
  auto it = std::find_if(u.kinds.begin(), u.kinds.end(),
                         [&](const CacheUsage::Kind& k) { return k.kind == kind; });
  if (it == u.kinds.end()) {
    u.kinds.push_back({kind, 0, 0});
    it = u.kinds.end() - 1;
  }
  ++it->entries;
  it->bytes += bytes;
  ++u.entries;
  u.bytes += bytes;
}

void sort_kinds(CacheUsage& u) {
  std::sort(u.kinds.begin(), u.kinds.end(),
            [](const CacheUsage::Kind& a, const CacheUsage::Kind& b) { return a.kind < b.kind; });
}

}  // namespace

CacheUsage cache_usage(const std::string& dir) {
  CacheUsage u;
  each_cache_file(dir, [&](const std::string&, const std::string& name, uint64_t bytes) {
    count(u, name, bytes);
  });
  sort_kinds(u);
  return u;
}

CacheUsage clear_cache_dir(const std::string& dir) {
  CacheUsage u;
  each_cache_file(dir, [&](const std::string& path, const std::string& name, uint64_t bytes) {
    if (::unlink(path.c_str()) == 0) count(u, name, bytes);
  });
  sort_kinds(u);
  return u;
}

void prune_cache_dir(const std::string& dir, uint64_t max_bytes) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<Item> items;
  uint64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!is_cache_file_name(name)) continue;  // only entries: never a file of the user's own
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    items.push_back({path, static_cast<uint64_t>(st.st_size),
                     int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec});
    total += static_cast<uint64_t>(st.st_size);
  }
  ::closedir(d);
  if (total <= max_bytes) return;
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.mtime_ns < b.mtime_ns; });
  for (const Item& it : items) {
    if (total <= max_bytes) break;
    if (::unlink(it.path.c_str()) == 0) total -= it.bytes;
  }
}

}  // namespace soma
