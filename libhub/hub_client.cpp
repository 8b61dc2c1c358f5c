#include "libhub/hub_client.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "common/log.hpp"

#include <fmt/format.h>

#include <regex>
#include <set>
#include <thread>

namespace llmctl::hub {
namespace {

// 1, 2, 4, 8, 8... seconds: huggingface_hub's schedule.
std::chrono::milliseconds backoff(int attempt) {
  return std::chrono::milliseconds(1000LL << std::min(attempt - 1, 3));
}

// The statuses worth retrying: 408, 429 and 5xx.
bool is_transient(long status) { return status == 408 || status == 429 || status >= 500; }

bool is_redirect(long status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

// `<url>; rel="next"` in a Link header (GitHub-style pagination).
std::optional<std::string> next_link(const HttpResponse& response) {
  const auto link = response.header("link");
  if (!link) return std::nullopt;
  static const std::regex next(R"(<([^>]*)>\s*;[^,]*rel="?next"?)");
  std::smatch match;
  if (!std::regex_search(*link, match, next)) return std::nullopt;
  return match[1].str();
}

}  // namespace

HubError hub_error(const std::string& url, const HttpResponse& response) {
  const std::string code = response.header("x-error-code").value_or("");
  std::string message = fmt::format("{} answered HTTP {}", url, response.status);
  if (!code.empty()) message += " " + code;
  if (const auto text = response.header("x-error-message")) message += ": " + *text;
  if (const auto id = response.header("x-request-id")) message += fmt::format(" (request id {})", *id);
  return HubError(message, response.status, code);
}

HubClient::HubClient(std::string endpoint, ClientSettings settings)
    : endpoint_(std::move(endpoint)), origin_(url_origin(endpoint_)), settings_(std::move(settings)) {
  while (endpoint_.ends_with('/')) endpoint_.pop_back();
}

std::vector<std::string> HubClient::headers_for(const std::string& url) const {
  // A token is for the hub only: never for a CDN, a storage bucket or another host a redirect names.
  return url_origin(url) == origin_ ? settings_.auth_headers : std::vector<std::string>{};
}

HttpResponse HubClient::request(HttpRequest request, const std::function<bool(std::string_view)>& on_body,
                                const std::function<void()>& reset) {
  request.connect_timeout = settings_.connect_timeout;
  request.stall_timeout = settings_.stall_timeout;
  const auto extra = headers_for(request.url);
  request.headers.insert(request.headers.end(), extra.begin(), extra.end());
  for (int attempt = 1;; ++attempt) {
    limiter_.wait();
    auto result = http_exchange(request, on_body);
    std::string failure;
    std::chrono::milliseconds delay = backoff(attempt);
    if (auto* response = std::get_if<HttpResponse>(&result)) {
      if (!is_transient(response->status) || response->body_refused) return std::move(*response);
      if (const auto asked = retry_delay(*response)) delay = std::max(delay, std::chrono::milliseconds(*asked) + std::chrono::seconds(1));
      if (response->status == 429) limiter_.hold_for(delay);  // everyone waits, not just this worker
      failure = fmt::format("HTTP {}", response->status);
      if (attempt >= settings_.max_attempts) return std::move(*response);
    } else {
      failure = std::get<TransportError>(result).message;
      if (attempt >= settings_.max_attempts) {
        throw Error(fmt::format("{}: {} (after {} attempts)", request.url, failure, attempt));
      }
    }
    log::debug("{} {}: {}; retrying in {} ms", request.method, request.url, failure, delay.count());
    if (reset) reset();
    std::this_thread::sleep_for(delay);
  }
}

Location HubClient::follow(const std::string& method, const std::string& url, bool stop_at_other_origin) {
  std::string current = url;
  std::set<std::string> seen;
  for (int hop = 0;; ++hop) {
    if (!seen.insert(current).second) throw Error(url + ": redirect loop through " + current);
    if (hop > settings_.max_redirects) throw Error(fmt::format("{}: more than {} redirects", url, settings_.max_redirects));
    HttpRequest next;
    next.method = method;
    next.url = current;
    HttpResponse response = request(next);
    if (is_redirect(response.status) && response.header("location")) {
      // Relative or absolute, the Location is used whole: its query string (a signature, an etag) too.
      current = resolve_url(current, *response.header("location"));
      if (stop_at_other_origin && url_origin(current) != origin_) return Location{current, false, std::move(response)};
      continue;
    }
    if (response.status < 200 || response.status >= 300) throw hub_error(current, response);
    return Location{current, url_origin(current) == origin_, std::move(response)};
  }
}

nlohmann::json HubClient::get_json(const std::string& url, std::optional<std::string>* next) {
  const Location page = follow("GET", url, false);
  if (next) {
    const auto link = next_link(page.response);
    *next = link ? std::optional(resolve_url(page.url, *link)) : std::nullopt;
  }
  return parse_json(page.response.body, page.url);
}

// huggingface_hub reads the CDN's address off the redirect and never sends it a HEAD: a signed URL may
// be valid for GET only (S3 SigV4, OSS).
Location HubClient::locate(const std::string& url) { return follow("HEAD", url, true); }

}  // namespace llmctl::hub
