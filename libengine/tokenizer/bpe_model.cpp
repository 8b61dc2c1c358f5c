#include "tokenizer/bpe_model.hpp"

#include "common/error.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>

#include <queue>

namespace llmctl::engine {
namespace {

constexpr std::size_t kCacheCapacity = 1 << 16;
constexpr std::size_t kLongestCachedPiece = 256;  // bytes

std::uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

std::string optional_string(const nlohmann::json& spec, const char* key) {
  const auto found = spec.find(key);
  return found == spec.end() || found->is_null() ? std::string() : found->get<std::string>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec) {
  if (spec.value("type", std::string("BPE")) != "BPE") {
    throw Error("model type \"" + spec.at("type").get<std::string>() + "\" is not supported (only BPE)");
  }
  // Dropout samples merges at random, for training; inference files carry null (or 0).
  if (const auto dropout = spec.find("dropout"); dropout != spec.end() && !dropout->is_null() && dropout->get<double>() != 0.0) {
    throw Error("BPE dropout is not supported");
  }
  continuing_subword_prefix_ = optional_string(spec, "continuing_subword_prefix");
  end_of_word_suffix_ = optional_string(spec, "end_of_word_suffix");
  byte_fallback_ = spec.value("byte_fallback", false);
  fuse_unk_ = spec.value("fuse_unk", false);
  ignore_merges_ = spec.value("ignore_merges", false);

  const auto& vocab = spec.at("vocab");
  vocab_.reserve(vocab.size());
  for (const auto& [token, id_json] : vocab.items()) {
    const auto id = id_json.get<TokenId>();
    if (id < 0) throw Error("negative id for token \"" + token + "\"");
    if (static_cast<std::size_t>(id) >= tokens_by_id_.size()) tokens_by_id_.resize(static_cast<std::size_t>(id) + 1);
    tokens_by_id_[static_cast<std::size_t>(id)] = token;
    vocab_.emplace(token, id);
  }
  const std::string unk = optional_string(spec, "unk_token");
  if (!unk.empty()) {
    unk_id_ = token_to_id(unk);
    if (!unk_id_) throw Error("unk_token \"" + unk + "\" is not in the vocabulary");
  }
  for (unsigned byte = 0; byte < 256; ++byte) {
    byte_tokens_[byte] = token_to_id(fmt::format("<0x{:02X}>", byte)).value_or(-1);
  }

  // Merges come as "left right" strings (older files) or ["left", "right"] pairs (tokens with spaces).
  const auto& merges = spec.at("merges");
  merges_.reserve(merges.size());
  std::uint32_t rank = 0;
  for (const auto& entry : merges) {
    std::string left, right;
    if (entry.is_string()) {
      const auto& line = entry.get_ref<const std::string&>();
      const auto space = line.find(' ');
      if (space == std::string::npos) throw Error("merge \"" + line + "\" is not two tokens");
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else {
      left = entry.at(0).get<std::string>();
      right = entry.at(1).get<std::string>();
    }
    const auto left_id = token_to_id(left), right_id = token_to_id(right);
    const std::string merged = left + right.substr(std::min(continuing_subword_prefix_.size(), right.size()));
    const auto merged_id = token_to_id(merged);
    if (!left_id || !right_id || !merged_id) {
      throw Error("merge \"" + left + " " + right + "\" uses a token missing from the vocabulary");
    }
    merges_.insert_or_assign(pair_key(*left_id, *right_id), Merge{rank++, *merged_id});  // a repeated pair: the last rank wins, as in HF
  }
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  const auto found = vocab_.find(token);
  if (found == vocab_.end()) return std::nullopt;
  return found->second;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_by_id_.size()) return nullptr;
  const auto& token = tokens_by_id_[static_cast<std::size_t>(id)];
  return token.empty() ? nullptr : &token;
}

void BpeModel::tokenize(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (const auto id = token_to_id(piece)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = piece.size() <= kLongestCachedPiece;
  if (cacheable) {
    std::unique_lock lock(cache_mutex_, std::try_to_lock);  // under contention, skip the cache
    if (lock.owns_lock()) {
      if (const auto found = cache_.find(piece); found != cache_.end()) {
        out.insert(out.end(), found->second.begin(), found->second.end());
        return;
      }
    }
  }
  const std::size_t first = out.size();
  merge(piece, out);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_, std::try_to_lock);
    if (lock.owns_lock() && cache_.size() < kCacheCapacity) {
      cache_.emplace(std::string(piece), std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
    }
  }
}

void BpeModel::initial_symbols(std::string_view piece, std::vector<TokenId>& symbols) const {
  std::optional<TokenId> pending_unk;
  for (std::size_t pos = 0; pos < piece.size();) {
    const std::size_t begin = pos;
    utf8::next_code_point(piece, pos);
    // The character with the affixes its place in the piece calls for (HF falls back on the bytes of
    // this affixed text too).
    std::string affixed;
    std::string_view symbol = piece.substr(begin, pos - begin);
    if (!continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty()) {
      affixed = (begin > 0 ? continuing_subword_prefix_ : std::string()) + std::string(symbol) +
                (pos == piece.size() ? end_of_word_suffix_ : std::string());
      symbol = affixed;
    }
    if (const auto id = token_to_id(symbol)) {
      if (pending_unk) symbols.push_back(*std::exchange(pending_unk, std::nullopt));
      symbols.push_back(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (const char byte : symbol) all_bytes = all_bytes && byte_tokens_[static_cast<unsigned char>(byte)] >= 0;
      if (all_bytes) {
        if (pending_unk) symbols.push_back(*std::exchange(pending_unk, std::nullopt));
        for (const char byte : symbol) symbols.push_back(byte_tokens_[static_cast<unsigned char>(byte)]);
        continue;
      }
    }
    if (unk_id_) {
      // Consecutive unknown characters become one unk token when fuse_unk is set.
      if (pending_unk && !fuse_unk_) symbols.push_back(*pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk) symbols.push_back(*pending_unk);
}

void BpeModel::merge(std::string_view piece, std::vector<TokenId>& out) const {
  std::vector<TokenId> ids;
  initial_symbols(piece, ids);
  // Symbols form a linked list; a min-heap of candidate merges ordered by (rank, position) picks the
  // next merge, and stale candidates are recognised when popped.
  const int count = static_cast<int>(ids.size());
  std::vector<int> prev(ids.size()), next(ids.size());
  std::vector<bool> alive(ids.size(), true);
  for (int i = 0; i < count; ++i) {
    prev[static_cast<std::size_t>(i)] = i - 1;
    next[static_cast<std::size_t>(i)] = i + 1 < count ? i + 1 : -1;
  }
  struct Candidate {
    std::uint32_t rank;
    int position;
    TokenId merged;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto consider = [&](int left) {
    if (left < 0) return;
    const int right = next[static_cast<std::size_t>(left)];
    if (right < 0) return;
    const auto found = merges_.find(pair_key(ids[static_cast<std::size_t>(left)], ids[static_cast<std::size_t>(right)]));
    if (found != merges_.end()) heap.push({found->second.rank, left, found->second.merged});
  };
  for (int i = 0; i + 1 < count; ++i) consider(i);
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    const auto left = static_cast<std::size_t>(top.position);
    if (!alive[left] || next[left] < 0) continue;
    const auto right = static_cast<std::size_t>(next[left]);
    const auto current = merges_.find(pair_key(ids[left], ids[right]));
    if (current == merges_.end() || current->second.merged != top.merged) continue;
    ids[left] = top.merged;
    alive[right] = false;
    next[left] = next[right];
    if (next[right] >= 0) prev[static_cast<std::size_t>(next[right])] = top.position;
    if (prev[left] >= 0) consider(prev[left]);
    consider(top.position);
  }
  for (int i = 0; i >= 0 && i < count; i = next[static_cast<std::size_t>(i)]) out.push_back(ids[static_cast<std::size_t>(i)]);
}

}  // namespace llmctl::engine
