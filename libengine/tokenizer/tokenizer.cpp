#include "tokenizer/tokenizer.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "tokenizer/added_vocabulary.hpp"
#include "tokenizer/decoder.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/utf8.hpp"

#include <algorithm>

namespace llmctl::engine {

struct Tokenizer::Pipeline {
  explicit Pipeline(const nlohmann::json& spec)
      : normalizer(make_normalizer(spec.value("normalizer", nlohmann::json()))),
        pre_tokenizer(make_pre_tokenizer(spec.value("pre_tokenizer", nlohmann::json()))),
        model(spec.at("model")),
        added(spec.value("added_tokens", nlohmann::json::array()), normalizer),
        post_processor(spec.value("post_processor", nlohmann::json())),
        decoder(make_decoder(spec.value("decoder", nlohmann::json()))),
        vocab_size(static_cast<std::size_t>(std::max(model.max_id(), added.max_id().value_or(model.max_id()))) + 1) {}

  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  AddedVocabulary added;
  PostProcessor post_processor;
  Decoder decoder;
  std::size_t vocab_size;
};

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
  const auto spec = read_json_file(tokenizer_json);
  try {
    return Tokenizer(spec);
  } catch (const nlohmann::json::exception& error) {
    throw Error(tokenizer_json.string() + ": malformed tokenizer: " + error.what());
  } catch (const Error& error) {
    throw Error(tokenizer_json.string() + ": " + error.what());
  }
}

Tokenizer::Tokenizer(const nlohmann::json& spec) : pipeline_(std::make_unique<Pipeline>(spec)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (!utf8::is_valid(text)) throw Error("the text to tokenize is not valid UTF-8");
  const Pipeline& p = *pipeline_;
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3);
  std::vector<Piece> pieces;
  for (auto& segment : p.added.split(text, p.normalizer)) {
    if (segment.added) {
      ids.push_back(*segment.added);
      continue;
    }
    pieces.assign(1, Piece{std::move(segment.text), segment.at_input_start});
    if (p.pre_tokenizer) p.pre_tokenizer(pieces);
    for (const auto& piece : pieces) p.model.tokenize(piece.text, ids);
  }
  return p.post_processor.apply(std::move(ids), add_special_tokens);
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  const Pipeline& p = *pipeline_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    if (skip_special_tokens && p.added.is_special(id)) continue;
    const std::string* token = p.added.id_to_token(id);
    if (token == nullptr) token = p.model.id_to_token(id);
    if (token != nullptr) tokens.push_back(*token);
  }
  if (!p.decoder) {
    std::string joined;
    for (std::size_t i = 0; i < tokens.size(); ++i) joined.append(i > 0 ? " " : "").append(tokens[i]);
    return joined;
  }
  p.decoder(tokens);
  std::string text;
  for (const auto& token : tokens) text += token;
  return text;
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto id = pipeline_->added.token_to_id(token)) return id;
  return pipeline_->model.token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  const std::string* token = pipeline_->added.id_to_token(id);
  if (token == nullptr) token = pipeline_->model.id_to_token(id);
  if (token == nullptr) return std::nullopt;
  return *token;
}

bool Tokenizer::is_special(TokenId id) const { return pipeline_->added.is_special(id); }

std::size_t Tokenizer::vocab_size() const { return pipeline_->vocab_size; }

}  // namespace llmctl::engine
