#include "generate/generate_cli.hpp"

#include "common/model_argument.hpp"

namespace llmctl::cli {

GenerateCommand::GenerateCommand()
    : Command("generate", "Generate text offline for one or many prompts, with vLLM's sampling parameters") {
  auto& o = options;
  auto& s = o.sampling;
  add_model_argument(*this, o.model, "Model folder or hub id (org/name; downloaded into the Hugging Face cache if missing)");
  add_option("-p,--prompt", o.prompts, "A prompt (repeat for several)")->type_name("TEXT");
  add_option("--prompts-file", o.prompts_file, "A file with one prompt per line (- for standard input)")->type_name("FILE");
  add_option("--prompt-token-ids", o.prompt_token_ids, "A prompt given as token ids, comma-separated (repeatable)")
      ->type_name("IDS");
  add_flag("--chat", o.chat, "Send each prompt as a user message through the model's chat template");
  add_option("--chat-template", o.chat_template, "With --chat: a Jinja template file, or the template itself")
      ->type_name("TEMPLATE");
  add_option("--output-format", o.output_format, "text, or json: one JSON object per prompt and line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  // SamplingParams, named as vLLM names them.
  add_option("--n", s.n, "Outputs per prompt")->capture_default_str();
  add_option("--temperature", s.temperature, "Sampling temperature; 0 is greedy (default 1.0 or generation_config.json's)");
  add_option("--top-p", s.top_p, "Nucleus sampling: keep the most likely tokens up to this probability mass");
  add_option("--top-k", s.top_k, "Keep the k most likely tokens; 0 or -1 keeps all");
  add_option("--min-p", s.min_p, "Drop tokens less likely than min_p times the most likely one");
  add_option("--repetition-penalty", s.repetition_penalty, "Penalty for tokens already in the prompt or output (1 = none)");
  add_option("--presence-penalty", s.presence_penalty, "Penalty for tokens already in the output")->capture_default_str();
  add_option("--frequency-penalty", s.frequency_penalty, "Penalty growing with each repetition in the output")
      ->capture_default_str();
  add_option_function<std::uint64_t>("--seed", [&s](std::uint64_t seed) { s.seed = seed; },
                                     "Random seed of each request (output i uses seed + i; without it, reruns still repeat)");
  add_option("--stop", s.stop, "A string that ends generation (repeatable); not part of the output")->type_name("TEXT");
  add_option("--stop-token-ids", o.stop_token_ids, "Token ids that end generation, comma-separated")->type_name("IDS");
  add_flag("--ignore-eos", s.ignore_eos, "Keep generating after the end-of-sequence token");
  add_option("--min-tokens", s.min_tokens, "Tokens to generate before EOS or stop conditions may end the output")
      ->capture_default_str();
  add_option("--max-tokens", s.max_tokens, "Most tokens to generate per output")->capture_default_str();
  add_option_function<int>("--logprobs", [&s](int k) { s.logprobs = k; },
                           "Return the log probabilities of the K most likely tokens at each step (at most 20)")
      ->type_name("K");
  add_flag("--include-stop-str-in-output", s.include_stop_str_in_output, "Keep the stop string at the end of the text");
  add_option("--skip-special-tokens", s.skip_special_tokens, "Leave special tokens out of the text")->capture_default_str();
  add_option("--generation-config", o.generation_config,
             "auto: sampling defaults from the model's generation_config.json; vllm: vLLM's own defaults")
      ->check(CLI::IsMember({"auto", "vllm"}))
      ->capture_default_str();

  add_engine_options(*this, o.engine, engine::UsageContext::offline);
}

bool GenerateCommand::given(const std::string& flag) const { return get_option(flag)->count() > 0; }

}  // namespace llmctl::cli
