// On the GPU machine: the two attention kernels (kernels/paged_attention.cu for single tokens and
// kernels/prefill_attention.cu for prefill tiles) against a float64 reference on the CPU, on fresh random
// inputs: prefill chunks after cached prefixes, block tables in random order, cache blocks of 1 to 256
// tokens, GQA ratios 1 to 16, head dims 16 to 256, contexts from 1 to 32k, with and without a sliding
// window. ‖out − ref‖ / ‖ref‖ must stay under 1e-2 (bf16 output). Each case runs twice: every token
// through the paged kernel over a complete cache, and as the CUDA backend runs a step, where the decode
// tokens' own keys are not cached yet and the paged kernel rotates and caches them (its cos_sin): their
// cache slots must then hold them, a padding token's (slot -1) must stay untouched, and nothing else
// in the cache may change.
// Without a GPU it exits 77 (ctest: skipped).
#include "gpu_test_support.hpp"
#include "kernels.hpp"
#include "weights/dtype_convert.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

namespace {

using namespace llmctl;
using gpu_test::check;
using gpu_test::to_device;
using kernels::Heads;

int failures = 0;

struct Sequence {
  int cached;  // tokens already in the cache before this step
  int chunk;   // new tokens this step
};

// Element d of `head` rotated as kernels/common.cuh's rotated() does, in f32 and rounded to bf16.
std::uint16_t rotated(const std::uint16_t* head, const float* angles, int d, int dim) {
  const int half = dim / 2, i = d % half;
  const float x = engine::bf16_to_float(head[d]);
  const float partner = engine::bf16_to_float(head[d < half ? d + half : d - half]);
  return engine::float_to_bf16(d < half ? x * angles[i] - partner * angles[half + i]
                                        : x * angles[i] + partner * angles[half + i]);
}

void run_case(const Heads& heads, std::int64_t window, const std::vector<Sequence>& sequences, std::mt19937& random,
              int block_size = 16) {
  const int dim = heads.head_dim;
  const std::int64_t row_width = static_cast<std::int64_t>(heads.q_heads + 2 * heads.kv_heads) * dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * dim;
  int max_blocks = 0, total_blocks = 0, tokens = 0;
  for (const auto& s : sequences) {
    max_blocks = std::max(max_blocks, (s.cached + s.chunk + block_size - 1) / block_size);
    total_blocks += (s.cached + s.chunk + block_size - 1) / block_size;
    tokens += s.chunk;
  }
  // A padding token of a CUDA graph's batch comes last: position 0 of a block of its own, slot -1.
  total_blocks += 1;
  max_blocks = std::max(max_blocks, 1);
  std::vector<std::int32_t> blocks(static_cast<std::size_t>(total_blocks));
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), random);
  std::vector<std::int32_t> tables((sequences.size() + 1) * static_cast<std::size_t>(max_blocks), -1), positions,
      token_sequence, single_rows, prefill_rows, context_lens;
  std::vector<std::int64_t> slots;
  std::vector<kernels::PrefillTile> tiles;
  std::size_t next_block = 0;
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const int context = sequences[s].cached + sequences[s].chunk;
    for (int b = 0; b < (context + block_size - 1) / block_size; ++b) tables[s * static_cast<std::size_t>(max_blocks) + static_cast<std::size_t>(b)] = blocks[next_block++];
    const auto first = static_cast<std::int32_t>(positions.size());
    for (int p = sequences[s].cached; p < context; ++p) {
      positions.push_back(p);
      token_sequence.push_back(static_cast<std::int32_t>(s));
      slots.push_back(static_cast<std::int64_t>(tables[s * static_cast<std::size_t>(max_blocks) + static_cast<std::size_t>(p / block_size)]) * block_size + p % block_size);
    }
    if (sequences[s].chunk == 1) single_rows.push_back(first);
    if (sequences[s].chunk > 1) {
      for (int t = 0; t < sequences[s].chunk; ++t) prefill_rows.push_back(first + t);
      for (int t = 0; t < kernels::prefill_tiles(sequences[s].chunk, heads); ++t)
        tiles.push_back({static_cast<std::int32_t>(s), first, sequences[s].chunk, t * kernels::kPrefillTileRows});
    }
    context_lens.push_back(context);
  }
  const auto padding_sequence = sequences.size();
  const std::int32_t padding_block = blocks[next_block];
  tables[padding_sequence * static_cast<std::size_t>(max_blocks)] = padding_block;
  single_rows.push_back(tokens);
  positions.push_back(0);
  token_sequence.push_back(static_cast<std::int32_t>(padding_sequence));
  slots.push_back(-1);
  context_lens.push_back(1);
  ++tokens;
  // Random bf16 inputs; the whole cache (cached and new tokens) holds keys and values.
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random_bf16 = [&](std::size_t count) {
    std::vector<std::uint16_t> v(count);
    for (auto& x : v) x = engine::float_to_bf16(normal(random));
    return v;
  };
  auto qkv = random_bf16(static_cast<std::size_t>(tokens * row_width));
  auto keys = random_bf16(static_cast<std::size_t>(total_blocks * block_size) * static_cast<std::size_t>(kv_width));
  auto values = random_bf16(keys.size());
  // The decode tokens' rows as the qkv projection leaves them (unrotated); the rotated ones, in qkv, are
  // what the reference attends with, their k and v also in their cache slots (for the padding token: the
  // first of its block, where the reference finds them).
  std::uniform_real_distribution<float> turn(-3.2f, 3.2f);
  const int max_position = *std::max_element(positions.begin(), positions.end());
  std::vector<float> cos_sin(static_cast<std::size_t>(max_position + 1) * dim);
  for (int p = 0; p <= max_position; ++p)
    for (int i = 0; i < dim / 2; ++i) {
      const float angle = turn(random);
      cos_sin[static_cast<std::size_t>(p * dim + i)] = std::cos(angle);
      cos_sin[static_cast<std::size_t>(p * dim + dim / 2 + i)] = std::sin(angle);
    }
  const auto unrotated = qkv;
  std::vector<std::int64_t> new_key_rows;  // cache rows of the decode tokens' own keys, but the padding's
  // How far the kernel's rotated keys may be from these: one bf16 step, or, where the two products of a
  // pair cancel, their float rounding (the GPU may fuse one into a multiply-add).
  std::vector<float> key_tolerance(keys.size(), 0.0f);
  for (const int t : single_rows) {
    const auto row = static_cast<std::size_t>(t * row_width);
    const float* angles = cos_sin.data() + static_cast<std::size_t>(positions[static_cast<std::size_t>(t)]) * dim;
    for (int h = 0; h < heads.q_heads + heads.kv_heads; ++h)
      for (int d = 0; d < dim; ++d)
        qkv[row + static_cast<std::size_t>(h * dim + d)] = rotated(unrotated.data() + row + h * dim, angles, d, dim);
    const auto slot = slots[static_cast<std::size_t>(t)];
    const std::int64_t cache_row = slot >= 0 ? slot : static_cast<std::int64_t>(padding_block) * block_size;
    if (slot >= 0) new_key_rows.push_back(slot);
    const auto k = qkv.begin() + static_cast<std::ptrdiff_t>(row) + heads.q_heads * dim;
    const auto cached = static_cast<std::ptrdiff_t>(cache_row * kv_width);
    std::copy_n(k, kv_width, keys.begin() + cached);
    std::copy_n(k + kv_width, kv_width, values.begin() + cached);
    for (std::int64_t i = 0; i < kv_width; ++i) {
      const std::uint16_t* raw = unrotated.data() + row + heads.q_heads * dim + i / dim * dim;
      const int d = static_cast<int>(i % dim), partner = d < dim / 2 ? d + dim / 2 : d - dim / 2;
      key_tolerance[static_cast<std::size_t>(cached + i)] =
          std::abs(engine::bf16_to_float(keys[static_cast<std::size_t>(cached + i)])) * 0x1p-7f +
          (std::abs(engine::bf16_to_float(raw[d])) + std::abs(engine::bf16_to_float(raw[partner]))) * 0x1p-20f;
    }
  }
  std::vector<std::int32_t> all_rows(static_cast<std::size_t>(tokens));
  std::iota(all_rows.begin(), all_rows.end(), 0);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));

  // float64 reference
  std::vector<double> reference(static_cast<std::size_t>(tokens) * heads.q_heads * dim);
  for (int t = 0; t < tokens; ++t) {
    const auto s = static_cast<std::size_t>(token_sequence[static_cast<std::size_t>(t)]);
    const int position = positions[static_cast<std::size_t>(t)];
    const int first = window > 0 ? std::max(0, position - static_cast<int>(window) + 1) : 0;
    for (int h = 0; h < heads.q_heads; ++h) {
      const int kvh = h / (heads.q_heads / heads.kv_heads);
      std::vector<double> scores;
      double top = -1e300;
      for (int j = first; j <= position; ++j) {
        const std::int64_t slot = static_cast<std::int64_t>(tables[s * static_cast<std::size_t>(max_blocks) + static_cast<std::size_t>(j / block_size)]) * block_size + j % block_size;
        double dot = 0;
        for (int d = 0; d < dim; ++d)
          dot += static_cast<double>(engine::bf16_to_float(qkv[static_cast<std::size_t>(t * row_width + h * dim + d)])) *
                 engine::bf16_to_float(keys[static_cast<std::size_t>(slot * kv_width + kvh * dim + d)]);
        scores.push_back(dot * scale);
        top = std::max(top, dot * scale);
      }
      double total = 0;
      for (auto& x : scores) total += (x = std::exp(x - top));
      for (int d = 0; d < dim; ++d) {
        double acc = 0;
        for (int j = first; j <= position; ++j) {
          const std::int64_t slot = static_cast<std::int64_t>(tables[s * static_cast<std::size_t>(max_blocks) + static_cast<std::size_t>(j / block_size)]) * block_size + j % block_size;
          acc += scores[static_cast<std::size_t>(j - first)] * engine::bf16_to_float(values[static_cast<std::size_t>(slot * kv_width + kvh * dim + d)]);
        }
        reference[(static_cast<std::size_t>(t) * heads.q_heads + static_cast<std::size_t>(h)) * dim + static_cast<std::size_t>(d)] = acc / total;
      }
    }
  }

  // The cache as a step finds it: the decode tokens' own keys and values, and the padding token's, not
  // written yet (NaN in bf16).
  constexpr std::uint16_t kPoison = 0xffff;
  auto step_keys = keys, step_values = values;
  const std::vector<std::int64_t> padding_row{static_cast<std::int64_t>(padding_block) * block_size};
  for (const auto& rows : {new_key_rows, padding_row})
    for (const auto row : rows) {
      const auto at = static_cast<std::ptrdiff_t>(row * kv_width);
      std::fill_n(step_keys.begin() + at, kv_width, kPoison);
      std::fill_n(step_values.begin() + at, kv_width, kPoison);
    }

  auto* d_qkv = to_device(qkv);
  auto* d_keys = to_device(keys);
  auto* d_values = to_device(values);
  auto* d_step_qkv = to_device(unrotated);
  auto* d_step_keys = to_device(step_keys);
  auto* d_step_values = to_device(step_values);
  auto* d_cos_sin = to_device(cos_sin);
  auto* d_positions = to_device(positions);
  auto* d_sequence = to_device(token_sequence);
  auto* d_tables = to_device(tables);
  auto* d_slots = to_device(slots);
  auto* d_context = to_device(context_lens);
  auto* d_rows = to_device(all_rows);
  auto* d_prefill_rows = to_device(prefill_rows);
  auto* d_tiles = to_device(tiles);
  auto* d_single = to_device(single_rows);
  std::uint16_t* d_out = nullptr;
  const std::size_t out_count = static_cast<std::size_t>(tokens) * heads.q_heads * dim;
  check(cudaMalloc(reinterpret_cast<void**>(&d_out), out_count * 2), "cudaMalloc");
  const kernels::StepView view{nullptr, d_positions, d_slots, d_sequence, d_context, d_tables, max_blocks, block_size, tokens};
  constexpr std::size_t kWorkspace = 16ull << 20;  // as the CUDA backend gives it
  float* d_workspace = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&d_workspace), kWorkspace), "cudaMalloc");
  constexpr auto bf16 = kernels::Element::bf16;

  for (const bool as_step : {false, true}) {
    check(cudaMemset(d_out, 0xff, out_count * 2), "poison");  // every element must be written
    if (!as_step) {
      kernels::paged_attention(bf16, d_qkv, row_width, heads, d_keys, d_values, view, nullptr, d_rows, tokens, scale,
                               window, d_out, d_workspace, kWorkspace, nullptr);
    } else {  // as the CUDA backend runs a step: prefill chunks by tiles (or token by token), decodes fused
      if (kernels::tensor_core_attention_supports(dim))
        kernels::prefill_attention(bf16, d_step_qkv, row_width, heads, d_step_keys, d_step_values, view, d_tiles,
                                   static_cast<std::int64_t>(tiles.size()), scale, window, d_out, nullptr);
      else
        kernels::paged_attention(bf16, d_step_qkv, row_width, heads, d_step_keys, d_step_values, view, nullptr,
                                 d_prefill_rows, static_cast<std::int64_t>(prefill_rows.size()), scale, window, d_out,
                                 d_workspace, kWorkspace, nullptr);
      kernels::paged_attention(bf16, d_step_qkv, row_width, heads, d_step_keys, d_step_values, view, d_cos_sin,
                               d_single, static_cast<std::int64_t>(single_rows.size()), scale, window, d_out,
                               d_workspace, kWorkspace, nullptr);
    }
    check(cudaDeviceSynchronize(), "kernel");
    std::vector<std::uint16_t> out(out_count);
    check(cudaMemcpy(out.data(), d_out, out_count * 2, cudaMemcpyDeviceToHost), "download");
    double error = 0, norm = 0;
    for (std::size_t i = 0; i < out_count; ++i) {
      const double diff = engine::bf16_to_float(out[i]) - reference[i];
      error += diff * diff;
      norm += reference[i] * reference[i];
    }
    const double relative = std::sqrt(error / norm);
    // The step's cache: the reference's, but the padding token's row still poisoned, and the new keys
    // within key_tolerance.
    std::size_t cache_errors = 0;
    if (as_step) {
      std::vector<std::uint16_t> got_keys(keys.size()), got_values(values.size());
      check(cudaMemcpy(got_keys.data(), d_step_keys, keys.size() * 2, cudaMemcpyDeviceToHost), "download");
      check(cudaMemcpy(got_values.data(), d_step_values, values.size() * 2, cudaMemcpyDeviceToHost), "download");
      auto want_keys = keys, want_values = values;
      const auto at = static_cast<std::ptrdiff_t>(padding_row[0] * kv_width);
      std::fill_n(want_keys.begin() + at, kv_width, kPoison);
      std::fill_n(want_values.begin() + at, kv_width, kPoison);
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const float got = engine::bf16_to_float(got_keys[i]), want = engine::bf16_to_float(want_keys[i]);
        const bool key_ok = got_keys[i] == want_keys[i] || std::abs(got - want) <= key_tolerance[i];
        cache_errors += (key_ok ? 0 : 1) + (got_values[i] == want_values[i] ? 0 : 1);
      }
    }
    const bool ok = relative < 1e-2 && cache_errors == 0;  // NaN fails too
    failures += ok ? 0 : 1;
    std::printf("%s %-5s D=%-3d q=%-2d kv=%-2d window=%-4lld block=%-3d tokens=%-4d rel.err %.2e cache errors %zu\n",
                ok ? "ok  " : "FAIL", as_step ? "step" : "paged", dim, heads.q_heads, heads.kv_heads,
                static_cast<long long>(window), block_size, tokens, relative, cache_errors);
  }
  for (void* p : std::initializer_list<void*>{d_qkv, d_keys, d_values, d_step_qkv, d_step_keys, d_step_values,
                                              d_cos_sin, d_positions, d_sequence, d_tables, d_slots, d_context, d_rows,
                                              d_prefill_rows, d_tiles, d_single, d_out, d_workspace})
    cudaFree(p);
}

}  // namespace

int main() {
  if (!gpu_test::gpu_present()) return 77;
  std::mt19937 random(std::random_device{}());  // fresh inputs on every run
  const std::vector<Sequence> mixed = {{0, 200}, {100, 37}, {5, 64}, {0, 1}, {300, 130}};
  for (const Heads heads : {Heads{28, 4, 128}, Heads{8, 8, 64}, Heads{32, 4, 128}, Heads{16, 2, 64}, Heads{32, 2, 128}})
    for (const std::int64_t window : {0, 48}) run_case(heads, window, mixed, random);
  run_case({28, 4, 128}, 0, {{0, 2048}}, random);
  // Enough single tokens that the decode kernel serves a group of q heads per block.
  std::vector<Sequence> decodes(160, Sequence{0, 1});
  for (std::size_t i = 0; i < decodes.size(); ++i) decodes[i].cached = static_cast<int>(i * 13 % 700);
  for (const Heads heads : {Heads{28, 4, 128}, Heads{32, 2, 128}, Heads{8, 8, 64}}) run_case(heads, 0, decodes, random);
  // A few single tokens with contexts from 1 to 32k: their contexts are split over many blocks and
  // merged. Head dims beyond the tensor-core kernel's go to the paged kernel for prefill tokens too.
  const std::vector<Sequence> long_decodes = {{0, 1}, {16, 1}, {63, 1}, {4099, 1}, {32767, 1}};
  for (const Heads heads : {Heads{28, 4, 128}, Heads{16, 16, 64}, Heads{16, 2, 256}, Heads{8, 2, 96}})
    for (const std::int64_t window : {0, 1000}) run_case(heads, window, long_decodes, random);
  for (const Heads heads : {Heads{4, 2, 16}, Heads{8, 1, 32}, Heads{16, 2, 256}, Heads{14, 2, 80}})
    run_case(heads, 0, mixed, random);
  // Cache blocks smaller and larger than the kernels' key tiles (16 and 64 keys).
  for (const int block_size : {1, 8, 32, 256})
    for (const Heads heads : {Heads{28, 4, 128}, Heads{16, 2, 64}, Heads{14, 2, 80}}) {
      run_case(heads, 0, mixed, random, block_size);
      run_case(heads, 0, long_decodes, random, block_size);
    }
  std::printf("%s\n", failures == 0 ? "all passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
