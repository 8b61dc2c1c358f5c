#pragma once

#include "api/api_error.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace llmctl::test {

// What an ApiError thrown by `call` says; status 0 when nothing was thrown.
struct ApiFailure {
  int status = 0;
  std::string param;  // "" for none
  std::string message;
};

template <typename Call>
ApiFailure api_failure(Call&& call) {
  try {
    call();
  } catch (const api::ApiError& error) {
    return {error.status(), error.param().value_or(""), error.what()};
  }
  return {};
}

// Shorthand for bodies written as JSON text.
inline nlohmann::ordered_json body(const char* text) { return nlohmann::ordered_json::parse(text); }

}  // namespace llmctl::test
