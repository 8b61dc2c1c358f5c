#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace llmctl::engine {

// A piece of the input on its way to the model. `at_input_start` tells whether it begins at the start
// of the whole input (Metaspace's prepend_scheme "first" only prefixes that piece).
struct Piece {
  std::string text;
  bool at_input_start = false;
};

// tokenizer.json's "pre_tokenizer": splits pieces further (by regex, on spaces) and rewrites them
// (ByteLevel spells bytes as printable characters, Metaspace turns spaces into "▁").
using PreTokenizer = std::function<void(std::vector<Piece>&)>;

// The pre-tokenizer a tokenizer.json entry describes; an empty function for null. Throws
// llmctl::Error naming the type for kinds this engine does not implement.
PreTokenizer make_pre_tokenizer(const nlohmann::json& spec);

}  // namespace llmctl::engine
