#include "api/api_error.hpp"

namespace llmctl::api {

ApiError::ApiError(int status, const std::string& message, std::optional<std::string> param)
    : Error(message), status_(status), param_(std::move(param)) {}

std::string_view error_type(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "UnauthorizedError";
    case 404: return "NotFoundError";
    case 500: return "InternalServerError";
    case 501: return "NotImplementedError";
    default: return "Error";
  }
}

nlohmann::ordered_json error_body(int status, std::string_view message, const std::optional<std::string>& param) {
  nlohmann::ordered_json error;
  error["message"] = message;
  error["type"] = error_type(status);
  error["param"] = param ? nlohmann::ordered_json(*param) : nullptr;
  error["code"] = status;
  return {{"error", std::move(error)}};
}

}  // namespace llmctl::api
