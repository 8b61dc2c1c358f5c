#pragma once

#include "backend/backend.hpp"
#include "model/decoder_model.hpp"
#include "model/model_config.hpp"
#include "model/model_weights.hpp"
#include "runtime/block_manager.hpp"
#include "runtime/engine_limits.hpp"
#include "runtime/engine_stats.hpp"
#include "runtime/request_output.hpp"
#include "runtime/scheduler.hpp"
#include "tokenizer/tokenizer.hpp"

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::engine {

struct EngineConfig {
  std::filesystem::path model;  // a local model folder
  std::string device = "cpu";
  std::string dtype = "auto";  // the CUDA backend's compute type, as vLLM's --dtype (the CPU computes in f32)
  EngineLimits limits;  // zero fields are filled as vLLM fills them
  std::optional<std::int64_t> num_blocks;  // vLLM's --num-gpu-blocks-override
  LoadFormat load_format = LoadFormat::checkpoint;
  std::uint64_t cpu_kv_cache_bytes = 4ull << 30;  // vLLM's VLLM_CPU_KVCACHE_SPACE default
  bool enable_prefix_caching = true;
  bool enforce_eager = false;  // vLLM's --enforce-eager: no CUDA graphs for decode steps
  bool profile = false;  // time each operation on the GPU (Backend::set_profiling); graphs are then off
  // Capture every decode graph at startup, as vLLM does, rather than at each size's first step: for
  // servers and benchmarks, whose steps should not pay for it; a single generation needs few sizes.
  bool capture_graphs_at_start = false;
  std::optional<RopeScaling> rope_scaling;  // replaces config.json's
  std::optional<double> rope_theta;
  std::uint64_t seed = 0;  // where requests without a seed of their own draw from (vLLM's --seed)
  std::shared_ptr<const Tokenizer> tokenizer;  // already loaded by the caller; else read from `model`
};

// The model folder's tokenizer.json, or null when it has none (then only token ids go in and out).
std::shared_ptr<const Tokenizer> load_model_tokenizer(const std::filesystem::path& folder);

struct EngineRequest {
  std::string id;
  std::vector<TokenId> prompt;
  SamplingParams params;
};

// The step loop of one model on one backend (single-threaded: EngineClient owns it on its own thread).
// add() queues a request as n sequences; step() schedules, runs the model once and samples, then learns
// the tokens of the step before (drawn on the backend while this one was prepared: README.md), applies
// stop conditions, detokenizes and returns what every request produced.
class Engine {
 public:
  explicit Engine(const EngineConfig& config);
  ~Engine();

  const ModelConfig& model_config() const { return model_config_; }
  const EngineLimits& limits() const { return limits_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  std::int64_t num_kv_blocks() const { return blocks_->num_blocks(); }
  DType compute_dtype() const { return backend_->compute_dtype(); }
  const std::vector<TokenId>& eos_token_ids() const { return eos_ids_; }

  // Throws llmctl::Error (vLLM's wording) for a request the engine cannot run. Safe to call from any
  // thread: it reads only what is fixed at construction.
  void validate(const EngineRequest& request) const;

  void add(EngineRequest request);  // validates first
  void abort(const std::string& request_id);  // its final output comes from the next step()
  bool has_unfinished() const { return !requests_.empty(); }
  std::vector<RequestOutput> step();

  // With EngineConfig::profile, the GPU time of each kind of operation so far (Backend::operation_times).
  std::vector<OperationTime> operation_times() const { return backend_->operation_times(); }

  EngineStats stats() const;  // the state after the latest step, and the totals so far

  const Scheduler& scheduler() const { return *scheduler_; }
  const BlockManager& block_manager() const { return *blocks_; }

 private:
  struct Request;
  struct SequenceState;

  // The tokens a sequence may not sample after `output_tokens` tokens of output (min_tokens).
  std::vector<TokenId> banned_tokens(const SamplingParams& params, std::int64_t output_tokens) const;
  // The row of `state` for Backend::start_sampling, its bans and penalties appended to `adjustments`;
  // nullopt where the host sampler must take it (logprobs, or no room left for its adjustments).
  std::optional<Backend::DeviceSample> device_sample(SequenceState& state, std::int32_t row,
                                                     std::vector<Backend::SampleAdjustment>& adjustments) const;
  std::vector<SampledToken> sample_on_host(const Tensor& logits, std::span<const std::int32_t> rows,
                                           std::span<SequenceState* const> sequences);
  void finish_sequence(SequenceState& state, FinishReason reason, CompletionUpdate& update);
  void process_token(SequenceState& state, const SampledToken& sampled, CompletionUpdate& update);

  ModelConfig model_config_;
  EngineLimits limits_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<TokenId> eos_ids_;  // the first is the tokenizer's EOS; all end generation
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<DecoderModel> model_;
  std::vector<LayerKvCache> kv_cache_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<std::string, std::unique_ptr<Request>> requests_;
  std::vector<std::string> aborted_;
  std::uint64_t engine_seed_;
  SequenceId next_sequence_id_ = 1;
  std::int64_t prompt_tokens_computed_ = 0;
  std::int64_t generation_tokens_ = 0;
  std::int64_t num_steps_ = 0;
  StepBatch batch_;
  // The sequences of each draw started and not yet learned (Backend::start_sampling), oldest first, in
  // row order; null where one finished meanwhile. At most two: this step's and the one before.
  std::deque<std::vector<SequenceState*>> draws_;
  std::vector<Backend::SampleAdjustment> adjustments_;  // this step's draw's bans and penalties
  std::vector<float> host_logits_;  // rows the host sampler needs
};

}  // namespace llmctl::engine
