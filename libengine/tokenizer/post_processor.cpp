#include "tokenizer/post_processor.hpp"

#include "common/error.hpp"

namespace llmctl::engine {

PostProcessor::PostProcessor(const nlohmann::json& spec) {
  if (!spec.is_null()) add(spec);
}

void PostProcessor::add(const nlohmann::json& spec) {
  const std::string type = spec.at("type").get<std::string>();
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const auto& step : spec.at("processors")) add(step);
    return;
  }
  if (type != "TemplateProcessing") throw Error("post_processor type \"" + type + "\" is not supported");
  const auto& special_tokens = spec.at("special_tokens");
  bool after_sequence = false;
  for (const auto& item : spec.at("single")) {
    if (item.contains("Sequence")) {
      after_sequence = true;
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    if (!special_tokens.contains(name)) throw Error("TemplateProcessing uses undefined special token \"" + name + "\"");
    auto& target = after_sequence ? suffix_ : prefix_;
    for (const auto& id : special_tokens.at(name).at("ids")) target.push_back(id.get<TokenId>());
  }
}

std::vector<TokenId> PostProcessor::apply(std::vector<TokenId> ids, bool add_special_tokens) const {
  if (!add_special_tokens || (prefix_.empty() && suffix_.empty())) return ids;
  std::vector<TokenId> out(prefix_);
  out.reserve(prefix_.size() + ids.size() + suffix_.size());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

}  // namespace llmctl::engine
