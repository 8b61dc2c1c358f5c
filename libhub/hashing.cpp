#include "libhub/hashing.hpp"

#include "common/error.hpp"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

namespace llmctl::hub {

struct Hasher::State {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(context); }
};

Hasher::Hasher(HashKind kind, std::uint64_t size) : state_(std::make_unique<State>()) {
  if (state_->context == nullptr ||
      EVP_DigestInit_ex(state_->context, kind == HashKind::sha256 ? EVP_sha256() : EVP_sha1(), nullptr) != 1) {
    throw Error("cannot initialise a hash (OpenSSL)");
  }
  if (kind == HashKind::git_blob_sha1) {
    const std::string header = "blob " + std::to_string(size);
    update(std::string_view(header.c_str(), header.size() + 1));  // the header ends with a NUL byte
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;

void Hasher::update(std::string_view bytes) { EVP_DigestUpdate(state_->context, bytes.data(), bytes.size()); }

std::string Hasher::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->context, digest, &length);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 0xF];
  }
  return out;
}

std::string hash_file(const std::filesystem::path& path, HashKind kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot be read");
  Hasher hasher(kind, std::filesystem::file_size(path));
  std::vector<char> block(8 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    hasher.update(std::string_view(block.data(), static_cast<std::size_t>(in.gcount())));
  }
  return hasher.hex();
}

}  // namespace llmctl::hub
