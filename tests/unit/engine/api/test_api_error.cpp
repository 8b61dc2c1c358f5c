#include "api/api_error.hpp"

#include <doctest/doctest.h>

using namespace llmctl::api;

TEST_CASE("an ApiError carries its status, message and param, and is an llmctl::Error") {
  const ApiError error(404, "The model `x` does not exist.", "model");
  CHECK(error.status() == 404);
  CHECK(std::string(error.what()) == "The model `x` does not exist.");
  CHECK(error.param() == "model");
  const auto bad = ApiError::bad_request("n must be at least 1, got 0.", "n");
  CHECK(bad.status() == 400);
  CHECK(bad.param() == "n");
  CHECK_FALSE(ApiError::bad_request("no field").param().has_value());
  CHECK_THROWS_AS(throw ApiError::bad_request("x"), llmctl::Error);
}

TEST_CASE("error types are vLLM's names for the HTTP status") {
  CHECK(error_type(400) == "BadRequestError");
  CHECK(error_type(401) == "UnauthorizedError");
  CHECK(error_type(404) == "NotFoundError");
  CHECK(error_type(500) == "InternalServerError");
  CHECK(error_type(501) == "NotImplementedError");
  CHECK(error_type(503) == "Error");
}

TEST_CASE("the error body is vLLM's ErrorResponse, keys in its order, param null when there is none") {
  CHECK(error_body(400, "temperature must be non-negative, got -0.5.", "temperature").dump() ==
        R"({"error":{"message":"temperature must be non-negative, got -0.5.","type":"BadRequestError","param":"temperature","code":400}})");
  CHECK(error_body(404, "The model `gpt-4` does not exist.").dump() ==
        R"({"error":{"message":"The model `gpt-4` does not exist.","type":"NotFoundError","param":null,"code":404}})");
  CHECK(error_body(500, "engine died", std::nullopt)["error"]["code"] == 500);
}
