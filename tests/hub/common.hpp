#pragma once

// Shared pieces of hub_double: the run-time context, the request view, the reply that handlers build,
// tokens, signed CDN URLs and small helpers (URL paths, dates, gzip).

#include "repos.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::hub_double {

enum class Server { hub, cdn };
const char* server_name(Server server);

// Set on SIGTERM/SIGINT: stalls and trickles stop waiting so that the servers can shut down.
extern std::atomic<bool> stopping;

struct Context {
  Repos repos;
  std::string token;             // the approved user
  std::string unapproved_token;  // a known user without access to gated repos
  std::string secret;            // signs CDN URLs
  std::size_t page_size = 2;
  int hub_port = 0;
  int cdn_port = 0;
};

// One request as the routes see it. The target may differ from the request's own (the last hop of a
// redirect chain serves the original target).
struct Call {
  Call(Server server, const httplib::Request& req, std::string_view target);

  Server server;
  const httplib::Request& req;
  std::string path;                   // raw, percent-encoded
  std::string query;                  // raw, without '?'
  std::vector<std::string> segments;  // path segments, percent-decoded
  httplib::Params params;             // decoded query parameters

  std::string param(const std::string& name) const;  // "" when absent
  // The raw path from the '/' before segment `index` on ("" past the end).
  std::string raw_from(std::size_t index) const;
  // The raw query with a '?', or "".
  std::string query_suffix() const { return query.empty() ? "" : "?" + query; }
};

// A response before it is sent: handlers build it, faults and Range reshape it, send() writes it.
struct Reply {
  int status = 200;
  httplib::Headers headers;
  std::shared_ptr<const std::string> data = std::make_shared<const std::string>();
  std::size_t offset = 0;  // the body is data[offset, offset + length)
  std::size_t length = 0;
  bool file = false;  // file bytes: Range applies
};

Reply text_reply(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
Reply json_reply(int status, const nlohmann::ordered_json& body);
Reply file_reply(const RepoFile& file);
Reply redirect_reply(int status, const std::string& location);
// The CDN's answer to an expired signed URL.
Reply expired_url_reply();

enum class Caller { anonymous, approved, unapproved, invalid };
Caller identify(const Context& ctx, const std::optional<std::string>& token);
// The token of "Authorization: Bearer T" (the whole value for other schemes); nullopt without the header.
std::optional<std::string> bearer_token(const httplib::Request& req);

// A signed CDN URL for a file's bytes, valid for an hour.
std::string signed_cdn_url(const Context& ctx, const RepoFile& file);
// Whether a CDN path was signed with these parameters (the expiry is checked separately).
bool signature_matches(const Context& ctx, std::string_view path, std::string_view expires,
                       std::string_view signature);

// Percent-encodes everything but unreserved characters and '/'.
std::string encode_path(std::string_view path);
std::string join_path(const std::vector<std::string>& segments, std::size_t first);
std::string http_date(long long unix_seconds);
long long unix_now();
std::string gzip(std::string_view data);

}  // namespace llmctl::hub_double
