#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace llmctl::engine {

// tokenizer.json's "decoder": turns the tokens of an id sequence back into text pieces, step by step
// as HF's decode_chain does (ByteLevel maps characters back to bytes, ByteFallback turns "<0xNN>"
// tokens into bytes, Metaspace and Replace turn "▁" into spaces, Fuse joins, Strip trims).
using Decoder = std::function<void(std::vector<std::string>&)>;

// The decoder a tokenizer.json entry describes; an empty function for null. Throws llmctl::Error
// naming the type for kinds this engine does not implement.
Decoder make_decoder(const nlohmann::json& spec);

}  // namespace llmctl::engine
