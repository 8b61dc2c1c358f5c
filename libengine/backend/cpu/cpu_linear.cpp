#include "backend/cpu/cpu_backend.hpp"

#include <algorithm>

namespace llmctl::engine {
namespace {

constexpr std::int64_t kLanes = 16;      // partial sums per dot product, vectorized by the compiler
constexpr std::int64_t kRowTile = 4;     // rows of x sharing each loaded weight row
constexpr std::int64_t kFeatureTile = 4; // weight rows sharing each loaded x row

// Dot products of up to kRowTile rows of x with up to kFeatureTile rows of the weight. Every element is
// summed in the same order (lane l takes indices l, l + 16, ...; lanes are added pairwise; then the
// tail) whatever the tile sizes, so results never depend on how a batch is tiled or threaded.
template <std::int64_t R, std::int64_t F>
void dot_tile(const float* x, std::int64_t in, const float* weight, float* sums /* R x F */) {
  float acc[R][F][kLanes] = {};
  const std::int64_t whole = in - in % kLanes;
  for (std::int64_t k = 0; k < whole; k += kLanes)
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t f = 0; f < F; ++f)
        for (std::int64_t l = 0; l < kLanes; ++l) acc[r][f][l] += x[r * in + k + l] * weight[f * in + k + l];
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t f = 0; f < F; ++f) {
      float* lanes = acc[r][f];
      for (std::int64_t width = kLanes / 2; width > 0; width /= 2)
        for (std::int64_t l = 0; l < width; ++l) lanes[l] += lanes[l + width];
      float sum = lanes[0];
      for (std::int64_t k = whole; k < in; ++k) sum += x[r * in + k] * weight[f * in + k];
      sums[r * F + f] = sum;
    }
}

template <std::int64_t R>
void row_tile(const float* x, std::int64_t rows, std::int64_t in, const float* weight, std::int64_t f0,
              std::int64_t features, const float* bias, float* out, std::int64_t out_features) {
  float sums[R * kFeatureTile];
  auto store = [&](std::int64_t count) {
    for (std::int64_t r = 0; r < std::min(R, rows); ++r)
      for (std::int64_t f = 0; f < count; ++f)
        out[r * out_features + f0 + f] = sums[r * count + f] + (bias ? bias[f0 + f] : 0.0f);
  };
  if (features == kFeatureTile) {
    dot_tile<R, kFeatureTile>(x, in, weight + f0 * in, sums);
    store(kFeatureTile);
  } else {
    for (std::int64_t f = 0; f < features; ++f) {
      float one[R];
      dot_tile<R, 1>(x, in, weight + (f0 + f) * in, one);
      for (std::int64_t r = 0; r < R; ++r) sums[r * features + f] = one[r];
    }
    store(features);
  }
}

}  // namespace

void cpu_linear(const float* x, std::int64_t rows, std::int64_t in, const float* weight, std::int64_t out_features,
                const float* bias, float* out) {
  const std::int64_t row_tiles = (rows + kRowTile - 1) / kRowTile;
  const std::int64_t feature_tiles = (out_features + kFeatureTile - 1) / kFeatureTile;
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t rt = 0; rt < row_tiles; ++rt)
    for (std::int64_t ft = 0; ft < feature_tiles; ++ft) {
      const std::int64_t r0 = rt * kRowTile;
      const std::int64_t f0 = ft * kFeatureTile;
      const std::int64_t count = std::min(kRowTile, rows - r0);
      const std::int64_t features = std::min(kFeatureTile, out_features - f0);
      const float* xr = x + r0 * in;
      float* o = out + r0 * out_features;
      switch (count) {
        case 4: row_tile<4>(xr, count, in, weight, f0, features, bias, o, out_features); break;
        case 3: row_tile<3>(xr, count, in, weight, f0, features, bias, o, out_features); break;
        case 2: row_tile<2>(xr, count, in, weight, f0, features, bias, o, out_features); break;
        default: row_tile<1>(xr, count, in, weight, f0, features, bias, o, out_features); break;
      }
    }
}

}  // namespace llmctl::engine
