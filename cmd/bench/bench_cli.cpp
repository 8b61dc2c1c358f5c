#include "bench/bench_cli.hpp"

#include "common/model_argument.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

namespace llmctl::cli {

namespace {

// A check that every comma-separated item of the value passes `item_error` ("" when it does).
CLI::Validator each_item(std::function<std::string(const std::string&)> item_error) {
  return CLI::Validator(
      [item_error](std::string& value) -> std::string {
        std::size_t begin = 0;
        while (true) {
          const auto end = value.find(',', begin);
          if (auto error = item_error(value.substr(begin, end - begin)); !error.empty()) return error;
          if (end == std::string::npos) return "";
          begin = end + 1;
        }
      },
      "");
}

std::optional<double> parse_number(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// CLI11's PositiveNumber names the range in a 300-digit number; this says it in words.
CLI::Validator number_check(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& value) -> std::string {
        const auto number = parse_number(value);
        if (number && (*number > 0 || (zero_allowed && *number == 0))) return "";
        return fmt::format("'{}' is not a {} number", value, zero_allowed ? "non-negative" : "positive");
      },
      "");
}

CLI::Validator key_value(char separator) {
  return CLI::Validator(
      [separator](std::string& value) -> std::string {
        return value.empty() || value.front() == separator || value.find(separator) == std::string::npos
                   ? fmt::format("'{}' is not KEY{}VALUE", value, separator)
                   : "";
      },
      "");
}

void add_serve_options(CLI::App& app, ServeBenchOptions& o) {
  app.add_option("--backend", o.backend, "openai or vllm: the completions API; openai-chat: the chat completions API")
      ->check(CLI::IsMember({"openai", "vllm", "openai-chat"}))
      ->capture_default_str();
  app.add_option("--base-url", o.base_url, "Server URL, instead of http://HOST:PORT")->type_name("URL");
  app.add_option("--host", o.host, "Server host, without --base-url")->capture_default_str();
  app.add_option("--port", o.port, "Server port, without --base-url")->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--endpoint", o.endpoint, "API path: /v1/completions, or /v1/chat/completions with --backend openai-chat")
      ->capture_default_str();
  app.add_option("--header", o.headers, "Extra HTTP headers of every request")->type_name("KEY=VALUE")->check(key_value('='));
  app.add_option("--api-key", o.api_key, "Bearer token (default: $OPENAI_API_KEY)");
  app.add_option("--model", o.model, "Model name of the requests (default: the first model of GET /v1/models)");
  app.add_option("--tokenizer", o.tokenizer,
                 "Folder or hub id of the tokenizer that makes the prompts (default: the model's root from /v1/models, "
                 "else --model)");
  app.add_option("--dataset-name", o.dataset_name, "random: prompts of random token ids (the only dataset without files)")
      ->check(CLI::IsMember({"random"}))
      ->capture_default_str();
  app.add_option("--num-prompts", o.num_prompts, "Requests to send")->check(number_check(false))->capture_default_str();
  for (const auto* name : {"--random-input-len", "--input-len"})
    add_token_count_option(app, name, o.random_input_len, "Prompt tokens per request: exact as token ids to the completions API, near as chat text")
        ->default_str("1024");
  for (const auto* name : {"--random-output-len", "--output-len"})
    add_token_count_option(app, name, o.random_output_len, "Output tokens per request (max_tokens, EOS ignored)")
        ->default_str("128");
  app.add_option("--random-range-ratio", o.random_range_ratio,
                 "Lengths drawn uniformly from [len x (1 - r), len x (1 + r)], r in [0, 1)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const auto r = parse_number(value);
            return r && *r >= 0.0 && *r < 1.0 ? "" : fmt::format("'{}' is not in [0, 1)", value);
          },
          ""))
      ->capture_default_str();
  app.add_option("--random-prefix-len", o.random_prefix_len, "Random tokens shared by every prompt, before its own")
      ->check(number_check(true))
      ->capture_default_str();
  app.add_option("--request-rate", o.request_rate,
                 "Requests per second, arriving as a Poisson process (gamma with --burstiness); inf: all at once")
      ->check(number_check(false))
      ->capture_default_str();
  app.add_option("--burstiness", o.burstiness, "Gamma shape of the arrivals: below 1 burstier, above 1 steadier")
      ->check(number_check(false))
      ->capture_default_str();
  app.add_option("--max-concurrency", o.max_concurrency, "Most requests in flight; the others wait their turn")
      ->check(number_check(false));
  app.add_option("--seed", o.seed, "Seed of the prompts and of the arrival times")->capture_default_str();
  app.add_flag("--ignore-eos", o.ignore_eos, "Generate past EOS (always on with the random dataset, as in vLLM)");
  app.add_option("--num-warmups", o.num_warmups, "Untimed copies of the first request sent first")
      ->check(number_check(true))
      ->capture_default_str();
  const std::set<std::string> metrics = {"ttft", "tpot", "itl", "e2el", "client_queue_time", "e2el_including_client_queue"};
  app.add_option("--percentile-metrics", o.percentile_metrics,
                 "Metrics to report: ttft, tpot, itl, e2el, client_queue_time, e2el_including_client_queue")
      ->type_name("LIST")
      ->check(each_item([metrics](const std::string& item) -> std::string {
        return metrics.contains(item) ? "" : fmt::format("unknown metric '{}'", item);
      }))
      ->capture_default_str();
  app.add_option("--metric-percentiles", o.metric_percentiles, "Comma-separated percentiles to report, as 25,50,99.9")
      ->type_name("LIST")
      ->check(each_item([](const std::string& item) -> std::string {
        const auto p = parse_number(item);
        return p && *p >= 0 && *p <= 100 ? "" : fmt::format("'{}' is not a percentile in [0, 100]", item);
      }))
      ->capture_default_str();
  app.add_option("--goodput", o.goodput, "Service level objectives in ms (ttft, tpot, e2el) for the goodput line")
      ->type_name("KEY:MS")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const auto colon = value.find(':');
            const auto key = value.substr(0, colon);
            const auto ms = colon == std::string::npos ? std::nullopt : parse_number(value.substr(colon + 1));
            return (key == "ttft" || key == "tpot" || key == "e2el") && ms && *ms >= 0
                       ? ""
                       : fmt::format("'{}' is not ttft, tpot or e2el:MILLISECONDS", value);
          },
          ""));
  app.add_flag("--save-result", o.save_result, "Write the results to a JSON file");
  app.add_flag("--save-detailed", o.save_detailed, "With --save-result, also each request's lengths, times and text");
  app.add_option("--result-dir", o.result_dir, "Folder of the JSON file (default: the current one)")->type_name("DIR");
  app.add_option("--result-filename", o.result_filename,
                 "Name of the JSON file (default: LABEL-RATEqps[-concurrencyN]-MODEL-DATE.json)")
      ->type_name("FILE");
  app.add_option("--label", o.label, "Label of the results and prefix of their file name (default: --backend)");
  app.add_option("--metadata", o.metadata, "Extra keys of the JSON results")->type_name("KEY=VALUE")->check(key_value('='));
  app.add_option("--logprobs", o.logprobs, "Log probabilities per token to ask for (completions API)")
      ->check(number_check(true));
  for (const auto* name : {"temperature", "top_p", "min_p", "frequency_penalty", "presence_penalty", "repetition_penalty"}) {
    std::string flag = std::string("--") + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    app.add_option_function<double>(flag, [&o, name](double value) { o.sampling[name] = value; },
                                    fmt::format("Sampling {} of every request (default: the server's)", name));
  }
  app.add_option("--top-k", o.top_k, "Sampling top_k of every request (default: the server's)");
  app.add_option("--extra-body", o.extra_body, "JSON object merged into every request's body")
      ->type_name("JSON")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const auto json = nlohmann::json::parse(value, nullptr, false);
            return json.is_object() ? "" : "not a JSON object";
          },
          ""));
}

}  // namespace

BenchCommand::BenchCommand()
    : Command("bench", "Measure offline throughput (vllm bench throughput) or batch latency (vllm bench latency)") {
  auto& o = options;
  add_model_argument(*this, o.model, "Model folder or hub id; with --load-format dummy only config.json is read");
  add_option("--model", o.model, "The model, as vllm bench names it");
  add_flag("--latency", o.latency,
           "Time one batch end to end (vllm bench latency) instead of throughput; prefix caching off unless asked");
  add_token_count_option(*this, "--input-len", o.input_len, "Prompt tokens per request (throughput default 1024, latency 32)");
  add_token_count_option(*this, "--output-len", o.output_len, "Output tokens per request")->capture_default_str();
  add_option("--num-prompts", o.num_prompts, "Requests in the throughput run")->capture_default_str();
  add_option("--n", o.n, "Outputs per request")->capture_default_str();
  add_option("--dataset-name", o.dataset_name, "random: random token ids (the only dataset without files)")
      ->check(CLI::IsMember({"random"}))
      ->capture_default_str();
  add_option("--random-range-ratio", o.random_range_ratio,
             "Lengths drawn uniformly from [len x (1 - r), len x (1 + r)]")
      ->capture_default_str();
  add_option("--seed", o.seed, "Seed of the prompts and of the engine")->capture_default_str();
  add_option("--output-json", o.output_json, "Also write the results to this JSON file")->type_name("FILE");
  add_option("--batch-size", o.batch_size, "With --latency: requests in the batch")->capture_default_str();
  add_option("--num-iters-warmup", o.num_iters_warmup, "With --latency: untimed runs first")->capture_default_str();
  add_option("--num-iters", o.num_iters, "With --latency: timed runs")->capture_default_str();

  add_flag("--profile", o.profile,
           "Also print the GPU time of each kind of operation, from CUDA events (decode steps then run without graphs)");
  add_engine_options(*this, o.engine, engine::UsageContext::offline);
  // vllm bench latency turns prefix caching off unless asked: its iterations repeat their prompts, and each
  // after the first would skip its prefill.
  parse_complete_callback([this] {
    if (options.latency && count("--enable-prefix-caching") == 0) options.engine.config.enable_prefix_caching = false;
  });

  serve = add_subcommand("serve", "Measure an OpenAI-compatible server online, as vllm bench serve");
  serve->footer("See man llmctl-bench for details.");
  add_serve_options(*serve, serve_options);
}

}  // namespace llmctl::cli
