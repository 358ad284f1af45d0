// libFuzzer target: the reader of saved models and weights (checkpoint files). Any input either
// loads or throws an IOError; a file that loads has a checksum that covers every byte, so random
// inputs essentially never load, and the fuzzer's mutations of the seed files (valid saves)
// exercise every check on the way.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/nn/checkpoint.h"
#include "graph/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    nn::Checkpoint ck = nn::parse_checkpoint(bytes, "fuzz.soma-weights");
    (void)ck;
  } catch (const Error&) {
  }
  return 0;
}
