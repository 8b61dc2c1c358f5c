#include "runtime/engine.hpp"

#include "backend/device_query.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "model/generation_config.hpp"
#include "model/model_weights.hpp"
#include "runtime/forward_workspace.hpp"
#include "runtime/memory_plan.hpp"
#include "tokenizer/incremental_detokenizer.hpp"
#include "tokenizer/stop_strings.hpp"
#include "tokenizer/tokenizer_config.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

namespace llmctl::engine {

inline constexpr int kMaxLogprobs = 20;  // vLLM's --max-logprobs default

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::abort: return "abort";
  }
  return "abort";
}

struct Engine::SequenceState : Sequence {
  Request* request = nullptr;
  int index = 0;
  std::int64_t max_output_tokens = 0;
  std::int32_t draw_row = 0;  // its row in the latest draw, which its pending token comes from
  SamplingRng rng;
  // For the penalties: the distinct tokens of its first `penalized_tokens` tokens (output counts, prompt
  // flags) and where each is in that list.
  std::vector<Backend::SampleAdjustment> penalties;
  std::unordered_map<TokenId, std::size_t> penalty_index;
  std::int64_t penalized_tokens = 0;
  std::optional<IncrementalDetokenizer> detokenizer;
  std::optional<StopStringMatcher> stop_strings;
  bool finished = false;
};

struct Engine::Request {
  std::string id;
  SamplingParams params;
  std::int64_t prompt_len = 0;
  std::vector<std::unique_ptr<SequenceState>> sequences;
  int unfinished = 0;
};

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::vector<TokenId> collect_eos_ids(const std::filesystem::path& folder, const ModelConfig& config,
                                     const Tokenizer* tokenizer) {
  std::vector<TokenId> ids;
  auto add = [&](std::int64_t id) {
    if (std::find(ids.begin(), ids.end(), static_cast<TokenId>(id)) == ids.end()) ids.push_back(static_cast<TokenId>(id));
  };
  if (tokenizer)
    if (const auto tokenizer_config = load_tokenizer_config(folder); tokenizer_config && tokenizer_config->eos_token)
      if (const auto id = tokenizer->token_to_id(*tokenizer_config->eos_token)) add(*id);
  if (const auto generation = load_generation_config(folder))
    for (const auto id : generation->eos_token_ids) add(id);
  for (const auto id : config.eos_token_ids) add(id);
  return ids;
}

// vLLM's --dtype: auto keeps a 16-bit checkpoint's type and runs others (f32) in bf16.
DType cuda_compute_dtype(const std::string& dtype, const ModelConfig& config) {
  if (dtype == "auto") return config.dtype == DType::f16 ? DType::f16 : DType::bf16;
  if (dtype == "bfloat16") return DType::bf16;
  if (dtype == "float16" || dtype == "half") return DType::f16;
  throw Error(fmt::format("--dtype {}: the CUDA backend computes in bfloat16 or float16 (auto picks one)", dtype));
}

}  // namespace

std::shared_ptr<const Tokenizer> load_model_tokenizer(const std::filesystem::path& folder) {
  if (!std::filesystem::exists(folder / "tokenizer.json")) return nullptr;
  return std::make_shared<const Tokenizer>(Tokenizer::load(folder / "tokenizer.json"));
}

Engine::Engine(const EngineConfig& config) : engine_seed_(config.seed) {
  model_config_ = load_model_config(config.model);
  if (config.rope_scaling) model_config_.rope_scaling = *config.rope_scaling;
  if (config.rope_theta) {
    if (!(std::isfinite(*config.rope_theta) && *config.rope_theta > 1.0))
      throw Error(fmt::format("--rope-theta must be a number greater than 1, got {}", *config.rope_theta));
    model_config_.rope_theta = *config.rope_theta;
  }
  // vLLM's defaults for --max-num-seqs and --max-num-batched-tokens depend on the GPU.
  const auto gpu = config.device == "cuda" ? query_device(0) : std::nullopt;
  limits_ = resolve_limits(config.limits, model_config_.derived_max_model_len(), gpu ? gpu->total_memory : 0,
                           gpu && gpu->name.find("A100") != std::string::npos);
  tokenizer_ = config.tokenizer ? config.tokenizer : load_model_tokenizer(config.model);
  eos_ids_ = collect_eos_ids(config.model, model_config_, tokenizer_.get());

  const auto started = std::chrono::steady_clock::now();
  backend_ = make_backend(config.device, cuda_compute_dtype(config.dtype, model_config_));
  backend_->set_profiling(config.profile);
  const auto at_start = backend_->memory_info();
  if (at_start) check_free_memory(at_start->free, at_start->total, limits_.gpu_memory_utilization);
  auto weights = load_model_weights(config.model, model_config_, *backend_, config.load_format);
  const auto after_weights = backend_->memory_info();
  const StepLimits step_limits{limits_.max_num_batched_tokens, limits_.max_num_seqs,
                               (limits_.max_model_len + limits_.block_size - 1) / limits_.block_size};
  model_ = std::make_unique<DecoderModel>(model_config_, std::move(weights), *backend_, step_limits,
                                          limits_.max_model_len, config.device == "cuda" && !config.enforce_eager && !config.profile);
  const auto after_model = backend_->memory_info();

  const std::int64_t block_size = limits_.block_size;
  std::int64_t num_blocks = 0;
  if (config.num_blocks) {
    num_blocks = *config.num_blocks;
  } else if (at_start) {
    // vLLM's accounting, measured instead of profiled (every activation buffer is allocated up front):
    // the KV cache gets total x utilization minus this process's own memory. Its runtime (context,
    // cuBLAS) is the figure mem-estimate uses; memory of other processes is not this engine's.
    log::info("Model loading took {:.2f} GiB and {:.2f} seconds",
              static_cast<double>(at_start->free - after_weights->free) / kGiB,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    MemoryUsage usage;
    usage.runtime = kRuntimeBytesPerGpu;
    usage.weights = at_start->free - after_weights->free;
    usage.activations = after_weights->free - after_model->free;
    // The cuBLASLt workspace came with the backend, before at_start.
    const auto planned = plan_forward_workspace(model_config_, limits_, bits(backend_->compute_dtype()) / 8).total();
    log::debug("Activation buffers: {:.3f} GiB allocated, {:.3f} GiB planned as mem-estimate counts them",
               static_cast<double>(usage.activations + kGemmWorkspaceBytes) / kGiB, static_cast<double>(planned) / kGiB);
    usage.cuda_graphs = config.enforce_eager ? 0 : kCudaGraphBytes;  // captured once the KV cache exists
    const auto kv = kv_cache_layout(model_config_, limits_, bits(backend_->compute_dtype()) / 8);
    const auto plan = plan_memory(at_start->total, limits_.gpu_memory_utilization, usage, kv, limits_.max_model_len);
    check_kv_capacity(plan);
    num_blocks = plan.num_blocks;
    log::info("Available KV cache memory: {:.2f} GiB", static_cast<double>(plan.kv_cache_bytes) / kGiB);
    log::info("GPU KV cache size: {} tokens", format_thousands(static_cast<std::uint64_t>(plan.kv_tokens())));
  } else {
    num_blocks = static_cast<std::int64_t>(config.cpu_kv_cache_bytes /
                                           (model_->kv_bytes_per_token() * static_cast<std::uint64_t>(block_size)));
  }
  if (num_blocks * block_size < limits_.max_model_len)
    throw Error(fmt::format("the KV cache ({} blocks of {} tokens) cannot hold one sequence of the maximum model length "
                            "{}: use --max-model-len {} or less, or give the cache more room ({})",
                            num_blocks, block_size, limits_.max_model_len, num_blocks * block_size,
                            config.num_blocks ? "--num-gpu-blocks-override" : "VLLM_CPU_KVCACHE_SPACE in GiB"));
  kv_cache_ = model_->allocate_kv_cache(num_blocks, block_size);
  blocks_ = std::make_unique<BlockManager>(num_blocks, block_size, config.enable_prefix_caching);
  scheduler_ = std::make_unique<Scheduler>(SchedulerLimits{limits_.max_num_seqs, limits_.max_num_batched_tokens}, *blocks_);
  log::info("# {} blocks: {}", backend_->name(), num_blocks);
  log::info("Maximum concurrency for {} tokens per request: {:.2f}x", limits_.max_model_len,
            static_cast<double>(num_blocks * block_size) / static_cast<double>(limits_.max_model_len));
  if (config.capture_graphs_at_start && !model_->graph_sizes().empty()) {
    const auto before = backend_->memory_info();
    const auto capture_started = std::chrono::steady_clock::now();
    model_->capture_graphs(kv_cache_, static_cast<std::int32_t>(block_size));
    const auto after = backend_->memory_info();
    log::info("Graph capturing finished in {:.0f} secs, took {:.2f} GiB",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - capture_started).count(),
              (static_cast<double>(before->free) - static_cast<double>(after->free)) / kGiB);
  }
}

Engine::~Engine() = default;

void Engine::validate(const EngineRequest& request) const {
  const auto& prompt = request.prompt;
  if (prompt.empty()) throw Error("The decoder prompt cannot be empty");
  for (const auto id : prompt)
    if (id < 0 || id >= model_config_.vocab_size) throw Error(fmt::format("Token id {} is out of vocabulary", id));
  const auto length = static_cast<std::int64_t>(prompt.size());
  if (length > limits_.max_model_len)
    throw Error(fmt::format("The decoder prompt (length {}) is longer than the maximum model length of {}. Make sure "
                            "that `max_model_len` is no smaller than the number of text tokens.",
                            length, limits_.max_model_len));
  if (length == limits_.max_model_len)
    throw Error(fmt::format("The decoder prompt (length {}) fills the maximum model length of {}: no token can be generated",
                            length, limits_.max_model_len));
  request.params.validate();
  // -1 asks for the whole vocabulary, which vLLM also refuses unless --max-logprobs is -1.
  if (const auto k = request.params.logprobs; k && (*k > kMaxLogprobs || *k == -1))
    throw Error(fmt::format("Requested sample logprobs of {}, which is greater than max allowed: {}",
                            *k == -1 ? model_config_.vocab_size : *k, kMaxLogprobs));
  std::vector<TokenId> unknown;
  for (const auto id : request.params.stop_token_ids)
    if (id >= model_config_.vocab_size) unknown.push_back(id);
  if (!unknown.empty())
    throw Error(fmt::format("token_id(s) [{}] in stop_token_ids contain out-of-vocab token ids.", fmt::join(unknown, ", ")));
  for (const auto& stop : request.params.stop)
    if (!utf8::is_valid(stop)) throw Error("stop strings must be valid UTF-8");
  if (!request.params.stop.empty() && !tokenizer_)
    throw Error("stop strings need a tokenizer, and this model folder has no tokenizer.json");
}

void Engine::add(EngineRequest request) {
  validate(request);
  if (requests_.contains(request.id)) throw Error(fmt::format("request id '{}' is already in use", request.id));
  auto owned = std::make_unique<Request>();
  Request& r = *owned;
  r.id = request.id;
  r.params = std::move(request.params);
  r.prompt_len = static_cast<std::int64_t>(request.prompt.size());
  for (int i = 0; i < r.params.n; ++i) {
    auto state = std::make_unique<SequenceState>();
    state->id = next_sequence_id_++;
    state->tokens = request.prompt;
    state->prompt_len = r.prompt_len;
    state->request = &r;
    state->index = i;
    state->max_output_tokens = std::min<std::int64_t>(r.params.max_tokens, limits_.max_model_len - r.prompt_len);
    state->max_tokens = r.prompt_len + state->max_output_tokens;
    // Choice i of a seeded request uses seed + i, as vLLM's parallel sampling does. Unseeded ones draw
    // from the engine's seed and their arrival order, so that a rerun of the same work repeats itself
    // (vLLM seeds its global generator with --seed, 0 by default).
    if (r.params.seed) {
      state->rng.seed(*r.params.seed + static_cast<std::uint64_t>(i));
    } else {
      std::seed_seq sequence{static_cast<std::uint32_t>(engine_seed_), static_cast<std::uint32_t>(engine_seed_ >> 32),
                             static_cast<std::uint32_t>(state->id), static_cast<std::uint32_t>(state->id >> 32)};
      state->rng.seed(sequence);
    }
    if (tokenizer_) {
      state->detokenizer.emplace(*tokenizer_, r.params.skip_special_tokens, request.prompt);
      if (!r.params.stop.empty()) state->stop_strings.emplace(r.params.stop, r.params.include_stop_str_in_output);
    }
    scheduler_->add(state.get());
    r.sequences.push_back(std::move(state));
  }
  r.unfinished = r.params.n;
  requests_.emplace(r.id, std::move(owned));
}

void Engine::abort(const std::string& request_id) {
  if (requests_.contains(request_id)) aborted_.push_back(request_id);
}

void Engine::finish_sequence(SequenceState& state, FinishReason reason, CompletionUpdate& update) {
  if (reason != FinishReason::abort && !(reason == FinishReason::stop && std::holds_alternative<std::string>(update.stop_reason))) {
    // Text still held: an unfinished character, or a possible start of a stop string.
    std::string tail = state.detokenizer ? state.detokenizer->finish() : std::string();
    if (state.stop_strings) tail = state.stop_strings->push(tail).text + state.stop_strings->finish();
    update.text += tail;
  }
  update.finish_reason = reason;
  state.finished = true;
  state.tokens.resize(static_cast<std::size_t>(state.num_known_tokens()));  // tokens still drawn are dropped
  state.num_pending = 0;
  for (auto& draw : draws_) std::replace(draw.begin(), draw.end(), &state, static_cast<SequenceState*>(nullptr));
  --state.request->unfinished;
  scheduler_->remove(&state);
}

void Engine::process_token(SequenceState& state, const SampledToken& sampled, CompletionUpdate& update) {
  const auto& params = state.request->params;
  const TokenId token = sampled.token;
  state.tokens[static_cast<std::size_t>(state.num_known_tokens())] = token;  // the oldest pending one
  --state.num_pending;
  ++generation_tokens_;
  update.token_ids.push_back(token);
  if (params.logprobs) update.logprobs.push_back(sampled);

  // vLLM's order: length first, then (past min_tokens) EOS and stop token ids; a stop string found in
  // the text wins.
  const std::int64_t known = state.num_known_tokens(), output_tokens = known - state.prompt_len;
  const bool may_stop = output_tokens > params.min_tokens;
  std::optional<FinishReason> finish;
  bool stopped_by_token = false;
  if (known >= limits_.max_model_len || output_tokens >= state.max_output_tokens) {
    finish = FinishReason::length;
  } else if (may_stop && !params.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end()) {
    finish = FinishReason::stop;
    stopped_by_token = true;
    if (token != eos_ids_.front()) update.stop_reason = token;  // generation_config's extra EOS ids count as stop ids
  } else if (may_stop &&
             std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), token) != params.stop_token_ids.end()) {
    finish = FinishReason::stop;
    stopped_by_token = true;
    update.stop_reason = token;
  }

  if (state.detokenizer && !(stopped_by_token && !params.include_stop_str_in_output)) {
    std::string text = state.detokenizer->push(token);
    if (state.stop_strings) {
      auto step = state.stop_strings->push(text, may_stop);
      text = std::move(step.text);
      if (step.stop) {
        finish = FinishReason::stop;
        update.stop_reason = *step.stop;
      }
    }
    update.text += text;
  }
  if (finish) finish_sequence(state, *finish, update);
}

// EOS and the stop token ids may not come while min_tokens is not reached.
std::vector<TokenId> Engine::banned_tokens(const SamplingParams& params, std::int64_t output_tokens) const {
  if (output_tokens >= params.min_tokens) return {};
  std::vector<TokenId> banned = eos_ids_;
  banned.insert(banned.end(), params.stop_token_ids.begin(), params.stop_token_ids.end());
  return banned;
}

// Rows are drawn where the logits are (Backend::start_sampling), but for those that report logprobs,
// which the host sampler computes. Each sequence draws from its own stream either way, so the batch
// around it cannot change its tokens.
std::optional<Backend::DeviceSample> Engine::device_sample(SequenceState& state, std::int32_t row,
                                                          std::vector<Backend::SampleAdjustment>& adjustments) const {
  const auto& p = state.request->params;
  if (p.logprobs) return std::nullopt;
  Backend::DeviceSample sample{row, p.greedy() ? 0.0f : static_cast<float>(p.temperature), 0};
  sample.top_k = p.top_k;
  sample.top_p = static_cast<float>(p.top_p);
  sample.min_p = static_cast<float>(p.min_p);
  sample.repetition_penalty = static_cast<float>(p.repetition_penalty);
  sample.frequency_penalty = static_cast<float>(p.frequency_penalty);
  sample.presence_penalty = static_cast<float>(p.presence_penalty);
  const std::size_t begin = adjustments.size();
  if (p.penalized()) {
    // The known tokens not yet counted; a pending one (the latest draw's) is counted on the device.
    const bool repetition = p.repetition_penalty != 1.0;
    for (std::int64_t i = state.penalized_tokens; i < state.num_known_tokens(); ++i) {
      const bool in_prompt = i < state.prompt_len;
      if (in_prompt && !repetition) continue;
      const TokenId token = state.tokens[static_cast<std::size_t>(i)];
      const auto [it, added] = state.penalty_index.try_emplace(token, state.penalties.size());
      if (added) state.penalties.push_back({token, 0});
      auto& flags = state.penalties[it->second].flags;
      flags = in_prompt ? flags | Backend::kInPrompt : flags + 1;
    }
    state.penalized_tokens = state.num_known_tokens();
    adjustments.insert(adjustments.end(), state.penalties.begin(), state.penalties.end());
    if (state.num_pending > 0) sample.pending = state.draw_row;
  }
  // Its output tokens before this one, a pending one included.
  for (const TokenId token : banned_tokens(p, state.num_output_tokens())) {
    if (const auto it = state.penalty_index.find(token); it != state.penalty_index.end()) {
      adjustments[begin + it->second].flags |= Backend::kBanned;
      continue;
    }
    const auto listed = adjustments.begin() + static_cast<std::ptrdiff_t>(begin + state.penalties.size());
    if (std::none_of(listed, adjustments.end(), [&](const auto& a) { return a.token == token; }))
      adjustments.push_back({token, Backend::kBanned});
  }
  if (adjustments.size() > static_cast<std::size_t>(max_sample_adjustments(limits_.max_num_seqs))) {
    adjustments.resize(begin);
    return std::nullopt;
  }
  sample.adjustments_begin = static_cast<std::int32_t>(begin);
  sample.adjustments_count = static_cast<std::int32_t>(adjustments.size() - begin);
  if (!p.greedy()) sample.seed = state.rng();
  return sample;
}

std::vector<SampledToken> Engine::sample_on_host(const Tensor& logits, std::span<const std::int32_t> rows,
                                                 std::span<SequenceState* const> sequences) {
  std::vector<SampledToken> sampled(rows.size());
  if (rows.empty()) return sampled;
  const auto vocab = static_cast<std::size_t>(model_config_.vocab_size);
  host_logits_.resize(rows.size() * vocab);
  backend_->download_rows(logits, rows, host_logits_);
#pragma omp parallel for schedule(dynamic)
  for (std::size_t k = 0; k < rows.size(); ++k) {
    SequenceState& state = *sequences[k];
    const auto& params = state.request->params;
    // Its tokens so far: all known (the draw before was learned), but for the one this samples.
    const auto known = std::span<const TokenId>(state.tokens).first(static_cast<std::size_t>(state.num_known_tokens()));
    const auto prompt = known.first(static_cast<std::size_t>(state.prompt_len));
    const auto output = known.subspan(static_cast<std::size_t>(state.prompt_len));
    const auto banned = banned_tokens(params, static_cast<std::int64_t>(output.size()));
    sampled[k] = sample_token(std::span<float>(host_logits_).subspan(k * vocab, vocab),
                              SamplingContext{params, prompt, output, banned, state.rng});
  }
  return sampled;
}

EngineStats Engine::stats() const {
  EngineStats stats;
  stats.num_running = static_cast<std::int64_t>(scheduler_->num_running());
  stats.num_waiting = static_cast<std::int64_t>(scheduler_->num_waiting());
  stats.kv_cache_usage = 1.0 - static_cast<double>(blocks_->num_free_blocks()) / static_cast<double>(blocks_->num_blocks());
  stats.num_preemptions = scheduler_->num_preemptions();
  stats.prefix_cache_queries = scheduler_->prefix_cache_queries() * limits_.block_size;
  stats.prefix_cache_hits = scheduler_->prefix_cache_hits() * limits_.block_size;
  stats.prompt_tokens = prompt_tokens_computed_;
  stats.generation_tokens = generation_tokens_;
  stats.num_steps = num_steps_;
  return stats;
}

std::vector<RequestOutput> Engine::step() {
  std::map<Request*, RequestOutput> outputs;
  auto update_for = [&](SequenceState& state) -> CompletionUpdate& {
    auto& output = outputs[state.request];
    for (auto& update : output.updates)
      if (update.index == state.index) return update;
    output.updates.push_back({});
    output.updates.back().index = state.index;
    return output.updates.back();
  };

  for (const auto& id : aborted_) {
    const auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    for (auto& state : it->second->sequences)
      if (!state->finished) finish_sequence(*state, FinishReason::abort, update_for(*state));
  }
  aborted_.clear();

  // The oldest draw's tokens: each resolves its sequence's oldest pending token.
  auto learn_draw = [&] {
    const auto results = backend_->finish_sampling();
    const auto sequences = std::move(draws_.front());
    draws_.pop_front();
    for (std::size_t k = 0; k < sequences.size(); ++k)
      if (SequenceState* state = sequences[k])  // null: finished meanwhile, its token dropped
        process_token(*state, {results[k].token, 0.0f, 0, {}}, update_for(*state));
  };

  const auto scheduled = scheduler_->schedule();
  if (scheduled.empty() && !scheduler_->empty() && draws_.empty())
    throw Error("internal: the scheduler found nothing to run while sequences wait");

  std::vector<std::int32_t> host_rows;
  std::vector<SequenceState*> host_sequences;
  Tensor logits;
  if (!scheduled.empty()) {
    // The flat batch. A token still on the device (drawn by the step before) goes in as its draw row.
    batch_ = StepBatch{};
    batch_.block_size = static_cast<std::int32_t>(limits_.block_size);
    for (const auto& [sequence, new_tokens] : scheduled)  // the block tables' width: the longest table
      batch_.max_blocks_per_seq = std::max(batch_.max_blocks_per_seq,
                                           static_cast<std::int32_t>(blocks_->block_table(sequence->id).size()));
    batch_.query_start.push_back(0);
    std::vector<SequenceState*> sampling;
    for (const auto& [sequence, new_tokens] : scheduled) {
      auto& state = *static_cast<SequenceState*>(sequence);
      const auto table = blocks_->block_table(sequence->id);
      const std::int64_t first = sequence->num_computed_tokens;
      for (std::int64_t p = first; p < first + new_tokens; ++p) {
        batch_.token_ids.push_back(p < state.num_known_tokens() ? state.tokens[static_cast<std::size_t>(p)]
                                                                : -(state.draw_row + 1));
        batch_.positions.push_back(static_cast<std::int32_t>(p));
        batch_.slot_mapping.push_back(static_cast<std::int64_t>(table[static_cast<std::size_t>(p / limits_.block_size)]) *
                                          limits_.block_size + p % limits_.block_size);
      }
      batch_.query_start.push_back(static_cast<std::int32_t>(batch_.token_ids.size()));
      batch_.context_lens.push_back(static_cast<std::int32_t>(first + new_tokens));
      batch_.block_tables.insert(batch_.block_tables.end(), table.begin(), table.end());
      batch_.block_tables.resize(batch_.context_lens.size() * static_cast<std::size_t>(batch_.max_blocks_per_seq), -1);
      if (first + new_tokens == sequence->num_tokens()) {
        batch_.logit_rows.push_back(static_cast<std::int32_t>(batch_.token_ids.size() - 1));
        sampling.push_back(&state);
      }
    }
    logits = model_->forward(batch_, kv_cache_);
    for (const auto& [sequence, new_tokens] : scheduled) {
      prompt_tokens_computed_ += std::clamp<std::int64_t>(sequence->prompt_len - sequence->num_computed_tokens, 0, new_tokens);
      sequence->num_computed_tokens += new_tokens;
    }
    ++num_steps_;

    // Start this step's draw, then learn the previous step's while the GPU runs this one: the host
    // prepares the next step without waiting for this one's tokens.
    std::vector<Backend::DeviceSample> draw_rows;
    std::vector<SequenceState*> drawing;
    adjustments_.clear();
    for (std::size_t i = 0; i < sampling.size(); ++i) {
      SequenceState& state = *sampling[i];
      if (const auto sample = device_sample(state, static_cast<std::int32_t>(i), adjustments_)) {
        draw_rows.push_back(*sample);
        state.draw_row = static_cast<std::int32_t>(drawing.size());
        drawing.push_back(&state);
      } else {
        host_rows.push_back(static_cast<std::int32_t>(i));
        host_sequences.push_back(&state);
      }
      state.tokens.push_back(kPendingToken);
      ++state.num_pending;
    }
    backend_->start_sampling(logits, draw_rows, adjustments_);
    draws_.push_back(std::move(drawing));
  }
  if (draws_.size() > (scheduled.empty() ? 0u : 1u)) learn_draw();
  if (!host_rows.empty()) {  // the host sampler needs this step's logits now: the step ends here
    const auto sampled = sample_on_host(logits, host_rows, host_sequences);
    learn_draw();
    for (std::size_t k = 0; k < host_sequences.size(); ++k)
      if (!host_sequences[k]->finished)
        process_token(*host_sequences[k], sampled[k], update_for(*host_sequences[k]));
  }

  std::vector<RequestOutput> result;
  for (auto& [request, output] : outputs) {
    output.request_id = request->id;
    output.num_prompt_tokens = request->prompt_len;
    output.num_cached_tokens = std::max<std::int64_t>(0, request->sequences.front()->num_cached_tokens);
    output.finished = request->unfinished == 0;
    std::sort(output.updates.begin(), output.updates.end(),
              [](const CompletionUpdate& a, const CompletionUpdate& b) { return a.index < b.index; });
    result.push_back(std::move(output));
    if (request->unfinished == 0) requests_.erase(request->id);
  }
  return result;
}

}  // namespace llmctl::engine
