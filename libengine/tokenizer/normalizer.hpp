#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace llmctl::engine {

// tokenizer.json's "normalizer": rewrites text before pre-tokenization (NFC, Prepend "▁", ...).
using Normalizer = std::function<std::string(std::string_view)>;

// The normalizer a tokenizer.json entry describes; an empty function for null. Throws llmctl::Error
// naming the type for kinds this engine does not implement.
Normalizer make_normalizer(const nlohmann::json& spec);

// Every match of a {"String": ...} or {"Regex": ...} pattern replaced by `content`; shared with the
// Replace decoder.
std::function<std::string(std::string_view)> make_replacer(const nlohmann::json& pattern, const std::string& content);

}  // namespace llmctl::engine
