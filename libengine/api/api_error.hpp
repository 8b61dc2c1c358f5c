#pragma once

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace llmctl::api {

// An error the server answers with an HTTP status and vLLM's OpenAI-shaped body. Validation errors are
// 400 (vLLM maps pydantic errors to 400, not FastAPI's 422), unknown models 404.
class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::optional<std::string> param = std::nullopt);

  static ApiError bad_request(const std::string& message, std::optional<std::string> param = std::nullopt) {
    return ApiError(400, message, std::move(param));
  }

  int status() const { return status_; }
  const std::optional<std::string>& param() const { return param_; }

 private:
  int status_;
  std::optional<std::string> param_;
};

// "BadRequestError" (400), "UnauthorizedError" (401), "NotFoundError" (404), "InternalServerError" (500),
// "NotImplementedError" (501), else "Error".
std::string_view error_type(int status);

// {"error":{"message","type","param","code"}}, the body of vLLM's ErrorResponse (code = the HTTP status).
nlohmann::ordered_json error_body(int status, std::string_view message, const std::optional<std::string>& param = std::nullopt);

}  // namespace llmctl::api
