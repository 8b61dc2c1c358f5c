#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmctl::engine::utf8 {

// Bytes of the character at text[pos]: its valid UTF-8 sequence, or 1 for a byte of broken UTF-8.
std::size_t character_length(std::string_view text, std::size_t pos);

// Decodes the character at text[pos] (U+FFFD for a byte of broken UTF-8) and advances pos past it.
char32_t next_code_point(std::string_view text, std::size_t& pos);

void append_code_point(std::string& out, char32_t code_point);

bool is_valid(std::string_view text);

// Replaces each maximal invalid subsequence with U+FFFD, as Rust's String::from_utf8_lossy (and so HF
// tokenizers' decoders) do.
std::string to_valid_lossy(std::string_view bytes);

// Unicode White_Space, as Rust's char::is_whitespace.
bool is_whitespace(char32_t code_point);

}  // namespace llmctl::engine::utf8
