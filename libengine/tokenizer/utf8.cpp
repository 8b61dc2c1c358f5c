#include "tokenizer/utf8.hpp"

#include <algorithm>

namespace llmctl::engine::utf8 {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the valid sequence at bytes[pos], or 0 when invalid; `incomplete` tells whether it is a
// valid start cut off by the end of the input, and `valid_bytes` how many bytes form a maximal
// subpart of a valid sequence (Unicode's "substitution of maximal subparts").
std::size_t valid_sequence(std::string_view bytes, std::size_t pos, bool& incomplete, std::size_t& valid_bytes) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  incomplete = false;
  valid_bytes = 1;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (pos + i >= bytes.size()) {
      incomplete = true;
      return 0;
    }
    const auto byte = static_cast<unsigned char>(bytes[pos + i]);
    const bool ok = i == 1 ? (byte >= low && byte <= high) : is_continuation(byte);
    if (!ok) return 0;
    valid_bytes = i + 1;
  }
  return length;
}

}  // namespace

std::size_t character_length(std::string_view text, std::size_t pos) {
  bool incomplete = false;
  std::size_t valid_bytes = 0;
  return std::max<std::size_t>(valid_sequence(text, pos, incomplete, valid_bytes), 1);
}

char32_t next_code_point(std::string_view text, std::size_t& pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const std::size_t length = character_length(text, pos);
  if (length == 1) {
    ++pos;
    return lead < 0x80 ? lead : kReplacement;
  }
  char32_t code_point = lead & (0xFF >> (length + 1));
  for (std::size_t i = 1; i < length; ++i) code_point = (code_point << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  pos += length;
  return code_point;
}

void append_code_point(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid(std::string_view text) {
  bool incomplete = false;
  std::size_t valid_bytes = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = valid_sequence(text, pos, incomplete, valid_bytes);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

std::string to_valid_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  bool incomplete = false;
  std::size_t valid_bytes = 0;
  for (std::size_t pos = 0; pos < bytes.size();) {
    const std::size_t length = valid_sequence(bytes, pos, incomplete, valid_bytes);
    if (length > 0) {
      out.append(bytes.substr(pos, length));
      pos += length;
    } else {
      append_code_point(out, kReplacement);
      pos += valid_bytes;
    }
  }
  return out;
}

bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace llmctl::engine::utf8
