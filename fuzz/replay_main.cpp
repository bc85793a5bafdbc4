// A main() for a fuzz target built without libFuzzer (any compiler): runs each file given, or
// each file of each directory given, through LLVMFuzzerTestOneInput once, after
// LLVMFuzzerInitialize. CTest replays a target's seed corpus with it in every build, so the
// seeds keep passing where no fuzzer is built.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
void run_one(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}
}  // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  std::size_t n = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p = argv[i];
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file()) run_one(e.path()), ++n;
    } else {
      run_one(p), ++n;
    }
  }
  std::printf("%zu inputs ran\n", n);
  return n > 0 ? 0 : 1;
}
