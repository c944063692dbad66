// The replay driver: a main() for a fuzz harness built without libFuzzer (GCC or clang, the
// normal build), so CTest runs every corpus input through LLVMFuzzerTestOneInput on each
// `make test` — under ASan and UBSan in the SANITIZE=1 build. Arguments are files or
// directories (every regular file in them, in name order); it fails if it found no input.
// A harness that finds a problem aborts, so a regression input fails its CTest test.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(const std::vector<std::string>& args) {
  std::vector<fs::path> out;
  for (const auto& arg : args) {
    if (!fs::is_directory(arg)) {
      out.emplace_back(arg);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(arg)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

// The whole file; stdio rather than a stream, whose inlined buffer code GCC 12 flags with
// -Wnull-dereference at -O3.
std::optional<std::string> read_file(const fs::path& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                          &std::fclose);
  if (!f) return std::nullopt;
  std::string data;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0)
    data.append(buf, n);
  if (std::ferror(f.get()) != 0) return std::nullopt;
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  const auto inputs = inputs_of(std::vector<std::string>(argv + 1, argv + argc));
  for (const auto& path : inputs) {
    const auto data = read_file(path);
    if (!data) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
      return 1;
    }
    std::fprintf(stderr, "replay: %s\n", path.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data->data()), data->size());
  }
  std::printf("replay: %zu inputs, no finding\n", inputs.size());
  return inputs.empty() ? 1 : 0;
}
