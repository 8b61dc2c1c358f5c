#include "libhub/http.hpp"

#include "common/error.hpp"
#include "llmctl/version.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <regex>

namespace llmctl::hub {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_curl_initialised() { static const CurlGlobal global; }

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

struct Exchange {
  CURL* handle = nullptr;
  HttpResponse response;
  const std::function<bool(std::string_view)>* on_body = nullptr;
  bool aborted_by_caller = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    exchange.response.headers.clear();  // a new response (after 100 Continue, say)
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    exchange.response.headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * count;
}

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::string_view bytes(data, size * count);
  long status = 0;
  curl_easy_getinfo(exchange.handle, CURLINFO_RESPONSE_CODE, &status);
  // Only a successful response's body is the resource; an error page is kept for the message.
  if (status >= 200 && status < 300 && exchange.on_body != nullptr && *exchange.on_body) {
    if (!(*exchange.on_body)(bytes)) {
      exchange.aborted_by_caller = true;
      return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
  } else {
    exchange.response.body.append(bytes);
  }
  return size * count;
}

// A server cannot park a download for hours: waits it asks for are capped at five minutes.
constexpr long long kLongestWait = 300;

const char* ca_bundle() {
  for (const char* name : {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return value;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& lower_case_name) const {
  const auto found = headers.find(lower_case_name);
  if (found == headers.end()) return std::nullopt;
  return found->second;
}

std::variant<HttpResponse, TransportError> http_exchange(const HttpRequest& request,
                                                         const std::function<bool(std::string_view)>& on_body) {
  ensure_curl_initialised();
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return TransportError{"cannot create a libcurl handle"};
  Exchange exchange;
  exchange.handle = curl.get();
  exchange.on_body = &on_body;
  static const std::string user_agent = std::string("llmctl/") + llmctl::kVersion + "; libcurl/" + curl_version_info(CURLVERSION_NOW)->version;

  curl_slist* headers = nullptr;
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());
  // The real bytes: a compressed transfer would hide the size, and sizes and hashes are of the file.
  headers = curl_slist_append(headers, "Accept-Encoding: identity");
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, &curl_slist_free_all);

  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  // A server that compresses anyway is decoded rather than hashed as gzip.
  curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "identity");
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.stall_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
  if (const char* bundle = ca_bundle()) curl_easy_setopt(handle, CURLOPT_CAINFO, bundle);
  if (request.method == "HEAD") curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  std::string range;
  if (request.range) {
    range = std::to_string(request.range->first) + "-" + (request.range->second ? std::to_string(*request.range->second) : "");
    curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());
  }

  const CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    if (exchange.aborted_by_caller) {
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &exchange.response.status);
      exchange.response.body_refused = true;
      return std::move(exchange.response);
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return TransportError{"no data for " + std::to_string(request.stall_timeout.count()) + " s (stalled)"};
    }
    return TransportError{curl_easy_strerror(code)};
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &exchange.response.status);
  return std::move(exchange.response);
}

std::string resolve_url(const std::string& base, const std::string& reference) {
  ensure_curl_initialised();
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), &curl_url_cleanup);
  char* resolved = nullptr;
  if (curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
      curl_url_set(url.get(), CURLUPART_URL, reference.c_str(), 0) != CURLUE_OK ||
      curl_url_get(url.get(), CURLUPART_URL, &resolved, 0) != CURLUE_OK) {
    throw Error("cannot resolve the URL \"" + reference + "\" against " + base);
  }
  std::string out(resolved);
  curl_free(resolved);
  return out;
}

std::string url_origin(const std::string& url) {
  ensure_curl_initialised();
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  char* scheme = nullptr;
  char* host = nullptr;
  char* port = nullptr;
  const bool parsed = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
                      curl_url_get(handle.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                      curl_url_get(handle.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                      curl_url_get(handle.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
  std::string origin = parsed ? lower(scheme) + "://" + lower(host) + ":" + port : std::string();
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  if (!parsed) throw Error("not a URL: " + url);
  return origin;
}

std::string escape_component(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0xF];
    }
  }
  return out;
}

std::string escape_path(std::string_view path) {
  std::string out;
  for (std::size_t start = 0;;) {
    const auto slash = path.find('/', start);
    out += escape_component(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

std::optional<std::chrono::seconds> retry_delay(const HttpResponse& response) {
  const auto seconds = [](long long value) { return std::chrono::seconds(std::clamp(value, 0LL, kLongestWait)); };
  const auto number = [](std::string_view text) -> std::optional<long long> {
    long long value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc::result_out_of_range) return kLongestWait;
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  if (const auto rate_limit = response.header("ratelimit")) {
    static const std::regex seconds_left(R"((?:^|[;,\s])t=(\d+))");
    std::smatch match;
    if (std::regex_search(*rate_limit, match, seconds_left)) {
      if (const auto value = number(match[1].str())) return seconds(*value);
    }
  }
  if (const auto retry_after = response.header("retry-after")) {
    if (const auto value = number(*retry_after)) return seconds(*value);
    const std::time_t when = curl_getdate(retry_after->c_str(), nullptr);
    if (when >= 0) return seconds(static_cast<long long>(when - std::time(nullptr)));
  }
  return std::nullopt;
}

}  // namespace llmctl::hub
