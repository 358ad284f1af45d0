// Every file soma reads or writes goes through here: one checked reader and one atomic writer.
//
// read_file accepts only regular files (a directory, a FIFO, /dev/zero or /dev/urandom is an
// error, not an endless read) up to a size limit, and names the file and the reason (the errno
// text) in an IOError. write_file_atomic writes a fresh temporary file in the target's folder,
// flushes it to disk and renames it over the target, so a crash, a full disk (ENOSPC), a file
// size limit (EFBIG) or a kill at any point leaves the previous file intact; on failure the
// temporary is removed and the IOError says why. Temporaries that killed processes left behind
// (same folder, "<name>.tmp-<pid>-...", the pid no longer running) are removed by the next write
// of the same target.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace soma {

// The largest file read_file accepts by default (arrays and checkpoints of a few GiB are fine).
constexpr uint64_t kMaxFileBytes = uint64_t{64} << 30;

// The whole content of the regular file `path`. `what` describes it in errors ("checkpoint",
// "script", ...): "cannot read <what> '<path>': <reason>".
std::string read_file(const std::string& path, const std::string& what,
                      uint64_t max_bytes = kMaxFileBytes);

// Replaces `path` with `bytes` atomically (see above); throws IOError "cannot save <what>
// '<path>': <reason>".
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what);
// The same for a file made of several pieces written one after another (a header and a large
// array's bytes, without first copying them into one buffer).
void write_file_atomic(const std::string& path, std::span<const std::string_view> pieces,
                       const std::string& what);

// Like write_file_atomic, for best-effort writers (caches): false instead of an exception, with
// the reason in *why when given.
bool try_write_file_atomic(const std::string& path, std::string_view bytes,
                           std::string* why = nullptr);
bool try_write_file_atomic(const std::string& path, std::span<const std::string_view> pieces,
                           std::string* why = nullptr);

// Fault injection for tests: every following write_file_atomic / try_write_file_atomic fails
// with `err` (ENOSPC, EFBIG, EIO, ...) once `after_bytes` bytes of the file are written — at the
// flush when the file is not longer than that — until cleared. Process-wide; not for production
// use.
void set_write_fault_for_testing(int err, uint64_t after_bytes);
void clear_write_fault_for_testing();

// The folder part of a path ("." for a bare name).
std::string dir_of(const std::string& path);

}  // namespace soma
