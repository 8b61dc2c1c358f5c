#include "tokenizer/tokenizer.hpp"

#include "common/error.hpp"
#include "support/real_tokenizers.hpp"

#include <doctest/doctest.h>

#include <functional>

using namespace llmctl::engine;
using nlohmann::json;

namespace {

// Compares and collects every difference, so that one failure shows all of them (the first ten).
struct Mismatches {
  std::vector<std::string> lines;
  std::size_t checked = 0;
  void expect(bool same, const std::function<std::string()>& describe) {
    ++checked;
    if (!same) lines.push_back(describe());
  }
  std::string report() const {
    std::string text = std::to_string(lines.size()) + " of " + std::to_string(checked) + " differ";
    for (std::size_t i = 0; i < lines.size() && i < 10; ++i) text += "\n  " + lines[i];
    return text;
  }
};

std::string ids_text(const std::vector<TokenId>& ids) { return json(ids).dump(); }

}  // namespace

TEST_CASE("encode and decode match Hugging Face tokenizers exactly on every golden string") {
  for (const std::string name : llmctl::test::kGoldenTokenizers) {
    CAPTURE(name);
    const Tokenizer& tokenizer = llmctl::test::real_tokenizer(name);
    const json expected = llmctl::test::tokenizer_golden(name);
    Mismatches mismatches;
    for (const auto& entry : expected.at("encode")) {
      const auto text = entry.at("text").get<std::string>();
      const auto ids = tokenizer.encode(text, false);
      const auto want = entry.at("ids").get<std::vector<TokenId>>();
      mismatches.expect(ids == want, [&] { return json(text).dump() + ": " + ids_text(ids) + " != " + ids_text(want); });
      const auto with_special = tokenizer.encode(text, true);
      const auto want_special = entry.at("ids_with_special").get<std::vector<TokenId>>();
      mismatches.expect(with_special == want_special, [&] {
        return "with special tokens " + json(text).dump() + ": " + ids_text(with_special) + " != " + ids_text(want_special);
      });
      if (entry.contains("tokens")) {
        std::vector<std::string> tokens;
        for (const TokenId id : want) tokens.push_back(tokenizer.id_to_token(id).value_or("?"));
        mismatches.expect(tokens == entry.at("tokens").get<std::vector<std::string>>(),
                          [&] { return "tokens of " + json(text).dump() + ": " + json(tokens).dump(); });
      }
    }
    for (const auto& entry : expected.at("decode")) {
      const auto ids = entry.at("ids").get<std::vector<TokenId>>();
      for (const bool skip : {false, true}) {
        const auto text = tokenizer.decode(ids, skip);
        const auto want = entry.at(skip ? "text_skip_special" : "text").get<std::string>();
        mismatches.expect(text == want, [&] {
          return std::string(skip ? "skipping special " : "") + "decode " + ids_text(ids) + ": " + json(text).dump() +
                 " != " + json(want).dump();
        });
      }
    }
    CHECK_MESSAGE(mismatches.lines.empty(), mismatches.report());
    CHECK(mismatches.checked > 900);
  }
}

namespace {

// A small character-level BPE tokenizer whose added tokens carry the flags under test; merges in the
// older "a b" form, or as pairs.
json tiny_tokenizer(const json& added_tokens, const json& pre_tokenizer = nullptr, bool pair_merges = false) {
  json vocab = json::object();
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz_ ";
  for (std::size_t i = 0; i < alphabet.size(); ++i) vocab[std::string(1, alphabet[i])] = i;
  vocab["ab"] = 28;
  vocab["abc"] = 29;
  vocab["bc"] = 30;
  return {{"added_tokens", added_tokens},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", {{"type", "Fuse"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab},
                     {"merges", pair_merges ? json::array({{"b", "c"}, {"a", "bc"}, {"a", "b"}}) : json::array({"b c", "a bc", "a b"})}}}};
}

json added(int id, const std::string& content, bool lstrip, bool rstrip, bool single_word, bool special = true) {
  return {{"id", id}, {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
}

}  // namespace

TEST_CASE("merges apply by rank anywhere in the piece, in both file encodings; a repeated pair takes its last rank") {
  for (const bool pair_merges : {false, true}) {
    const Tokenizer tokenizer(tiny_tokenizer(json::array(), nullptr, pair_merges));
    // "b c" (rank 0) beats "a b" (rank 2), then "a bc" makes "abc".
    CHECK(tokenizer.encode("abc", false) == std::vector<TokenId>{29});
    CHECK(tokenizer.encode("abab", false) == std::vector<TokenId>{28, 28});
    CHECK(tokenizer.decode(std::vector<TokenId>{29, 27, 0}, false) == "abc a");
  }
  json spec = tiny_tokenizer(json::array());
  spec["model"]["merges"] = json::array({"a b", "b c", "a b"});  // "a b" is finally ranked after "b c"
  CHECK(Tokenizer(spec).encode("abc", false) == std::vector<TokenId>{0, 30});
}

TEST_CASE("added tokens: longest match, lstrip and rstrip eat whitespace, single_word needs word boundaries") {
  const json tokens = json::array({added(100, "<s>", false, false, false), added(101, "<s>>", false, false, false),
                                   added(102, "[L]", true, false, false), added(103, "[R]", false, true, false),
                                   added(104, "cd", false, false, true, false), added(105, "zq", false, false, true),
                                   added(106, "q", false, false, false)});
  const Tokenizer tokenizer(tiny_tokenizer(tokens));
  CHECK(tokenizer.encode("a<s>>b", false) == std::vector<TokenId>{0, 101, 1});
  CHECK(tokenizer.encode("a  [L]b", false) == std::vector<TokenId>{0, 102, 1});
  CHECK(tokenizer.encode("a[R]  b", false) == std::vector<TokenId>{0, 103, 1});
  CHECK(tokenizer.encode("x cd y", false) == std::vector<TokenId>{23, 27, 104, 27, 24});
  CHECK(tokenizer.encode("xcd", false) == std::vector<TokenId>{23, 2, 3});  // inside a word: plain text
  // A single_word match turned down is skipped whole, as HF's matcher does: its "q" is not a token.
  CHECK(tokenizer.encode("xzq", false) == std::vector<TokenId>{23, 25, 16});
  CHECK(tokenizer.decode(std::vector<TokenId>{0, 100, 104}, true) == "acd");  // 104 is not special
  CHECK(tokenizer.is_special(100));
  CHECK_FALSE(tokenizer.is_special(104));
  CHECK(tokenizer.vocab_size() == 107);
}

TEST_CASE("Split behaviors and Metaspace's prepend schemes") {
  const auto pieces_of = [](const json& pre_tokenizer, const std::string& text) {
    const Tokenizer tokenizer(tiny_tokenizer(json::array({added(100, "<s>", false, false, false)}), pre_tokenizer));
    std::string joined;
    for (const TokenId id : tokenizer.encode(text, false)) joined += tokenizer.id_to_token(id).value_or("?") + "|";
    return joined;
  };
  const auto split = [](const std::string& behavior) {
    return json{{"type", "Split"}, {"pattern", {{"String", "_"}}}, {"behavior", behavior}, {"invert", false}};
  };
  CHECK(pieces_of(split("Removed"), "ab_ab") == "ab|ab|");
  CHECK(pieces_of(split("Isolated"), "ab_ab") == "ab|_|ab|");
  CHECK(pieces_of(split("MergedWithPrevious"), "a_b") == "a|_|b|");
  CHECK(pieces_of(split("MergedWithNext"), "a__b") == "a|_|_|b|");
  const json metaspace_first = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "first"}, {"split", false}};
  CHECK(pieces_of(metaspace_first, "a b<s>c") == "_|a|_|b|<s>|c|");
  const json metaspace_always = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "always"}, {"split", true}};
  CHECK(pieces_of(metaspace_always, "a b<s>c") == "_|a|_|b|<s>|_|c|");
  // After a removed delimiter the rest no longer starts the input: "first" prepends nothing.
  const json removed_then_first = {{"type", "Sequence"}, {"pretokenizers", json::array({split("Removed"), metaspace_first})}};
  CHECK(pieces_of(removed_then_first, "_a") == "a|");
  // Empty matches split too, as in HF: a lookahead cuts before every "b".
  const json lookahead = {{"type", "Split"}, {"pattern", {{"Regex", "(?=b)"}}}, {"behavior", "Isolated"}, {"invert", false}};
  CHECK(pieces_of(lookahead, "abcab") == "a|bc|a|b|");
}

TEST_CASE("bad tokenizer files and bad input are errors, not guesses") {
  json spec = tiny_tokenizer(json::array());
  spec["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  CHECK_THROWS_WITH_AS(Tokenizer{spec}, doctest::Contains("pre_tokenizer type \"BertPreTokenizer\" is not supported"), llmctl::Error);
  spec = tiny_tokenizer(json::array());
  spec["model"]["merges"].push_back("a q9");
  CHECK_THROWS_WITH_AS(Tokenizer{spec}, doctest::Contains("missing from the vocabulary"), llmctl::Error);
  spec = tiny_tokenizer(json::array());
  spec["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK_THROWS_WITH_AS(Tokenizer{spec}, doctest::Contains("invalid regular expression"), llmctl::Error);
  spec = tiny_tokenizer(json::array());
  spec["model"]["dropout"] = 0.1;
  CHECK_THROWS_WITH_AS(Tokenizer{spec}, "BPE dropout is not supported", llmctl::Error);
  spec["model"]["dropout"] = 0.0;  // no dropout, as HF reads it
  CHECK_NOTHROW(Tokenizer{spec});
  const Tokenizer tokenizer(tiny_tokenizer(json::array()));
  CHECK_THROWS_WITH_AS(tokenizer.encode("a\xC3(", false), "the text to tokenize is not valid UTF-8", llmctl::Error);
  CHECK(tokenizer.decode(std::vector<TokenId>{0, 999999, -1, 1}, false) == "ab");  // unknown ids are skipped
}
