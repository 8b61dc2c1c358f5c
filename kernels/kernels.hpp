#pragma once

// Host entry points of the CUDA kernels, callable from plain C++ (no CUDA syntax here). Every function
// enqueues work on `stream` and returns at once; errors of the launch are thrown as std::runtime_error.
// Matrices are row-major; activations and weights are bf16 or fp16 (`Element`), accumulation is f32.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace llmctl::kernels {

enum class Element { bf16, f16 };

// Where one step's tokens and sequences are, in device memory (uploaded once per step).
struct StepView {
  const std::int32_t* token_ids;
  const std::int32_t* positions;
  const std::int64_t* slot_mapping;    // -1: write nothing (padding)
  const std::int32_t* token_sequence;  // the sequence of each token
  const std::int32_t* context_lens;    // per sequence
  const std::int32_t* block_tables;    // sequences x max_blocks_per_seq, valid up to each context
  std::int32_t max_blocks_per_seq;
  std::int32_t block_size;             // a power of two
  std::int32_t num_tokens;
};

struct Heads {
  int q_heads;
  int kv_heads;
  int head_dim;
};

struct SampleResult;
// out[t] = table[id], id = step.token_ids[t], or drawn[-id - 1].token where it is negative: a token the
// previous step drew on the device, which the host does not know yet.
void embed(Element e, const void* table, std::int64_t width, const StepView& step, const SampleResult* drawn, void* out,
           cudaStream_t stream);
void rms_norm(Element e, const void* x, const void* weight, float eps, std::int64_t rows, std::int64_t cols, void* out,
              cudaStream_t stream);
// residual += x; out = rms_norm(residual)
void add_rms_norm(Element e, void* residual, const void* x, const void* weight, float eps, std::int64_t rows,
                  std::int64_t cols, void* out, cudaStream_t stream);
void head_rms_norm(Element e, void* qkv, std::int64_t rows, std::int64_t row_width, const Heads& heads,
                   const void* q_weight, const void* k_weight, float eps, cudaStream_t stream);
// Rotates the q and k heads of the tokens `token_rows` (count of them) in place by their positions (cos_sin:
// [positions, head_dim] f32, cosines then sines), then writes their k and v to their cache slots (none
// for slot -1).
void rotary_write_kv(Element e, void* qkv, std::int64_t row_width, const Heads& heads, const float* cos_sin,
                     void* keys, void* values, const StepView& step, const std::int32_t* token_rows, std::int64_t count,
                     cudaStream_t stream);
// Causal attention of the tokens `token_rows` (count of them) over their sequences' cached keys and
// values (a window when > 0): a block per token, kv head and split of the context. Few tokens with
// long contexts are split over more blocks, their partial results merged through `workspace` (as many
// splits as fit in it; none without one). Head dims: multiples of 8 up to 256.
// With `cos_sin`, the tokens are decodes (each its sequence's only new token) whose qkv rows are not
// rotated yet: the kernel does rotary_write_kv's work for them (their qkv rows stay as they are), which
// saves a kernel and lets it load cached keys before the qkv projection has finished. Without, the
// cache holds every key the tokens attend to.
void paged_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, void* keys, void* values,
                     const StepView& step, const float* cos_sin, const std::int32_t* token_rows,
                     std::int64_t count, float scale, std::int64_t sliding_window, void* out, float* workspace,
                     std::size_t workspace_bytes, cudaStream_t stream);

// Flattened (token, q head) rows of one kv head per tile: tile t of a chunk starts at row t * kPrefillTileRows.
constexpr std::int32_t kPrefillTileRows = 128;
// kPrefillTileRows query rows of one sequence's prefill chunk, where a chunk of n tokens has
// n x (q heads per kv head) rows: (token, q head) pairs of one kv head, flattened token-major.
struct PrefillTile {
  std::int32_t sequence;
  std::int32_t first_token;  // the chunk's first row of the step
  std::int32_t count;        // tokens in the chunk
  std::int32_t first_flat;   // the tile's first flattened row
};
// The number of tiles of a chunk of `tokens` tokens.
inline std::int32_t prefill_tiles(std::int32_t tokens, const Heads& heads) {
  return (tokens * (heads.q_heads / heads.kv_heads) + kPrefillTileRows - 1) / kPrefillTileRows;
}
// Whether attention runs on the tensor cores for this head dim on the current GPU: head dims 64 and 128
// on sm_80 and later. Then prefill chunks go to prefill_attention and paged_attention takes its mma kernel.
bool tensor_core_attention_supports(int head_dim);
// The same attention for prefill chunks on the tensor cores, one block per tile and kv head.
void prefill_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys,
                       const void* values, const StepView& step, const PrefillTile* tiles, std::int64_t count, float scale,
                       std::int64_t sliding_window, void* out, cudaStream_t stream);
void silu_mul(Element e, const void* gate_up, std::int64_t rows, std::int64_t width, void* out, cudaStream_t stream);
// out = x · weightᵀ (+ bias) for at most kSkinnyRows rows of x (decoding one or two sequences), at the memory
// bandwidth; `in` a multiple of 8, x and weight 16-byte aligned (skinny_gemm_supports). out in `e` or f32.
// With a ResidualNorm the product computes its own x, as add_rms_norm would (x is then unused): residual +=
// add, x = rms_norm(residual) * weight, [rows, in] each; where skinny_gemm_fuses_norm() says so (sm_90).
// The fused products of one device must run one at a time (they share a counter).
constexpr std::int64_t kSkinnyRows = 2;
struct ResidualNorm {
  void* residual;
  const void* add;
  const void* weight;
  float eps;
};
bool skinny_gemm_supports(std::int64_t rows, std::int64_t in, const void* x, const void* weight);
// Whether skinny_gemm takes `norm` fused for this product: the shape (sm_90's bulk kernel) and 16-byte
// aligned operands.
bool skinny_gemm_fuses_norm(std::int64_t rows, std::int64_t in, const void* weight, std::int64_t features, bool silu_mul,
                            const ResidualNorm& norm);
void skinny_gemm(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* weight,
                 std::int64_t out_features, const void* bias, void* out, bool out_f32, cudaStream_t stream,
                 const ResidualNorm* norm = nullptr);
// The same product with silu_mul fused: gate_up is [gate | up], `width` rows each, and
// out = silu(x · gateᵀ) * (x · upᵀ), [rows, width].
void skinny_gemm_silu_mul(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up,
                          std::int64_t width, void* out, cudaStream_t stream, const ResidualNorm* norm = nullptr);
// silu_mul fused into the gate_up product (gate_up [gate | up], `width` rows each; out [rows, width]) on
// sm_90a, for kSwigluGemmMinRows to kSwigluGemmMaxRows rows, where it was faster than cuBLASLt and
// silu_mul apart (docs/benchmarks.md); `in` a multiple of 8, x and gate_up 16-byte aligned
// (swiglu_gemm_supports). Computes what linear then silu_mul compute, rounding the sums to `e` first.
constexpr std::int64_t kSwigluGemmMinRows = 64;
constexpr std::int64_t kSwigluGemmMaxRows = 256;
bool swiglu_gemm_supports(std::int64_t rows, std::int64_t in, std::int64_t width, const void* x, const void* gate_up,
                          const void* out);
void swiglu_gemm(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up, std::int64_t width,
                 void* out, cudaStream_t stream);
// tensor[i] = uniform_at(seed, i, low, high) of libengine/backend/backend.cpp (the same hash).
void fill_uniform(Element e, void* tensor, std::int64_t count, std::uint64_t seed, float low, float high,
                  cudaStream_t stream);
// One row to sample where the logits are, as vLLM samples it: its adjustments first (bans to -inf,
// then the repetition penalty on tokens of the prompt or output, frequency and presence penalties by
// output count), then greedy when temperature is 0, else temperature, min_p, top_k and top_p, and a
// Gumbel-max draw over the tokens they keep: argmax(logit / temperature - log(-log(u))), u a hash of
// (seed, token id). The filters keep tokens by value: min_p every token whose logit reaches
// max + temperature * ln(min_p) (and none more than 87 temperatures below the maximum, whose weight
// rounds to 0), top_k every token at least the k-th largest logit, top_p every token at least the one
// at which the kept weights reach top_p (ties included).
struct SampleRequest {
  std::int32_t row;
  float temperature;
  std::uint64_t seed;
  std::int32_t top_k = 0;  // 0: off
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  std::int32_t adjustments_begin = 0;  // the row's SampleAdjustment entries, one per distinct token
  std::int32_t adjustments_count = 0;
  // -1, or the row of the previous call's results whose token is one more output token of this row
  // (drawn by that call, not yet known to the host): penalized with the row's adjustments.
  std::int32_t pending = -1;
};
inline constexpr std::uint32_t kAdjustInPrompt = 1u << 31;
inline constexpr std::uint32_t kAdjustBanned = 1u << 30;
inline constexpr std::uint32_t kAdjustCountMask = kAdjustBanned - 1;
struct SampleAdjustment {
  std::int32_t token;
  std::uint32_t flags;  // the token's count in the output | kAdjustInPrompt | kAdjustBanned
};
struct SampleResult {
  std::int32_t token;
};
// `workspace`: sample_workspace_bytes(count or more, vocab), zeroed before the first call (each call
// leaves it ready for the next). The adjustments change `logits` in place; `results` may be
// `previous` (the pending tokens are read before any result is written). `adjusted`: some row has
// adjustments or a pending token; `filtered`: some row draws with min_p, top_k or top_p.
std::size_t sample_workspace_bytes(std::int64_t rows, std::int64_t vocab);
void sample_rows(float* logits, std::int64_t vocab, const SampleRequest* requests, std::int64_t count,
                 const SampleAdjustment* adjustments, const SampleResult* previous, bool adjusted, bool filtered,
                 SampleResult* results, void* workspace, cudaStream_t stream);
// out[i] = x[rows[i]], for rows of `row_bytes`, a multiple of 16.
void gather_rows(const void* x, std::int64_t row_bytes, const std::int32_t* rows, std::int64_t count, void* out,
                 cudaStream_t stream);

}  // namespace llmctl::kernels
