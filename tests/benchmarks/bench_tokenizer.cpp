// Encoding throughput of one tokenizer on one thread, over the text of the given files (a golden file
// of tests/fixtures/tokenizers contributes its strings: CJK, Cyrillic, emoji, code...). Reports the
// first pass (empty word cache) and the mean of later passes separately.
//   usage: bench_tokenizer TOKENIZER_JSON FILE... [--passes N]
#include "common/error.hpp"
#include "common/json_file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string file_text(const std::string& path) {
  if (path.ends_with(".json")) {
    const auto golden = llmctl::read_json_file(path);  // kept alive: the loop walks into it
    std::string text;
    for (const auto& entry : golden.at("encode")) text += entry.at("text").get<std::string>() + "\n";
    return text;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw llmctl::Error("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::fputs("usage: bench_tokenizer TOKENIZER_JSON FILE... [--passes N]\n", stderr);
    return 2;
  }
  int passes = 5;
  std::vector<std::string> documents;
  std::size_t bytes = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--passes" && i + 1 < argc) {
      passes = std::max(1, std::stoi(argv[++i]));
      continue;
    }
    std::string text = file_text(arg);
    if (!llmctl::engine::utf8::is_valid(text)) continue;  // binary files are not text
    bytes += text.size();
    documents.push_back(std::move(text));
  }
  using Clock = std::chrono::steady_clock;
  const auto load_start = Clock::now();
  const auto tokenizer = llmctl::engine::Tokenizer::load(argv[1]);
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();

  std::size_t tokens = 0;
  std::vector<double> seconds;
  for (int pass = 0; pass < passes; ++pass) {
    tokens = 0;
    const auto start = Clock::now();
    for (const auto& document : documents) tokens += tokenizer.encode(document, false).size();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  double warm = 0;
  for (std::size_t i = 1; i < seconds.size(); ++i) warm += seconds[i];
  warm = seconds.size() > 1 ? warm / static_cast<double>(seconds.size() - 1) : seconds[0];
  const double mb = static_cast<double>(bytes) / 1e6;
  fmt::print("tokenizer load: {:.2f} s\n", load_s);
  fmt::print("text: {:.2f} MB in {} documents, {} tokens ({:.2f} bytes/token)\n", mb, documents.size(), tokens,
             static_cast<double>(bytes) / static_cast<double>(tokens));
  fmt::print("first pass (cold word cache): {:.2f} MB/s, {:.0f} tokens/s\n", mb / seconds[0], static_cast<double>(tokens) / seconds[0]);
  fmt::print("later passes (mean of {}): {:.2f} MB/s, {:.0f} tokens/s\n", seconds.size() - 1, mb / warm, static_cast<double>(tokens) / warm);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_tokenizer: %s\n", error.what());
  return 1;
}
