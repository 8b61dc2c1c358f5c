#pragma once

#include "common/error.hpp"
#include "libhub/http.hpp"
#include "libhub/rate_limiter.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::hub {

// An HTTP error from a hub, with its X-Error-Code when the hub sent one ("RepoNotFound", ...).
struct HubError : Error {
  HubError(const std::string& message, long http_status, std::string code)
      : Error(message), status(http_status), error_code(std::move(code)) {}
  long status;
  std::string error_code;
};

struct ClientSettings {
  std::vector<std::string> auth_headers;  // sent only to the hub's own origin
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds stall_timeout{10};
  int max_attempts = 6;  // the first try and five retries, as huggingface_hub
  int max_redirects = 10;
};

// Where a file's bytes are, once the redirects from the hub (to a CDN, a renamed repo, a cache route)
// are followed.
struct Location {
  std::string url;
  bool send_auth = false;  // same origin as the hub
  HttpResponse response;   // the last answer (a redirect, when the bytes are elsewhere)
};

// Talks to one hub origin: retries transient failures with backoff (1, 2, 4, 8, 8 s), waits as 429
// answers say through one shared limiter, follows redirects by hand (relative ones keep their query
// string; the token never goes to another origin; loops and long chains are errors).
class HubClient {
 public:
  HubClient(std::string endpoint, ClientSettings settings);

  const std::string& endpoint() const { return endpoint_; }
  const ClientSettings& settings() const { return settings_; }

  // GET a JSON document from the hub (following redirects); `next` receives a Link rel="next" URL.
  nlohmann::json get_json(const std::string& url, std::optional<std::string>* next = nullptr);

  // Follows the hub's own redirects of `url` with HEAD requests, up to where the bytes are: the hub
  // itself, or the first URL on another origin (a CDN), which is not requested here.
  Location locate(const std::string& url);

  // One request with the retry policy; `on_body` as for http_exchange (a refused body is returned at
  // once, not retried), `reset` is called before each retry so the caller can discard a partial body. Throws HubError for a final HTTP error status and
  // llmctl::Error for a transport failure that outlived the retries.
  HttpResponse request(HttpRequest request, const std::function<bool(std::string_view)>& on_body = {},
                       const std::function<void()>& reset = {});

  std::vector<std::string> headers_for(const std::string& url) const;

 private:
  // `method` on `url` and on every redirect after it, to a 2xx answer (HubError otherwise), or to the
  // first redirect to another origin when `stop_at_other_origin`.
  Location follow(const std::string& method, const std::string& url, bool stop_at_other_origin);

  std::string endpoint_;
  std::string origin_;
  ClientSettings settings_;
  RateLimiter limiter_;
};

// The error for a hub's answer: status, X-Error-Code, X-Error-Message and the request id.
HubError hub_error(const std::string& url, const HttpResponse& response);

}  // namespace llmctl::hub
