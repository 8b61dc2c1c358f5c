#include "tokenizer/incremental_detokenizer.hpp"

#include "support/real_tokenizers.hpp"
#include "tokenizer/utf8.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;

TEST_CASE("streamed deltas are whole characters and add up to the full decode, for every golden string") {
  for (const std::string name : llmctl::test::kGoldenTokenizers) {
    CAPTURE(name);
    const Tokenizer& tokenizer = llmctl::test::real_tokenizer(name);
    const auto golden = llmctl::test::tokenizer_golden(name);
    std::size_t streams = 0, split_characters = 0;
    for (const auto& entry : golden.at("encode")) {
      const auto ids = entry.at("ids").get<std::vector<TokenId>>();
      IncrementalDetokenizer stream(tokenizer, false);
      std::string streamed;
      for (const TokenId id : ids) {
        const std::string delta = stream.push(id);
        if (delta.empty()) ++split_characters;
        CHECK(utf8::is_valid(delta));
        streamed += delta;
      }
      streamed += stream.finish();
      CHECK_MESSAGE(streamed == tokenizer.decode(ids, false), entry.at("text").dump());
      ++streams;
    }
    CHECK(streams > 300);
    CHECK(split_characters > 0);  // the goldens do contain characters spread over several tokens
  }
}

TEST_CASE("a character split over tokens is held until complete; the prompt gives the first token context") {
  const Tokenizer& tokenizer = llmctl::test::real_tokenizer("qwen2_5");
  const auto ids = tokenizer.encode("𒀀", false);  // a rare character: one token per byte
  REQUIRE(ids.size() > 1);
  IncrementalDetokenizer stream(tokenizer, false);
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) CHECK(stream.push(ids[i]).empty());
  CHECK(stream.push(ids.back()) == "𒀀");

  // Mixtral's decoder strips the leading space of a decode: mid-sequence, a word keeps its space.
  const Tokenizer& mixtral = llmctl::test::real_tokenizer("llama2");
  const auto ids_of_sentence = mixtral.encode("Hello world", false);  // "▁Hello", "▁world"
  REQUIRE(ids_of_sentence.size() == 2);
  IncrementalDetokenizer continued(mixtral, false, std::span(ids_of_sentence).first(1));
  CHECK(continued.push(ids_of_sentence[1]) == " world");
  IncrementalDetokenizer without_context(mixtral, false);
  CHECK(without_context.push(ids_of_sentence[1]) == "world");

  // ByteFallback rewrites an already sent newline byte into U+FFFD once a broken byte joins its run;
  // the stream goes on from there instead of waiting for the old text to come back.
  const std::vector<TokenId> rewritten = {264, 13, 131, 6312, 28709};  // "▁a" <0x0A> <0x80> "▁hell" "o"
  IncrementalDetokenizer bytes(mixtral, false);
  std::string streamed;
  for (const TokenId id : rewritten) streamed += bytes.push(id);
  streamed += bytes.finish();
  CHECK(streamed.ends_with(" hello"));
  CHECK(mixtral.decode(rewritten, false).ends_with(" hello"));

  // An unfinished character at the end comes out as U+FFFD rather than being lost.
  IncrementalDetokenizer cut(tokenizer, false);
  CHECK(cut.push(ids[0]).empty());
  CHECK(cut.finish() == "\xEF\xBF\xBD");
}
