#include "bench/serve_bench.hpp"

#include "bench/serve_client.hpp"
#include "common/error.hpp"
#include "common/model_argument.hpp"
#include "tokenizer/tokenizer.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace llmctl::bench {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using engine::TokenId;

// Python's str() of a float, as vLLM's messages and file names show one: 10.0, 0.5, inf.
std::string python_float(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  for (std::size_t begin = 0, end;; begin = end + 1) {
    end = text.find(separator, begin);
    items.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return items;
  }
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  return begin == std::string::npos ? "" : text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

struct Server {
  std::string base_url;  // http://host:port
  std::string api_url;   // base_url + endpoint
  std::vector<std::string> headers;
  bool chat = false;  // the chat completions API
};

Server server_of(const cli::ServeBenchOptions& o) {
  Server server;
  server.base_url = !o.base_url.empty() ? o.base_url
                    : o.host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", o.host, o.port)
                                                            : fmt::format("http://{}:{}", o.host, o.port);
  while (server.base_url.ends_with('/')) server.base_url.pop_back();
  server.api_url = server.base_url + o.endpoint;
  server.chat = o.backend == "openai-chat" || o.endpoint.ends_with("chat/completions");
  if (o.backend == "openai-chat" && !o.endpoint.ends_with("chat/completions"))
    throw Error(fmt::format("--endpoint {}: --backend openai-chat needs an endpoint ending in chat/completions", o.endpoint));
  if (!o.endpoint.ends_with("completions"))
    throw Error(fmt::format("--endpoint {}: the OpenAI completions API's path ends in completions", o.endpoint));
  const char* environment_key = std::getenv("OPENAI_API_KEY");
  const std::string key = !o.api_key.empty() ? o.api_key : environment_key ? environment_key : "";
  if (!key.empty()) server.headers.push_back("Authorization: Bearer " + key);
  for (const auto& header : o.headers) {
    const auto equals = header.find('=');
    server.headers.push_back(trim(header.substr(0, equals)) + ": " + trim(header.substr(equals + 1)));
  }
  return server;
}

struct ModelNames {
  std::string name;  // the "model" of the requests
  std::string id;    // the tokenizer's default and the result file's name: the served model's root
};

ModelNames model_names(const cli::ServeBenchOptions& o, const Server& server) {
  if (!o.model.empty()) return {o.model, o.model};
  fmt::print("Model not specified, fetching first model from server...\n");
  const auto models = get_json(server.base_url + "/v1/models", server.headers);
  const auto* data = models.is_object() && models.contains("data") ? &models["data"] : nullptr;
  if (!data || !data->is_array() || data->empty() || !(*data)[0].contains("id") || !(*data)[0]["id"].is_string())
    throw Error(fmt::format("no models found on the server at {}", server.base_url));
  const auto& first = (*data)[0];
  ModelNames names{first["id"], first["id"]};
  if (first.contains("root") && first["root"].is_string()) names.id = first["root"];
  fmt::print("First model name: {}, first model id: {}\n", names.name, names.id);
  return names;
}

engine::Tokenizer load_tokenizer(const std::string& id) {
  try {
    const fs::path folder = fs::exists(id) ? fs::path(id) : fs::path(cli::resolve_model_argument(id, true));
    return engine::Tokenizer::load(folder / "tokenizer.json");
  } catch (const Error& e) {
    throw Error(fmt::format("cannot load the tokenizer of {}: {} (give --tokenizer: a model folder or hub id)", id, e.what()));
  }
}

struct Prompt {
  std::vector<TokenId> ids;  // for the completions API
  std::string text;          // for the chat completions API
  std::int64_t prompt_len = 0;
  std::int64_t output_len = 0;
};

// vLLM's gen_prompt_decode_to_target_len: a decoded sequence may encode to another length, so decode,
// encode, then pad with random tokens or cut to the target, at most 10 times.
std::string fit_text(const engine::Tokenizer& tokenizer, std::vector<TokenId>& ids, std::size_t target,
                     const std::vector<TokenId>& allowed, std::mt19937_64& random) {
  std::string text;
  for (int retries = 10;; --retries) {
    text = tokenizer.decode(ids, false);
    ids = tokenizer.encode(text, false);
    if (retries == 0 || ids.size() == target) return text;
    std::uniform_int_distribution<std::size_t> pick(0, allowed.size() - 1);
    while (ids.size() < target) ids.push_back(allowed[pick(random)]);
    ids.resize(target);
  }
}

// vLLM's random dataset: lengths uniform in [floor(len x (1 - r)), ceil(len x (1 + r))], a shared prefix
// of random tokens, then a run of consecutive ordinary token ids from a random offset. Sent as token
// ids the lengths are exact; as chat text they are what the tokenizer makes of the decoded ids.
std::vector<Prompt> random_prompts(const engine::Tokenizer& tokenizer, const cli::ServeBenchOptions& o, bool as_text) {
  std::vector<TokenId> allowed;
  for (std::size_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const auto token = static_cast<TokenId>(id);
    if (!tokenizer.is_special(token) && tokenizer.id_to_token(token)) allowed.push_back(token);
  }
  if (allowed.empty()) throw Error("the tokenizer has no ordinary tokens to make prompts of");
  const double r = o.random_range_ratio;
  const auto input_low = static_cast<std::int64_t>(std::floor(static_cast<double>(o.random_input_len) * (1 - r)));
  const auto input_high = static_cast<std::int64_t>(std::ceil(static_cast<double>(o.random_input_len) * (1 + r)));
  const auto output_low = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(static_cast<double>(o.random_output_len) * (1 - r))));
  const auto output_high = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(static_cast<double>(o.random_output_len) * (1 + r))));
  if (o.random_prefix_len + input_low < 1)
    throw Error(fmt::format("--random-input-len {} is too small: with --random-range-ratio {} a prompt may have no "
                            "token; raise it or --random-prefix-len",
                            o.random_input_len, r));
  std::mt19937_64 random(o.seed);
  const auto count = static_cast<std::size_t>(o.num_prompts);
  std::vector<Prompt> prompts(count);
  std::uniform_int_distribution<std::int64_t> input_len(input_low, input_high), output_len(output_low, output_high);
  std::uniform_int_distribution<std::size_t> offset(0, tokenizer.vocab_size() - 1), pick(0, allowed.size() - 1);
  std::vector<std::int64_t> input_lens(count);
  for (auto& len : input_lens) len = input_len(random);
  for (auto& prompt : prompts) prompt.output_len = output_len(random);
  std::vector<std::size_t> offsets(count);
  for (auto& start : offsets) start = offset(random);
  std::vector<TokenId> prefix(static_cast<std::size_t>(o.random_prefix_len));
  for (auto& id : prefix) id = allowed[pick(random)];
  if (as_text && !prefix.empty()) fit_text(tokenizer, prefix, prefix.size(), allowed, random);
  for (std::size_t i = 0; i < count; ++i) {
    auto& prompt = prompts[i];
    prompt.ids = prefix;
    for (std::int64_t k = 0; k < input_lens[i]; ++k)
      prompt.ids.push_back(allowed[(offsets[i] + i + static_cast<std::size_t>(k)) % allowed.size()]);
    if (as_text) {
      prompt.text = fit_text(tokenizer, prompt.ids, prompt.ids.size(), allowed, random);
      prompt.prompt_len = static_cast<std::int64_t>(prompt.ids.size());
      prompt.ids.clear();
    } else {
      prompt.prompt_len = static_cast<std::int64_t>(prompt.ids.size());
    }
  }
  return prompts;
}

// The body vLLM's request functions send, with the sampling flags and --extra-body merged last.
std::string request_body(const Prompt& prompt, const std::string& model, bool chat, const cli::ServeBenchOptions& o,
                         const Json& overrides) {
  Json body;
  body["model"] = model;
  if (chat) {
    Json part = {{"type", "text"}, {"text", prompt.text}};
    Json message = {{"role", "user"}, {"content", Json::array({part})}};
    body["messages"] = Json::array({message});
    body["max_completion_tokens"] = prompt.output_len;
  } else {
    body["prompt"] = prompt.ids;
    body["repetition_penalty"] = 1.0;
    body["max_tokens"] = prompt.output_len;
    body["logprobs"] = o.logprobs ? Json(*o.logprobs) : Json(nullptr);
  }
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos || o.dataset_name == "random") body["ignore_eos"] = true;  // vLLM forces it for random prompts
  for (const auto& [key, value] : overrides.items()) body[key] = value;
  return body.dump();
}

// vLLM's get_request: gaps from a gamma distribution of shape `burstiness` and mean 1 / rate (an
// exponential, so a Poisson process, at burstiness 1), scaled so that the last request arrives at
// count / rate; all at once when the rate is infinite.
std::vector<double> arrival_times(std::size_t count, double rate, double burstiness, std::uint64_t seed) {
  std::vector<double> times(count, 0.0);
  if (std::isinf(rate) || count == 0) return times;
  std::mt19937_64 random(seed);
  // An infinite burstiness is the limit: evenly spaced arrivals.
  std::gamma_distribution<double> gap(std::isinf(burstiness) ? 1.0 : burstiness,
                                      std::isinf(burstiness) ? 1.0 / rate : 1.0 / (rate * burstiness));
  double time = 0.0;
  for (auto& t : times) t = time += std::isinf(burstiness) ? 1.0 / rate : gap(random);
  const double scale = static_cast<double>(count) / rate / times.back();
  for (auto& t : times) t *= scale;
  return times;
}

// numpy's percentile (linear interpolation); 0 for no values, as vLLM's `values or 0`.
double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(rank);
  const auto above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (rank - static_cast<double>(below));
}

double mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (const double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

double standard_deviation(const std::vector<double>& values) {  // numpy's std: of the population
  const double m = mean(values);
  double sum = 0.0;
  for (const double v : values) sum += (v - m) * (v - m);
  return values.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(values.size()));
}

struct Peaks {
  double output_tokens_per_second = 0.0;
  std::int64_t concurrent_requests = 0;
};

// vLLM's peaks over the successful requests: the most output tokens (chunks) in one second, counted in
// one-second buckets from the first start, and the most requests in flight at one instant.
Peaks peaks(const std::vector<StreamResult>& outputs) {
  double first_start = INFINITY, last_end = -INFINITY;
  for (const auto& out : outputs)
    if (out.success) {
      first_start = std::min(first_start, out.start_time);
      last_end = std::max(last_end, out.start_time + out.latency);
    }
  if (std::isinf(first_start)) return {};
  std::vector<double> per_second(static_cast<std::size_t>(std::ceil(last_end - first_start)) + 1, 0.0);
  const auto count_token = [&](double time) {
    const auto bucket = static_cast<std::size_t>(time - first_start);
    if (bucket < per_second.size()) ++per_second[bucket];
  };
  std::vector<std::pair<double, int>> events;
  for (const auto& out : outputs) {
    if (!out.success) continue;
    double time = out.start_time + out.ttft;
    count_token(time);
    for (const double gap : out.itl) count_token(time += gap);
    events.emplace_back(out.start_time, 1);
    events.emplace_back(out.start_time + out.latency, -1);
  }
  Peaks result{*std::max_element(per_second.begin(), per_second.end()), 0};
  std::sort(events.begin(), events.end());  // an end before a start at the same time
  std::int64_t current = 0;
  for (const auto& event : events) result.concurrent_requests = std::max(result.concurrent_requests, current += event.second);
  return result;
}

void row(const std::string& label, const std::string& value) { fmt::print("{:<40} {:<10}\n", label, value); }
void row(const std::string& label, double value) { fmt::print("{:<40} {:<10.2f}\n", label, value); }

// vLLM's calculate_metrics and the result block of benchmark(): prints it and returns vLLM's result keys.
Json report(const cli::ServeBenchOptions& o, const std::vector<StreamResult>& outputs, double duration,
            const engine::Tokenizer& tokenizer) {
  std::vector<std::int64_t> output_lens;
  std::vector<double> ttfts, tpots, all_tpots, itls, e2els, queue_times, e2els_with_queue;
  std::int64_t total_input = 0, completed = 0;
  for (const auto& out : outputs) {
    if (!out.success) {
      output_lens.push_back(0);
      continue;
    }
    // Without a usage chunk, count the text's tokens as vLLM does with its tokenizer.
    const auto output_len = out.output_tokens ? out.output_tokens
                                              : static_cast<std::int64_t>(tokenizer.encode(out.generated_text, false).size());
    output_lens.push_back(output_len);
    total_input += out.prompt_len;
    double tpot = 0.0;
    if (output_len > 1) {
      tpot = (out.latency - out.ttft) / static_cast<double>(output_len - 1);
      tpots.push_back(tpot);
    }
    all_tpots.push_back(tpot);
    itls.insert(itls.end(), out.itl.begin(), out.itl.end());
    ttfts.push_back(out.ttft);
    e2els.push_back(out.latency);
    queue_times.push_back(out.queue_time);
    e2els_with_queue.push_back(out.latency + out.queue_time);
    ++completed;
  }
  std::int64_t total_output = 0;
  for (const auto len : output_lens) total_output += len;

  std::map<std::string, double> slo;  // goodput: every objective met
  for (const auto& pair : o.goodput) slo[pair.substr(0, pair.find(':'))] = std::stod(pair.substr(pair.find(':') + 1)) / 1e3;
  std::int64_t good = 0;
  for (std::size_t i = 0; i < ttfts.size(); ++i)
    good += (!slo.contains("ttft") || slo["ttft"] >= ttfts[i]) && (!slo.contains("tpot") || slo["tpot"] >= all_tpots[i]) &&
            (!slo.contains("e2el") || slo["e2el"] >= e2els[i]);

  const auto [peak_tokens, peak_concurrency] = peaks(outputs);

  const std::size_t failed = outputs.size() - static_cast<std::size_t>(completed);
  if (failed > 0) {
    fmt::print("Failed requests during benchmark run detected (capping to 10):\n");
    std::size_t shown = 0;
    for (const auto& out : outputs)
      if (!out.success && shown < 10) fmt::print("Error {}: {}\n", shown++, out.error);
  }
  fmt::print("{:=^50}\n", " Serving Benchmark Result ");
  row("Successful requests:", std::to_string(completed));
  row("Failed requests:", std::to_string(failed));
  if (o.max_concurrency) row("Maximum request concurrency:", std::to_string(*o.max_concurrency));
  if (!std::isinf(o.request_rate)) row("Request rate configured (RPS):", o.request_rate);
  row("Benchmark duration (s):", duration);
  row("Total input tokens:", std::to_string(total_input));
  row("Total generated tokens:", std::to_string(total_output));
  row("Request throughput (req/s):", static_cast<double>(completed) / duration);
  if (!slo.empty()) row("Request goodput (req/s):", static_cast<double>(good) / duration);
  row("Output token throughput (tok/s):", static_cast<double>(total_output) / duration);
  row("Peak output token throughput (tok/s):", peak_tokens);
  row("Peak concurrent requests:", static_cast<double>(peak_concurrency));
  row("Total token throughput (tok/s):", static_cast<double>(total_input + total_output) / duration);

  Json result;
  result["duration"] = duration;
  result["completed"] = completed;
  result["failed"] = failed;
  result["total_input_tokens"] = total_input;
  result["total_output_tokens"] = total_output;
  result["request_throughput"] = static_cast<double>(completed) / duration;
  result["request_goodput"] = slo.empty() ? Json(nullptr) : Json(static_cast<double>(good) / duration);
  result["output_throughput"] = static_cast<double>(total_output) / duration;
  result["total_token_throughput"] = static_cast<double>(total_input + total_output) / duration;
  auto each = [&](auto field) {
    Json values = Json::array();
    for (const auto& out : outputs) values.push_back(field(out));
    return values;
  };
  result["input_lens"] = each([](const StreamResult& r) { return r.prompt_len; });
  result["output_lens"] = output_lens;
  result["ttfts"] = each([](const StreamResult& r) { return r.ttft; });
  result["itls"] = each([](const StreamResult& r) { return r.itl; });
  result["latencies"] = each([](const StreamResult& r) { return r.latency; });
  result["start_times"] = each([](const StreamResult& r) { return r.start_time; });
  result["queue_times"] = each([](const StreamResult& r) { return r.queue_time; });
  result["generated_texts"] = each([](const StreamResult& r) { return r.generated_text; });
  result["errors"] = each([](const StreamResult& r) { return r.error; });
  result["max_output_tokens_per_s"] = peak_tokens;
  result["max_concurrent_requests"] = peak_concurrency;
  result["rtfx"] = 0.0;

  const auto selected = split(o.percentile_metrics, ',');
  std::vector<double> percentiles;
  for (const auto& p : split(o.metric_percentiles, ',')) percentiles.push_back(std::stod(p));
  const auto section = [&](const std::string& key, const std::string& name, const std::string& header,
                           const std::vector<double>& values) {
    if (std::find(selected.begin(), selected.end(), key) == selected.end()) return;
    fmt::print("{:-^50}\n", header);
    row(fmt::format("Mean {} (ms):", name), mean(values) * 1e3);
    row(fmt::format("Median {} (ms):", name), percentile(values, 50) * 1e3);
    result[fmt::format("mean_{}_ms", key)] = mean(values) * 1e3;
    result[fmt::format("median_{}_ms", key)] = percentile(values, 50) * 1e3;
    result[fmt::format("std_{}_ms", key)] = standard_deviation(values) * 1e3;
    for (const double p : percentiles) {
      const std::string word = fmt::format("{}", p);  // 99, 99.9: Python's int when whole
      row(fmt::format("P{} {} (ms):", word, name), percentile(values, p) * 1e3);
      result[fmt::format("p{}_{}_ms", word, key)] = percentile(values, p) * 1e3;
    }
  };
  section("ttft", "TTFT", "Time to First Token", ttfts);
  section("tpot", "TPOT", "Time per Output Token (excl. 1st token)", tpots);
  section("itl", "ITL", "Inter-token Latency", itls);
  section("e2el", "E2EL", "End-to-end Latency", e2els);
  if (o.max_concurrency) {
    section("client_queue_time", "Client Queue Time", "Client-side Queueing", queue_times);
    if (!std::isinf(o.request_rate))
      section("e2el_including_client_queue", "E2EL incl. Client Queue", "Queue-inclusive End-to-end Latency",
              e2els_with_queue);
  }
  fmt::print("{}\n", std::string(50, '='));
  return result;
}

// vLLM's compute_result_filename: LABEL-RATEqps[-concurrencyN]-MODEL-DATE.json in --result-dir.
fs::path result_path(const cli::ServeBenchOptions& o, const std::string& model_id, const std::string& date) {
  std::string name = o.result_filename;
  if (name.empty())
    name = fmt::format("{}-{}qps{}-{}-{}.json", o.label.empty() ? o.backend : o.label, python_float(o.request_rate),
                       o.max_concurrency ? fmt::format("-concurrency{}", *o.max_concurrency) : "",
                       model_id.substr(model_id.find_last_of('/') + 1), date);
  if (o.result_dir.empty()) return name;
  std::error_code ignored;
  fs::create_directories(o.result_dir, ignored);
  return fs::path(o.result_dir) / name;
}

// Many streams at once need many sockets: lift the soft limit on open files to the hard one.
void allow_many_connections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

void run_serve_benchmark(const cli::ServeBenchOptions& o) {
  const Server server = server_of(o);
  const ModelNames model = model_names(o, server);
  const std::string tokenizer_id = o.tokenizer.empty() ? model.id : o.tokenizer;
  const auto tokenizer = load_tokenizer(tokenizer_id);
  const auto prompts = random_prompts(tokenizer, o, server.chat);

  Json overrides = Json::object();  // the sampling flags, then --extra-body
  for (const auto& [key, value] : o.sampling) overrides[key] = value;
  if (o.top_k) overrides["top_k"] = *o.top_k;
  const Json extra_body = o.extra_body.empty() ? Json::object() : Json::parse(o.extra_body);
  for (const auto& [key, value] : extra_body.items()) overrides[key] = value;
  if (!overrides.contains("temperature"))
    fmt::print("WARNING: vllm bench serve no longer sets temperature==0 (greedy) in requests by default. The default "
               "will be determined on the server side and can be model/API specific. For the old behavior, include "
               "--temperature=0.\n");

  const std::string id_prefix = fmt::format("bench-{:08x}-", std::random_device()());
  std::vector<StreamRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    requests.push_back({request_body(prompts[i], model.name, server.chat, o, overrides), id_prefix + std::to_string(i),
                        prompts[i].prompt_len, prompts[i].output_len});

  allow_many_connections();
  StreamClient client(server.api_url, server.headers);
  double duration = 0.0;
  if (o.num_warmups > 0) {
    fmt::print("Warming up with {} requests...\n", o.num_warmups);
    std::vector<StreamRequest> warmups(static_cast<std::size_t>(o.num_warmups), requests.front());
    for (std::size_t i = 0; i < warmups.size(); ++i) warmups[i].request_id = id_prefix + "warmup-" + std::to_string(i);
    client.run(warmups, std::vector<double>(warmups.size(), 0.0), o.max_concurrency, duration);
    fmt::print("Warmup run completed.\n");
  }
  fmt::print("Starting main benchmark run...\n");
  fmt::print("Traffic request rate: {}\n", python_float(o.request_rate));
  fmt::print("Burstiness factor: {} ({})\n", python_float(o.burstiness),
             o.burstiness == 1.0 ? "Poisson process" : "Gamma distribution");
  fmt::print("Maximum request concurrency: {}\n", o.max_concurrency ? std::to_string(*o.max_concurrency) : "None");
  std::fflush(stdout);
  const auto outputs = client.run(requests, arrival_times(requests.size(), o.request_rate, o.burstiness, o.seed),
                                  o.max_concurrency, duration);
  const Json benchmark = report(o, outputs, duration, tokenizer);

  if (o.save_result) {
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y%m%d-%H%M%S", std::localtime(&now));
    Json saved;
    saved["date"] = date;
    saved["endpoint_type"] = o.backend;
    saved["backend"] = o.backend;
    saved["label"] = o.label.empty() ? Json(nullptr) : Json(o.label);
    saved["model_id"] = model.id;
    saved["tokenizer_id"] = tokenizer_id;
    saved["num_prompts"] = o.num_prompts;
    for (const auto& item : o.metadata) saved[trim(item.substr(0, item.find('=')))] = trim(item.substr(item.find('=') + 1));
    saved["request_rate"] = std::isinf(o.request_rate) ? Json("inf") : Json(o.request_rate);
    saved["burstiness"] = o.burstiness;
    saved["max_concurrency"] = o.max_concurrency ? Json(*o.max_concurrency) : Json(nullptr);
    for (const auto& [key, value] : benchmark.items()) {
      static const std::vector<std::string> detailed = {"input_lens", "output_lens", "start_times", "ttfts",
                                                        "itls", "generated_texts", "errors"};
      if (o.save_detailed || std::find(detailed.begin(), detailed.end(), key) == detailed.end()) saved[key] = value;
    }
    const auto path = result_path(o, model.id, date);
    std::ofstream file(path);
    file << saved.dump();
    if (!file.flush()) throw Error(fmt::format("{}: cannot be written", path.string()));
  }
  if (benchmark.at("completed") == 0)
    throw Error(fmt::format("all {} requests failed; the first: {}", outputs.size(), outputs.front().error));
}

}  // namespace llmctl::bench
