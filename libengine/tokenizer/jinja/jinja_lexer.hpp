#pragma once

#include "tokenizer/jinja/jinja_error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine::jinja {

enum class TokenKind {
  Text,           // template text between tags, whitespace control already applied
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,
  Integer,
  Float,
  Operator,
  End,    // after the last token
  Error,  // a malformed tag (text: the message); the last token when there is one
};

struct Token {
  TokenKind kind;
  std::string text;  // as written; for String the decoded value, for Error the message
  std::int64_t integer = 0;
  double number = 0;
  Position position;
};

// Splits a template the way Jinja's lexer does with Hugging Face's settings: trim_blocks (a newline
// right after a block tag or comment is dropped), lstrip_blocks (spaces and tabs before one on its
// line are dropped), "-" and "+" whitespace control, raw blocks, and the source's final newline dropped.
// Comments produce no tokens. A malformed tag ends the tokens with an Error token rather than failing
// at once: Jinja lexes as it parses, so a syntax error before it is the one reported.
std::vector<Token> tokenize(std::string_view source);

}  // namespace llmctl::engine::jinja
