#pragma once

#include "backend/tensor.hpp"
#include "runtime/step_batch.hpp"
#include "weights/host_tensor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// Where a layer's keys and values of every cached token live: [slots, kv heads * head dim] each, slot =
// block * block_size + offset.
struct LayerKvCache {
  Tensor keys;
  Tensor values;
};

// The head layout of a fused q|k|v activation row: q heads, then k heads, then v heads.
struct HeadLayout {
  std::int64_t q_heads;
  std::int64_t kv_heads;
  std::int64_t head_dim;

  std::int64_t q_width() const { return q_heads * head_dim; }
  std::int64_t kv_width() const { return kv_heads * head_dim; }
};

// The largest step a backend prepares for: it sizes its per-step buffers once, from these.
struct StepLimits {
  std::int64_t max_tokens;
  std::int64_t max_sequences;
  std::int64_t max_blocks_per_sequence;
};

// GPU time spent in one kind of operation (a GEMM shape counts as its own kind), over the steps run
// while profiling was on.
struct OperationTime {
  std::string name;
  std::int64_t calls = 0;
  double milliseconds = 0.0;
};

// The operations the model forward is written against (libengine/model/decoder_model.cpp). Each backend
// implements them for its memory: the CPU backend plainly in fp32, the CUDA backend with fused kernels.
// Activations use compute_dtype(); logits are always f32. All operations on one backend run in order.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual DType compute_dtype() const = 0;

  // A zero-filled tensor.
  virtual Tensor allocate(DType dtype, std::int64_t rows, std::int64_t cols) = 0;
  // Copies `source` (any float dtype, converted) into rows [first_row, ...) of `destination`; the
  // source's elements must fill whole rows.
  virtual void upload(const Tensor& destination, std::int64_t first_row, const HostTensor& source) = 0;
  // Copies an f32 tensor to host memory (waiting for the work before it).
  virtual void download(const Tensor& source, std::span<float> destination) = 0;

  // Fills `tensor` with values drawn uniformly from [low, high) by a hash of (seed, element index):
  // vLLM's --load-format dummy, without a trip through host memory.
  virtual void fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) = 0;

  // Free and total bytes of device memory; nullopt for host memory (the CPU backend).
  struct MemoryInfo {
    std::uint64_t free;
    std::uint64_t total;
  };
  virtual std::optional<MemoryInfo> memory_info() const = 0;

  // Sampling where the logits are, for every row that reports no logprobs, the same on every backend
  // (kernels/sampling.cu): bans and penalties change the row's logits in place; then greedy (temperature
  // 0) or a draw by the Gumbel-max trick, its noise a hash of `seed` and the token id, from
  // softmax(logits / temperature) over the tokens min_p, top_k and top_p keep. Those keep tokens by
  // value: min_p every token whose logit reaches max + temperature * ln(min_p), top_k every token at
  // least the k-th largest logit, top_p every token at least the one at which the kept probability
  // reaches top_p (ties included, as the host sampler keeps them).
  struct DeviceSample {
    std::int32_t row;  // of the logits tensor
    float temperature;
    std::uint64_t seed;
    std::int32_t top_k = 0;  // 0: off
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    std::int32_t adjustments_begin = 0;  // the row's SampleAdjustments, one per distinct token
    std::int32_t adjustments_count = 0;
    // -1, or the row of the latest draw (the one before this) whose token is the row's last output
    // token, which the host does not know yet: the penalties count it.
    std::int32_t pending = -1;

    // Whether min_p, top_k or top_p apply (a greedy row ignores them).
    bool filtered(std::int64_t vocab) const {
      return temperature > 0.0f && ((top_k > 0 && top_k < vocab) || top_p < 1.0f || min_p > 0.0f);
    }
  };
  // A token of a row that is banned (to -inf) or penalized: the repetition penalty when it is in the
  // prompt or the output, frequency and presence by its count in the output.
  static constexpr std::uint32_t kInPrompt = 1u << 31;
  static constexpr std::uint32_t kBanned = 1u << 30;
  struct SampleAdjustment {
    std::int32_t token;
    std::uint32_t flags;  // output count (below kBanned) | kInPrompt | kBanned
  };
  struct DeviceSampled {
    std::int32_t token;
  };
  // start_sampling() enqueues the draw behind the step's work and returns at once, so that the host can
  // prepare the next step meanwhile; finish_sampling() waits for the oldest started draw not yet finished
  // and returns its results, one per row in order, valid until the next start_sampling(). At most two
  // draws are outstanding. The next step may take a drawn token as input before the host knows it: a
  // token id -(j + 1) in StepBatch::token_ids stands for row j's result of the latest start_sampling().
  // The CUDA backend takes at most max_sample_adjustments(max_sequences) adjustments a draw
  // (runtime/forward_workspace.hpp).
  virtual void start_sampling(const Tensor& logits, std::span<const DeviceSample> rows,
                              std::span<const SampleAdjustment> adjustments) = 0;
  virtual std::span<const DeviceSampled> finish_sampling() = 0;
  // Copies rows of an f32 tensor to host memory, one after another.
  virtual void download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) = 0;

  // Called once, before the first step, with the largest step, the model's heads and its vocabulary size.
  virtual void reserve_steps(const StepLimits& limits, const HeadLayout& heads, std::int64_t vocab_size) = 0;
  // Called once at the start of each forward step, before the operations that read `batch` (the CUDA
  // backend copies its token ids, positions, slots and block tables to the device here).
  virtual void prepare_step(const StepBatch& batch) = 0;
  // Runs `enqueue`, a sequence of this backend's operations, as one CUDA graph on backends that have
  // them: captured at the first call with `key`, replayed at later ones. Whatever the operations take
  // from the host (shapes, counts) must therefore depend on `key` alone; what they read on the device
  // (the step's metadata, activations) may change. Other backends, and profiling, just run it.
  virtual void run_graph(std::int64_t key, const std::function<void()>& enqueue) = 0;
  // Captures `enqueue` as run_graph(key) would at its first call, without running it, so that no step
  // pays for the capture. Other backends, and profiling, do nothing.
  virtual void capture_graph(std::int64_t key, const std::function<void()>& enqueue) = 0;

  // Per-operation GPU timing (device events around each operation; steps run eagerly meanwhile).
  // Backends without it throw llmctl::Error from set_profiling(true).
  virtual void set_profiling(bool on) = 0;
  virtual std::vector<OperationTime> operation_times() const = 0;

  // out[t] = table[token_ids[t]], a negative id naming a drawn token (start_sampling)
  virtual void embed(const Tensor& table, const StepBatch& batch, const Tensor& out) = 0;
  // out = x / rms(x) * weight, per row
  virtual void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) = 0;
  // residual += x; out = rms_norm(residual)
  virtual void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                            const Tensor& out) = 0;
  // out = x · weightᵀ (+ bias): x [rows, in], weight [out, in], bias [1, out] or empty.
  virtual void linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) = 0;
  // RMSNorm over each q head and each k head of a fused qkv activation (Qwen3's q_norm and k_norm).
  virtual void head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight,
                             const Tensor& k_weight, float eps) = 0;
  // One layer's attention over the fused qkv activation of the step's new tokens: rotates their q and k
  // heads by each token's position (Hugging Face's rotate_half layout; `cos_sin` is [positions, head_dim]:
  // head_dim / 2 cosines then head_dim / 2 sines), writes each token's k and v heads to its slot of the
  // cache (none for slot -1: padding), then attends causally over its sequence's cached tokens (positions
  // [position - window + 1, position] when `sliding_window` > 0). out: [tokens, q heads * head dim]. qkv is
  // scratch afterwards (rotated or not).
  virtual void attention(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin, const LayerKvCache& cache,
                         const StepBatch& batch, float scale, std::int64_t sliding_window, const Tensor& out) = 0;
  // The MLP's first half: gate_up = x · weightᵀ (+ bias), [gate | up] per row, then out = silu(gate) * up.
  // gate_up is scratch that a backend may leave unwritten (the CUDA backend fuses both for 1 or 2 rows).
  virtual void linear_silu_mul(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& gate_up,
                               const Tensor& out) = 0;
  // add_rms_norm into `normed`, then linear (or linear_silu_mul) of it: a backend may fuse them and leave
  // `normed` unwritten (the CUDA backend does for 1 or 2 rows on sm_90). These compose the two.
  virtual void add_rms_norm_linear(const Tensor& residual, const Tensor& x, const Tensor& norm_weight, float eps,
                                   const Tensor& normed, const Tensor& weight, const Tensor& bias, const Tensor& out);
  virtual void add_rms_norm_linear_silu_mul(const Tensor& residual, const Tensor& x, const Tensor& norm_weight,
                                            float eps, const Tensor& normed, const Tensor& weight, const Tensor& bias,
                                            const Tensor& gate_up, const Tensor& out);
  // out[i] = x[batch.logit_rows[i]]: the rows whose logits are wanted.
  virtual void gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) = 0;
};

// The value fill_uniform() puts at `index`: the same on every backend.
float uniform_at(std::uint64_t seed, std::uint64_t index, float low, float high);

// The number of elements of `source`, checked to fill whole rows of `destination` from `first_row` on
// (llmctl::Error otherwise): the common part of every backend's upload().
std::size_t upload_elements(const Tensor& destination, std::int64_t first_row, const HostTensor& source);

// "cpu" (f32) or "cuda" (computing in `cuda_dtype`, bf16 or f16); llmctl::Error for another name, a
// backend this build lacks, or no GPU.
std::unique_ptr<Backend> make_backend(std::string_view device, DType cuda_dtype);

}  // namespace llmctl::engine
