#include "common.hpp"

#include "hashes.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

namespace llmctl::hub_double {

std::atomic<bool> stopping{false};

const char* server_name(Server server) { return server == Server::hub ? "hub" : "cdn"; }

Call::Call(Server which, const httplib::Request& request, std::string_view target) : server(which), req(request) {
  const auto question = target.find('?');
  path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) query = std::string(target.substr(question + 1));
  httplib::detail::parse_query_text(query, params);
  // Split the raw path, so that an encoded '/' (refs%2Fpr%2F1) stays inside its segment.
  for (std::size_t begin = 1; begin <= path.size();) {
    const auto end = std::min(path.find('/', begin), path.size());
    segments.push_back(httplib::detail::decode_url(path.substr(begin, end - begin), false));
    begin = end + 1;
  }
}

std::string Call::param(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

std::string Call::raw_from(std::size_t index) const {
  std::size_t slash = 0;
  for (std::size_t i = 0; i < index && slash != std::string::npos; ++i) slash = path.find('/', slash + 1);
  return slash == std::string::npos ? "" : path.substr(slash);
}

Reply text_reply(int status, std::string body, std::string content_type) {
  Reply reply;
  reply.status = status;
  reply.headers.emplace("Content-Type", std::move(content_type));
  reply.length = body.size();
  reply.data = std::make_shared<const std::string>(std::move(body));
  return reply;
}

Reply json_reply(int status, const nlohmann::ordered_json& body) {
  return text_reply(status, body.dump(), "application/json");
}

Reply file_reply(const RepoFile& file) {
  Reply reply;
  reply.headers.emplace("Content-Type", "application/octet-stream");
  reply.data = file.content;
  reply.length = file.size();
  reply.file = true;
  return reply;
}

Reply redirect_reply(int status, const std::string& location) {
  auto reply = text_reply(status, "Redirecting to " + location);
  reply.headers.emplace("Location", location);
  return reply;
}

Reply expired_url_reply() {
  return text_reply(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                    "application/xml");
}

Caller identify(const Context& ctx, const std::optional<std::string>& token) {
  if (!token) return Caller::anonymous;
  if (!ctx.token.empty() && *token == ctx.token) return Caller::approved;
  if (!ctx.unapproved_token.empty() && *token == ctx.unapproved_token) return Caller::unapproved;
  return Caller::invalid;
}

std::optional<std::string> bearer_token(const httplib::Request& req) {
  if (!req.has_header("Authorization")) return std::nullopt;
  const auto value = req.get_header_value("Authorization");
  constexpr std::string_view scheme = "Bearer ";
  return value.starts_with(scheme) ? value.substr(scheme.size()) : value;
}

std::string signed_cdn_url(const Context& ctx, const RepoFile& file) {
  const auto path = "/lfs/" + file.sha256;
  const auto expires = std::to_string(unix_now() + 3600);
  return "http://127.0.0.1:" + std::to_string(ctx.cdn_port) + path + "?Expires=" + expires +
         "&Signature=" + hmac_sha256_hex(ctx.secret, path + expires);
}

bool signature_matches(const Context& ctx, std::string_view path, std::string_view expires,
                       std::string_view signature) {
  return signature == hmac_sha256_hex(ctx.secret, std::string(path) + std::string(expires));
}

std::string encode_path(std::string_view path) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || std::string_view("-._~/").find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 0xf];
    }
  }
  return out;
}

std::string join_path(const std::vector<std::string>& segments, std::size_t first) {
  std::string out;
  for (auto i = first; i < segments.size(); ++i) out += (i == first ? "" : "/") + segments[i];
  return out;
}

std::string http_date(long long unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

long long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string gzip(std::string_view data) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip framing
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));  // zlib does not write to it
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);  // one call: the output buffer is large enough
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace llmctl::hub_double
