#include "libhub/http.hpp"

#include <doctest/doctest.h>

#include <ctime>

using namespace llmctl::hub;

TEST_CASE("redirect targets resolve against the URL that sent them, query strings kept") {
  CHECK(resolve_url("http://hub:8/org/m/resolve/main/config.json", "/api/resolve-cache/models/org/m/abc/config.json?etag=%22x%22") ==
        "http://hub:8/api/resolve-cache/models/org/m/abc/config.json?etag=%22x%22");
  CHECK(resolve_url("http://hub:8/a/b", "c?d=1") == "http://hub:8/a/c?d=1");
  CHECK(resolve_url("http://hub:8/a", "https://cdn.example/x?Signature=s") == "https://cdn.example/x?Signature=s");
}

TEST_CASE("origins compare host and port, the default port made explicit") {
  CHECK(url_origin("https://huggingface.co/x") == "https://huggingface.co:443");
  CHECK(url_origin("http://127.0.0.1:8000/a") != url_origin("http://127.0.0.1:8001/a"));
  CHECK(url_origin("https://h:8443/a") != url_origin("http://h:8443/a"));  // no token over plain text
  CHECK(url_origin("HTTP://Example.COM/") == "http://example.com:80");
}

TEST_CASE("escaping keeps the slashes of paths and nothing else") {
  CHECK(escape_component("refs/pr/1") == "refs%2Fpr%2F1");
  CHECK(escape_path("onnx/model weights.bin") == "onnx/model%20weights.bin");
  CHECK(escape_path("日本.txt") == "%E6%97%A5%E6%9C%AC.txt");
}

TEST_CASE("429 delays: RateLimit's t=, Retry-After in seconds or as an HTTP-date") {
  HttpResponse response;
  response.headers["ratelimit"] = "\"resolvers\";r=0;t=37";
  CHECK(retry_delay(response) == std::chrono::seconds(37));
  response.headers.clear();
  response.headers["retry-after"] = "5";
  CHECK(retry_delay(response) == std::chrono::seconds(5));
  char date[64];
  const std::time_t later = std::time(nullptr) + 120;
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&later));
  response.headers["retry-after"] = date;
  const auto delay = retry_delay(response);
  REQUIRE(delay);
  CHECK(delay->count() >= 118);
  CHECK(delay->count() <= 120);
  response.headers["retry-after"] = "99999999999999999999";  // capped, and no exception
  CHECK(retry_delay(response) == std::chrono::seconds(300));
  response.headers.clear();
  CHECK_FALSE(retry_delay(response));
}
