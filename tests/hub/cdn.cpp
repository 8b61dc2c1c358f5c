// The CDN: file bytes by sha256 behind signed URLs (/lfs/<sha256>?Expires=<unix time>&Signature=<hmac>).

#include "routes.hpp"

namespace llmctl::hub_double {

Reply cdn_route(const Context& ctx, const Call& call) {
  // Signed URLs need no token: a client that forwards the Hub's token across hosts leaks it.
  if (call.req.has_header("Authorization")) return text_reply(400, "authorization leaked to CDN");
  const auto& s = call.segments;
  const auto* file = s.size() == 2 && s[0] == "lfs" ? ctx.repos.find_by_sha256(s[1]) : nullptr;
  if (!file) return text_reply(404, "Not Found");
  const auto expires = call.param("Expires");
  if (!signature_matches(ctx, call.path, expires, call.param("Signature"))) {
    return text_reply(403, "<Error><Code>AccessDenied</Code><Message>Invalid signature</Message></Error>",
                      "application/xml");
  }
  if (std::stoll(expires) < unix_now()) return expired_url_reply();  // signed, so a number
  auto reply = file_reply(*file);
  reply.headers.emplace("Content-Disposition",
                        "inline; filename=\"" + file->path.substr(file->path.rfind('/') + 1) + "\"");
  return reply;
}

}  // namespace llmctl::hub_double
