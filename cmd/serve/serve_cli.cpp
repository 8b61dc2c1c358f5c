#include "serve/serve_cli.hpp"

#include "common/model_argument.hpp"

namespace llmctl::cli {

ServeCommand::ServeCommand()
    : Command("serve", "Serve a model over HTTP with the OpenAI API, as vllm serve does") {
  auto& o = options;
  add_model_argument(*this, o.model, "Model folder or hub id (org/name; downloaded into the Hugging Face cache if missing)");
  add_option("--model", o.model, "The model, when not given as the first argument");
  add_option("--served-model-name", o.served_model_names,
             "Names the API accepts and reports for the model (default: MODEL as given); the first is used in responses")
      ->type_name("NAME")
      ->expected(1, -1);
  add_option("--host", o.host,
             "Address to listen on; unlike vLLM the default is loopback only: use 0.0.0.0 to listen on every interface")
      ->capture_default_str();
  add_option("--port", o.port, "TCP port")->check(CLI::Range(0, 65535))->capture_default_str();
  add_option("--api-key", o.api_key,
             "Require 'Authorization: Bearer KEY' on /v1/* (default: $LLMCTL_API_KEY, else $VLLM_API_KEY)")
      ->type_name("KEY");
  add_option("--chat-template", o.chat_template, "A Jinja chat template file, or the template itself (default: the model's)")
      ->type_name("TEMPLATE");
  add_option("--generation-config", o.generation_config,
             "auto: sampling defaults from the model's generation_config.json; vllm: vLLM's own; or a folder holding one")
      ->type_name("auto|vllm|DIR")
      ->capture_default_str();
  add_option("--max-logprobs", o.max_logprobs, "Most logprobs/top_logprobs a request may ask for (-1: no limit)")
      ->capture_default_str();
  add_option("--reasoning-parser", o.reasoning_parser, "Move <think> text into reasoning_content: deepseek_r1 or qwen3")
      ->check(CLI::IsMember({"deepseek_r1", "qwen3"}));
  add_flag("--enable-auto-tool-choice", o.enable_auto_tool_choice,
           "Let the model call the request's tools (tool_choice auto); needs --tool-call-parser");
  add_option("--tool-call-parser", o.tool_call_parser, "How tool calls appear in the output: hermes (Qwen2.5, Qwen3, Hermes)")
      ->check(CLI::IsMember({"hermes"}));
  add_flag("--disable-log-requests", o.disable_log_requests, "Do not log each request as it arrives and ends");
  add_flag("--disable-log-stats", o.disable_log_stats, "Do not log the throughput and cache line every 10 seconds");
  add_option("--seed", o.engine.config.seed, "Seed of the sampling of requests that give none")->capture_default_str();
  add_engine_options(*this, o.engine, engine::UsageContext::server);
}

}  // namespace llmctl::cli
