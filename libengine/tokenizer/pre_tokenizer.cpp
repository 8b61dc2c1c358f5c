#include "tokenizer/pre_tokenizer.hpp"

#include "common/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/regex.hpp"

#include <memory>
#include <utility>

namespace llmctl::engine {
namespace {

// How a split treats the text its pattern matched (HF's SplitDelimiterBehavior).
enum class Delimiter { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Delimiter parse_delimiter(const std::string& name) {
  if (name == "Removed") return Delimiter::removed;
  if (name == "Isolated") return Delimiter::isolated;
  if (name == "MergedWithPrevious") return Delimiter::merged_with_previous;
  if (name == "MergedWithNext") return Delimiter::merged_with_next;
  if (name == "Contiguous") return Delimiter::contiguous;
  throw Error("unknown split behavior \"" + name + "\"");
}

struct Segment {
  std::size_t begin, end;
  bool is_match;
};

// The segments HF's split produces, in order; each is a byte range of `text`.
std::vector<Segment> split_segments(const std::string& text, const Regex& regex, Delimiter delimiter, bool invert) {
  std::vector<Segment> all;
  std::size_t previous = 0;
  for (const auto& [begin, end] : regex.find_all(text)) {
    if (begin > previous) all.push_back({previous, begin, invert});
    all.push_back({begin, end, !invert});
    previous = end;
  }
  if (previous < text.size()) all.push_back({previous, text.size(), invert});

  std::vector<Segment> out;
  bool previous_match = false;
  switch (delimiter) {
    case Delimiter::removed:
      for (const auto& segment : all) {
        if (!segment.is_match) out.push_back(segment);
      }
      return out;
    case Delimiter::isolated:
      return all;
    case Delimiter::merged_with_previous:
      for (const auto& segment : all) {
        if (segment.is_match && !previous_match && !out.empty()) {
          out.back().end = segment.end;
        } else {
          out.push_back(segment);
        }
        previous_match = segment.is_match;
      }
      return out;
    case Delimiter::merged_with_next:
      for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->is_match;
      }
      return {out.rbegin(), out.rend()};
    case Delimiter::contiguous:
      for (const auto& segment : all) {
        if (segment.is_match == previous_match && !out.empty()) {
          out.back().end = segment.end;
        } else {
          out.push_back(segment);
        }
        previous_match = segment.is_match;
      }
      return out;
  }
  return out;
}

// Replaces each piece by its parts; a part is at the input start when its piece is and it begins it.
void split_pieces(std::vector<Piece>& pieces, const Regex& regex, Delimiter delimiter, bool invert) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 4);
  for (auto& piece : pieces) {
    for (const auto& segment : split_segments(piece.text, regex, delimiter, invert)) {
      if (segment.end == segment.begin) continue;
      out.push_back({piece.text.substr(segment.begin, segment.end - segment.begin), piece.at_input_start && segment.begin == 0});
    }
  }
  pieces = std::move(out);
}

// GPT-2's word split, which ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer byte_level_pre_tokenizer(const nlohmann::json& spec) {
  const bool add_prefix_space = spec.value("add_prefix_space", true);
  std::shared_ptr<Regex> words;
  if (spec.value("use_regex", true)) words = std::make_shared<Regex>(kGpt2Pattern);
  return [add_prefix_space, words](std::vector<Piece>& pieces) {
    if (add_prefix_space) {
      for (auto& piece : pieces) {
        if (!piece.text.starts_with(' ')) piece.text.insert(0, 1, ' ');
      }
    }
    if (words) split_pieces(pieces, *words, Delimiter::isolated, false);
    for (auto& piece : pieces) piece.text = byte_level::bytes_to_text(piece.text);
  };
}

PreTokenizer metaspace_pre_tokenizer(const nlohmann::json& spec) {
  const std::string replacement = spec.value("replacement", std::string("\u2581"));
  // Older files say add_prefix_space instead of prepend_scheme.
  std::string scheme = spec.value("prepend_scheme", spec.value("add_prefix_space", true) ? "always" : "never");
  if (scheme != "always" && scheme != "first" && scheme != "never") {
    throw Error("unknown Metaspace prepend_scheme \"" + scheme + "\"");
  }
  std::shared_ptr<Regex> splitter;
  if (spec.value("split", true)) splitter = std::make_shared<Regex>(Regex::from_pattern({{"String", replacement}}));
  return [replacement, scheme, splitter](std::vector<Piece>& pieces) {
    for (auto& piece : pieces) {
      std::string replaced;
      for (const char c : piece.text) {
        if (c == ' ') {
          replaced += replacement;
        } else {
          replaced += c;
        }
      }
      const bool prepend = scheme == "always" || (scheme == "first" && piece.at_input_start);
      if (prepend && replaced.rfind(replacement, 0) != 0) replaced.insert(0, replacement);
      piece.text = std::move(replaced);
    }
    if (splitter) split_pieces(pieces, *splitter, Delimiter::merged_with_next, false);
  };
}

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& spec) {
  if (spec.is_null()) return {};
  const std::string type = spec.at("type").get<std::string>();
  if (type == "Split") {
    auto regex = std::make_shared<Regex>(Regex::from_pattern(spec.at("pattern")));
    const Delimiter delimiter = parse_delimiter(spec.at("behavior").get<std::string>());
    const bool invert = spec.value("invert", false);
    return [regex, delimiter, invert](std::vector<Piece>& pieces) { split_pieces(pieces, *regex, delimiter, invert); };
  }
  if (type == "ByteLevel") return byte_level_pre_tokenizer(spec);
  if (type == "Metaspace") return metaspace_pre_tokenizer(spec);
  if (type == "Sequence") {
    std::vector<PreTokenizer> steps;
    for (const auto& step : spec.at("pretokenizers")) {
      if (auto pre_tokenizer = make_pre_tokenizer(step)) steps.push_back(std::move(pre_tokenizer));
    }
    return [steps = std::move(steps)](std::vector<Piece>& pieces) {
      for (const auto& step : steps) step(pieces);
    };
  }
  throw Error("pre_tokenizer type \"" + type + "\" is not supported");
}

}  // namespace llmctl::engine
