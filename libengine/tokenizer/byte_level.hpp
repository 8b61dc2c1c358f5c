#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace llmctl::engine::byte_level {

// GPT-2's reversible byte <-> printable character table: byte-level BPE vocabularies spell every byte
// as one of these characters ("Ġ" is the space, "Ċ" the newline).
const std::array<std::string, 256>& byte_to_text();

// The bytes `text` spells, or nullopt when it holds a character outside the table.
std::optional<std::string> text_to_bytes(std::string_view text);

// Each byte of `bytes` spelled with the table.
std::string bytes_to_text(std::string_view bytes);

}  // namespace llmctl::engine::byte_level
