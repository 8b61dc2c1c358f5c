// On the GPU machine: the two attention kernels (kernels/paged_attention.cu for single tokens and
// kernels/prefill_attention.cu for prefill tiles) against a float64 reference on the CPU, on fresh random
// inputs: prefill chunks after cached prefixes, block tables in random order, cache blocks of 1 to 256
// tokens, GQA ratios 1 to 16, head dims 16 to 256, contexts from 1 to 32k, with and without a sliding
// window. ‖out − ref‖ / ‖ref‖ must stay under 1e-2 (bf16 output).
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
  std::vector<std::int32_t> blocks(static_cast<std::size_t>(total_blocks));
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), random);
  std::vector<std::int32_t> tables(sequences.size() * static_cast<std::size_t>(max_blocks), -1), positions, token_sequence,
      single_rows, context_lens;
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
    if (sequences[s].chunk > 1)
      for (int t = 0; t < kernels::prefill_tiles(sequences[s].chunk, heads); ++t)
        tiles.push_back({static_cast<std::int32_t>(s), first, sequences[s].chunk, t * kernels::kPrefillTileRows});
    context_lens.push_back(context);
  }
  // Random bf16 inputs; the whole cache (cached and new tokens) holds keys and values.
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random_bf16 = [&](std::size_t count) {
    std::vector<std::uint16_t> v(count);
    for (auto& x : v) x = engine::float_to_bf16(normal(random));
    return v;
  };
  const auto qkv = random_bf16(static_cast<std::size_t>(tokens * row_width));
  const auto keys = random_bf16(static_cast<std::size_t>(total_blocks * block_size) * static_cast<std::size_t>(kv_width));
  const auto values = random_bf16(keys.size());
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

  auto* d_qkv = to_device(qkv);
  auto* d_keys = to_device(keys);
  auto* d_values = to_device(values);
  auto* d_positions = to_device(positions);
  auto* d_sequence = to_device(token_sequence);
  auto* d_tables = to_device(tables);
  auto* d_slots = to_device(slots);
  auto* d_context = to_device(context_lens);
  auto* d_rows = to_device(all_rows);
  auto* d_tiles = to_device(tiles);
  auto* d_single = to_device(single_rows);
  std::uint16_t* d_out = nullptr;
  const std::size_t out_count = static_cast<std::size_t>(tokens) * heads.q_heads * dim;
  check(cudaMalloc(reinterpret_cast<void**>(&d_out), out_count * 2), "cudaMalloc");
  const kernels::StepView view{nullptr, d_positions, d_slots, d_sequence, d_context, d_tables, max_blocks, block_size, tokens};
  constexpr std::size_t kWorkspace = 16ull << 20;  // as the CUDA backend gives it
  float* d_workspace = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&d_workspace), kWorkspace), "cudaMalloc");

  for (const bool tensor_cores : {false, true}) {
    if (tensor_cores && !kernels::tensor_core_attention_supports(dim)) continue;
    check(cudaMemset(d_out, 0xff, out_count * 2), "poison");  // NaN in bf16: every element must be written
    if (tensor_cores) {  // as the CUDA backend runs them: tiles for prefill chunks, single tokens apart
      kernels::prefill_attention(kernels::Element::bf16, d_qkv, row_width, heads, d_keys, d_values, view, d_tiles,
                                 static_cast<std::int64_t>(tiles.size()), scale, window, d_out, nullptr);
      kernels::paged_attention(kernels::Element::bf16, d_qkv, row_width, heads, d_keys, d_values, view, d_single,
                               static_cast<std::int64_t>(single_rows.size()), scale, window, d_out, d_workspace,
                               kWorkspace, nullptr);
    } else
      kernels::paged_attention(kernels::Element::bf16, d_qkv, row_width, heads, d_keys, d_values, view, d_rows, tokens,
                               scale, window, d_out, d_workspace, kWorkspace, nullptr);
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
    const bool ok = relative < 1e-2;  // NaN fails too
    failures += ok ? 0 : 1;
    std::printf("%s %-8s D=%-3d q=%-2d kv=%-2d window=%-3lld block=%-3d tokens=%-4d rel.err %.2e\n", ok ? "ok  " : "FAIL",
                tensor_cores ? "prefill" : "paged", dim, heads.q_heads, heads.kv_heads, static_cast<long long>(window),
                block_size, tokens, relative);
  }
  for (void* p : std::initializer_list<void*>{d_qkv, d_keys, d_values, d_positions, d_sequence, d_tables, d_slots, d_context,
                                              d_rows, d_tiles, d_single, d_out, d_workspace})
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
