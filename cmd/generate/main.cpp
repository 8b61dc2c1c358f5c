// llmctl-generate: offline generation for one or many prompts through the same EngineClient as the server.
#include "common/model_argument.hpp"
#include "common/error.hpp"
#include "common/json_file.hpp"
#include "generate/generate_cli.hpp"
#include "model/generation_config.hpp"
#include "runtime/engine_client.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer_config.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace {

using namespace llmctl;
using engine::TokenId;

struct Prompt {
  std::optional<std::string> text;  // as the user wrote it (before any chat template)
  std::vector<TokenId> token_ids;
};

std::vector<TokenId> parse_ids(const std::string& list, const std::string& flag) {
  std::vector<TokenId> ids;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, end - start);
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || value < 0 || value > INT32_MAX)
      throw Error(fmt::format("{}: '{}' is not a token id (expected comma-separated non-negative integers)", flag, item));
    ids.push_back(static_cast<TokenId>(value));
    start = end + 1;
  }
  return ids;
}

std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) throw Error(fmt::format("--prompts-file {}: cannot be read", path));
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) {
    if (line.ends_with('\r')) line.pop_back();  // a file written on Windows
    if (!line.empty()) prompts.push_back(line);
  }
  return prompts;
}

// Read and tokenized before the model loads: a typo in a prompt file should not cost a load.
std::vector<Prompt> collect_prompts(const cli::GenerateOptions& o, const engine::Tokenizer* tokenizer,
                                    const std::filesystem::path& folder) {
  std::vector<std::string> texts = o.prompts;
  if (!o.prompts_file.empty())
    for (auto& line : read_prompts_file(o.prompts_file)) texts.push_back(std::move(line));
  std::vector<Prompt> prompts;
  if (!texts.empty()) {
    if (!tokenizer) throw Error(fmt::format("{}: no tokenizer.json, so prompts must be given as --prompt-token-ids", folder.string()));
    std::optional<engine::ChatTemplate> chat;
    if (o.chat)
      chat.emplace(engine::ChatTemplate::for_model(engine::load_tokenizer_config(folder),
                                                   o.chat_template.empty() ? std::nullopt : std::optional(o.chat_template)));
    for (auto& text : texts) {
      // Chat renderings carry their special tokens already, as in vLLM's chat path.
      const std::string input = chat ? chat->render(nlohmann::ordered_json::array({{{"role", "user"}, {"content", text}}}),
                                                    nullptr, true, nlohmann::ordered_json::object())
                                     : text;
      prompts.push_back({std::move(text), tokenizer->encode(input, !chat)});
    }
  }
  for (const auto& ids : o.prompt_token_ids) prompts.push_back({std::nullopt, parse_ids(ids, "--prompt-token-ids")});
  if (prompts.empty()) throw Error("no prompt: give -p TEXT, --prompts-file FILE or --prompt-token-ids IDS");
  return prompts;
}

// vLLM's --generation-config auto: the model author's sampling defaults for flags the user did not give.
void apply_generation_config(const cli::GenerateCommand& command, engine::SamplingParams& s,
                             const std::filesystem::path& folder) {
  if (command.options.generation_config != "auto") return;
  const auto config = engine::load_generation_config(folder);
  if (!config) return;
  if (config->temperature && !command.given("--temperature")) s.temperature = *config->temperature;
  if (config->top_p && !command.given("--top-p")) s.top_p = *config->top_p;
  if (config->top_k && !command.given("--top-k")) s.top_k = static_cast<int>(*config->top_k);
  if (config->min_p && !command.given("--min-p")) s.min_p = *config->min_p;
  if (config->repetition_penalty && !command.given("--repetition-penalty")) s.repetition_penalty = *config->repetition_penalty;
  if (config->max_new_tokens && !command.given("--max-tokens")) s.max_tokens = static_cast<int>(*config->max_new_tokens);
}

struct Completion {
  std::string text;
  std::vector<TokenId> token_ids;
  std::vector<engine::SampledToken> logprobs;
  engine::FinishReason finish_reason = engine::FinishReason::abort;
  std::variant<std::monostate, std::string, TokenId> stop_reason;
};

nlohmann::ordered_json to_json(const Prompt& prompt, const std::vector<Completion>& completions, bool logprobs) {
  nlohmann::ordered_json out;
  out["prompt"] = prompt.text ? nlohmann::ordered_json(*prompt.text) : nlohmann::ordered_json(nullptr);
  out["prompt_token_ids"] = prompt.token_ids;
  out["outputs"] = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < completions.size(); ++i) {
    const auto& c = completions[i];
    nlohmann::ordered_json choice;
    choice["index"] = i;
    choice["text"] = c.text;
    choice["token_ids"] = c.token_ids;
    choice["finish_reason"] = engine::finish_reason_name(c.finish_reason);
    if (const auto* s = std::get_if<std::string>(&c.stop_reason)) choice["stop_reason"] = *s;
    else if (const auto* id = std::get_if<TokenId>(&c.stop_reason)) choice["stop_reason"] = *id;
    else choice["stop_reason"] = nullptr;
    if (logprobs) {
      auto steps = nlohmann::ordered_json::array();
      for (const auto& step : c.logprobs) {
        auto entries = nlohmann::ordered_json::array();
        bool has_sampled = false;
        for (std::size_t r = 0; r < step.top_logprobs.size(); ++r) {
          entries.push_back({{"token_id", step.top_logprobs[r].token}, {"logprob", step.top_logprobs[r].logprob}, {"rank", r + 1}});
          has_sampled = has_sampled || step.top_logprobs[r].token == step.token;
        }
        // As vLLM: the sampled token is always there, even outside the top K.
        if (!has_sampled) entries.push_back({{"token_id", step.token}, {"logprob", step.logprob}, {"rank", step.rank}});
        steps.push_back(std::move(entries));
      }
      choice["logprobs"] = std::move(steps);
    }
    out["outputs"].push_back(std::move(choice));
  }
  return out;
}

// vLLM's tqdm line for LLM.generate, redrawn in place on a terminal.
class Progress {
 public:
  Progress(std::size_t total, bool enabled) : total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void update(std::size_t done, std::int64_t input_tokens, std::int64_t output_tokens) {
    if (!enabled_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    fmt::print(stderr, "\rProcessed prompts: {:3.0f}% {}/{} [{:.1f}s, {:.2f} it/s, est. speed input: {:.2f} toks/s, output: {:.2f} toks/s]",
               100.0 * static_cast<double>(done) / static_cast<double>(total_), done, total_, seconds,
               static_cast<double>(done) / std::max(seconds, 1e-9), static_cast<double>(input_tokens) / std::max(seconds, 1e-9),
               static_cast<double>(output_tokens) / std::max(seconds, 1e-9));
    if (done == total_) fmt::print(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  cli::GenerateCommand command;
  return cli::run(command, argc, argv, [&] {
    auto& o = command.options;
    const std::filesystem::path folder = cli::resolve_model_argument(o.model, false);
    auto config = cli::engine_config(o.engine, folder);
    if (!o.stop_token_ids.empty()) o.sampling.stop_token_ids = parse_ids(o.stop_token_ids, "--stop-token-ids");
    apply_generation_config(command, o.sampling, folder);
    o.sampling.validate();  // before the model loads: a typo should not cost a load

    config.tokenizer = engine::load_model_tokenizer(folder);
    const auto prompts = collect_prompts(o, config.tokenizer.get(), folder);

    engine::EngineClient client(config);
    // Every prompt is checked before any runs, and a bad one is named.
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      try {
        client.engine().validate({{}, prompts[p].token_ids, o.sampling});
      } catch (const Error& e) {
        throw Error(prompts.size() > 1 ? fmt::format("prompt {}: {}", p + 1, e.what()) : e.what());
      }
    }
    std::vector<std::shared_ptr<engine::RequestStream>> streams;
    for (const auto& prompt : prompts) streams.push_back(client.submit(prompt.token_ids, o.sampling));

    const bool json = o.output_format == "json";
    const bool stream_text = !json && prompts.size() == 1 && o.sampling.n == 1;
    Progress progress(prompts.size(), !stream_text && prompts.size() > 1 && ::isatty(STDERR_FILENO) != 0);
    std::int64_t input_tokens = 0, output_tokens = 0;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      std::vector<Completion> completions(static_cast<std::size_t>(o.sampling.n));
      while (auto output = streams[p]->next()) {
        for (auto& update : output->updates) {
          auto& c = completions[static_cast<std::size_t>(update.index)];
          c.text += update.text;
          c.token_ids.insert(c.token_ids.end(), update.token_ids.begin(), update.token_ids.end());
          c.logprobs.insert(c.logprobs.end(), update.logprobs.begin(), update.logprobs.end());
          if (update.finish_reason) {
            c.finish_reason = *update.finish_reason;
            c.stop_reason = update.stop_reason;
          }
          if (stream_text) {
            std::fwrite(update.text.data(), 1, update.text.size(), stdout);
            std::fflush(stdout);
          }
          output_tokens += static_cast<std::int64_t>(update.token_ids.size());
        }
      }
      input_tokens += static_cast<std::int64_t>(prompts[p].token_ids.size());
      progress.update(p + 1, input_tokens, output_tokens);
      if (json) {
        std::puts(to_json(prompts[p], completions, o.sampling.logprobs.has_value()).dump().c_str());
      } else if (stream_text) {
        std::puts("");
      } else {
        for (const auto& c : completions)
          fmt::print("Prompt: {}, Generated text: {}\n",
                     prompts[p].text ? nlohmann::json(*prompts[p].text).dump() : nlohmann::json(prompts[p].token_ids).dump(),
                     nlohmann::json(c.text).dump());
      }
    }
  });
}
