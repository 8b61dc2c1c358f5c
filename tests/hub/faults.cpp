#include "faults.hpp"

#include <charconv>
#include <map>
#include <set>
#include <stdexcept>

namespace llmctl::hub_double {

namespace {

// The fault types and the parameters that each requires.
const std::map<std::string, std::vector<std::string>> fault_types{
    {"drop_after", {"bytes"}},
    {"stall", {"seconds"}},
    {"trickle", {"bytes_per_second"}},
    {"status", {"code"}},
    {"rate_limit", {"seconds"}},
    {"content_length", {"delta"}},
    {"flip_byte", {"offset"}},
    {"ignore_range", {}},
    {"wrong_content_range", {}},
    {"redirect_chain", {"hops"}},
    {"redirect_loop", {}},
    {"expire_url", {}},
    {"drop_header", {"name"}},
    {"gzip", {}},
};

Fault parse_fault(const nlohmann::json& spec) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string()) {
    throw std::runtime_error("\"fault\" must be an object with a \"type\"");
  }
  const auto type = spec["type"].get<std::string>();
  const auto it = fault_types.find(type);
  if (it == fault_types.end()) throw std::runtime_error("unknown fault type \"" + type + "\"");
  for (const auto& key : it->second) {
    const auto value = spec.value(key, nlohmann::json());
    const bool valid =
        key == "name" ? value.is_string() : value.is_number() && (key == "delta" || value.get<double>() >= 0);
    if (!valid) throw std::runtime_error(type + " needs \"" + key + "\": a " + (key == "name" ? "string" : "number"));
  }
  if (type == "trickle" && spec["bytes_per_second"].get<double>() <= 0) {
    throw std::runtime_error("trickle needs a positive \"bytes_per_second\"");
  }
  if (type == "redirect_chain" && spec["hops"].get<double>() < 1) {
    throw std::runtime_error("redirect_chain needs hops >= 1");
  }
  static const std::set<std::string> styles{"ratelimit", "retry_after", "retry_after_date"};
  if (type == "rate_limit" && !styles.contains(spec.value("style", "ratelimit"))) {
    throw std::runtime_error("rate_limit style must be ratelimit, retry_after or retry_after_date");
  }
  const auto headers = spec.value("headers", nlohmann::json::object());
  if (!headers.is_object()) throw std::runtime_error("\"headers\" must be an object");
  for (const auto& [name, value] : headers.items()) {
    if (!value.is_string()) throw std::runtime_error("the value of header \"" + name + "\" must be a string");
  }
  return Fault{type, spec};
}

// The URL of hop `index` of `count`, which carries the chain's target after the hop's own segments.
std::string hop_location(const Context& ctx, Server server, long long index, long long count, bool relative,
                         const std::string& target) {
  const auto port = server == Server::hub ? ctx.hub_port : ctx.cdn_port;
  const auto origin = relative ? std::string() : "http://127.0.0.1:" + std::to_string(port);
  return origin + "/hop/" + std::to_string(index) + "/" + std::to_string(count) + (relative ? "/rel" : "/abs") + target;
}

bool parse_count(const std::string& text, long long& value) {
  const auto end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

Scenario::Scenario(const nlohmann::json& rules) {
  if (!rules.is_array()) throw std::runtime_error("a scenario must be a JSON array of rules");
  static const std::set<std::string> servers{"hub", "cdn", "any"};
  static const std::set<std::string> methods{"GET", "HEAD", "any"};
  for (std::size_t i = 0; i < rules.size(); ++i) {
    try {
      const auto& rule = rules[i];
      const auto match = rule.value("match", nlohmann::json::object());
      Rule parsed{match.value("server", "any"), match.value("method", "any"), std::regex(match.value("path", "")),
                  rule.value("times", 1LL), parse_fault(rule.at("fault"))};
      if (!servers.contains(parsed.server)) throw std::runtime_error("server must be hub, cdn or any");
      if (!methods.contains(parsed.method)) throw std::runtime_error("method must be GET, HEAD or any");
      if (parsed.times_left < -1) throw std::runtime_error("times must be -1 (always) or a count");
      rules_.push_back(std::move(parsed));
    } catch (const std::exception& e) {
      throw std::runtime_error("scenario rule " + std::to_string(i) + ": " + e.what());
    }
  }
}

std::optional<Fault> Scenario::take(Server server, const std::string& method, const std::string& path) {
  const std::lock_guard lock(mutex_);
  for (auto& rule : rules_) {
    if (rule.times_left == 0 || (rule.server != "any" && rule.server != server_name(server)) ||
        (rule.method != "any" && rule.method != method) || !std::regex_search(path, rule.path)) {
      continue;
    }
    if (rule.times_left > 0) --rule.times_left;
    return rule.fault;
  }
  return std::nullopt;
}

std::optional<Reply> fault_reply(const Context& ctx, const Fault& fault, const Call& call) {
  if (fault.type == "status") {
    auto reply = text_reply(static_cast<int>(fault.integer("code")), fault.spec.value("body", ""));
    const auto headers = fault.spec.value("headers", nlohmann::json::object());
    for (const auto& [name, value] : headers.items()) {
      reply.headers.emplace(name, value.get<std::string>());
    }
    return reply;
  }
  if (fault.type == "rate_limit") {
    const auto seconds = fault.integer("seconds");
    auto reply = text_reply(429, "Too Many Requests");
    const auto style = fault.spec.value("style", "ratelimit");
    if (style == "ratelimit") {
      reply.headers.emplace("RateLimit", "\"resolvers\";r=0;t=" + std::to_string(seconds));
      reply.headers.emplace("RateLimit-Policy", "\"fixed window\";\"resolvers\";q=5000;w=300");
    } else if (style == "retry_after") {
      reply.headers.emplace("Retry-After", std::to_string(seconds));
    } else {
      reply.headers.emplace("Retry-After", http_date(unix_now() + seconds));
    }
    return reply;
  }
  if (fault.type == "expire_url") return expired_url_reply();
  if (fault.type == "redirect_chain") {
    return redirect_reply(307, hop_location(ctx, call.server, 1, fault.integer("hops"),
                                            fault.spec.value("relative", true), call.path + call.query_suffix()));
  }
  if (fault.type == "redirect_loop") return redirect_reply(307, "/loop/a" + call.path + call.query_suffix());
  return std::nullopt;
}

std::optional<Detour> detour(const Context& ctx, const Call& call) {
  const auto& s = call.segments;
  const auto query = call.query_suffix();
  if (s.size() >= 2 && s[0] == "loop" && (s[1] == "a" || s[1] == "b")) {
    const auto target = call.path.substr(std::string_view("/loop/a").size()) + query;
    return Detour{redirect_reply(307, (s[1] == "a" ? "/loop/b" : "/loop/a") + target), ""};
  }
  long long index = 0;
  long long count = 0;
  if (s.size() < 4 || s[0] != "hop" || !parse_count(s[1], index) || !parse_count(s[2], count) ||
      (s[3] != "rel" && s[3] != "abs")) {
    return std::nullopt;
  }
  const auto target = call.path.substr(("/hop/" + s[1] + "/" + s[2] + "/" + s[3]).size()) + query;
  if (index < count) {
    return Detour{redirect_reply(307, hop_location(ctx, call.server, index + 1, count, s[3] == "rel", target)), ""};
  }
  return Detour{std::nullopt, target};
}

}  // namespace llmctl::hub_double
