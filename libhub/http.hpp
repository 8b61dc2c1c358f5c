#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmctl::hub {

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Bytes [first, last] of the resource; last = nullopt for "to the end".
  std::optional<std::pair<std::uint64_t, std::optional<std::uint64_t>>> range;
  std::chrono::seconds connect_timeout{10};
  // The stall watchdog: the transfer is abandoned when no byte arrives for this long (separate from
  // the connect timeout, so a slow DNS or TLS handshake is not mistaken for a stalled body).
  std::chrono::seconds stall_timeout{10};
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the last value of a repeated header
  std::string body;                            // when no body callback was given
  bool body_refused = false;                   // the body callback stopped the transfer
  std::optional<std::string> header(const std::string& lower_case_name) const;
};

// A transfer that failed below HTTP: connection refused or dropped, stall, timeout, bad response.
struct TransportError {
  std::string message;
};

// One HTTP exchange with libcurl. Redirects are not followed: hubs need to decide, per hop, whether
// the token may go along (see HubClient). `on_body` receives the body of a 2xx response in pieces
// (other bodies land in HttpResponse::body); returning false stops the transfer, and the response
// (status and headers) comes back with body_refused set. Proxies come from libcurl's environment
// variables (https_proxy, no_proxy, ...); a CA bundle from SSL_CERT_FILE, CURL_CA_BUNDLE or
// REQUESTS_CA_BUNDLE.
// Returns the response, or the transport error.
std::variant<HttpResponse, TransportError> http_exchange(const HttpRequest& request,
                                                         const std::function<bool(std::string_view)>& on_body = {});

// `reference` resolved against `base` (RFC 3986), query string included.
std::string resolve_url(const std::string& base, const std::string& reference);
// "scheme://host:port" of an absolute URL (the port made explicit), for same-origin checks.
std::string url_origin(const std::string& url);
// Percent-encoding of one path segment or query value ("/" encoded too).
std::string escape_component(std::string_view text);
// Percent-encoding of a path whose slashes stay slashes.
std::string escape_path(std::string_view path);

// Retry-After (seconds or an HTTP-date) or RateLimit's "t=" (draft IETF headers, as the Hub sends):
// how long to wait before the next request, when the response says.
std::optional<std::chrono::seconds> retry_delay(const HttpResponse& response);

}  // namespace llmctl::hub
