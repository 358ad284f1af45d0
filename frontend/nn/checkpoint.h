// The checkpoint file format of Model::save_weights / Model::save (".soma-weights"):
//
//   line 1:   "soma-checkpoint 2"                         (magic and format version)
//   header:   text lines "key value..." up to a line "end SHA256":
//               meta KEY VALUE           free-form metadata (model name, input type, ...)
//               architecture BYTES       the model's architecture text follows the header
//               tensor NAME DTYPE SHAPE BYTES CRC32
//                                        one per tensor, in order, e.g.
//                                        "tensor dense/kernel f32 [784,10] 31488 1a2b3c4d"
//               end SHA256                 the SHA-256 (hex) of every other byte of the file:
//                                        the header lines before it, then the payload
//   payload:  the architecture text (if any), then each tensor's raw little-endian C-order bytes
//             in header order; nothing after the last tensor.
//
// Names have no spaces; meta values run to the end of their line. Writes are atomic
// (runtime/file_io.h): a crash, a kill or a full disk never leaves a half-written checkpoint, and
// temporaries of killed writers are removed by the next save. Reads validate everything (magic,
// version, header syntax, dtypes, sizes, CRC-32 of each tensor, exact file length, and the
// checksum of the whole file, so that no damaged or edited byte goes unnoticed) and throw IOError
// naming the file and the problem. Version 1 files (no whole-file checksum) are still read.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/array.h"

namespace soma::nn {

struct Checkpoint {
  std::map<std::string, std::string> meta;
  std::string architecture;  // empty: weights only
  std::vector<std::pair<std::string, Array>> tensors;
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint read_checkpoint(const std::string& path);
// The checkpoint in `bytes` (the content of file `path`, named in errors).
Checkpoint parse_checkpoint(std::string_view bytes, const std::string& path);

}  // namespace soma::nn
