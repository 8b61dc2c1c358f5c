#include "tokenizer/byte_level.hpp"

#include "tokenizer/utf8.hpp"

#include <unordered_map>

namespace llmctl::engine::byte_level {
namespace {

struct Tables {
  std::array<std::string, 256> to_text;
  std::unordered_map<char32_t, unsigned char> to_byte;
};

const Tables& tables() {
  static const Tables built = [] {
    Tables t;
    // Printable Latin-1 bytes stand for themselves; the others take code points from 256 upwards.
    char32_t next = 256;
    for (unsigned byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
      const char32_t code_point = printable ? byte : next++;
      utf8::append_code_point(t.to_text[byte], code_point);
      t.to_byte[code_point] = static_cast<unsigned char>(byte);
    }
    return t;
  }();
  return built;
}

}  // namespace

const std::array<std::string, 256>& byte_to_text() { return tables().to_text; }

std::optional<std::string> text_to_bytes(std::string_view text) {
  const auto& to_byte = tables().to_byte;
  std::string bytes;
  bytes.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const auto found = to_byte.find(utf8::next_code_point(text, pos));
    if (found == to_byte.end()) return std::nullopt;
    bytes += static_cast<char>(found->second);
  }
  return bytes;
}

std::string bytes_to_text(std::string_view bytes) {
  const auto& to_text = byte_to_text();
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char byte : bytes) text += to_text[static_cast<unsigned char>(byte)];
  return text;
}

}  // namespace llmctl::engine::byte_level
