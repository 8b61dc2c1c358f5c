#pragma once

#include <stdexcept>
#include <string>

namespace llmctl {

// An error whose message is written for the user: front ends print it as one line and exit non-zero
// (or turn it into an OpenAI-shaped error). Thrown at library boundaries for bad input of any kind.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace llmctl
