#pragma once

// Lowercase hex digests (OpenSSL's libcrypto).

#include <string>
#include <string_view>

namespace llmctl::hub_double {

std::string sha1_hex(std::string_view data);
std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace llmctl::hub_double
