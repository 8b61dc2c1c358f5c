#pragma once

// Fault injection. A scenario is a JSON array of rules:
//   {"match": {"server": "hub"|"cdn"|"any", "method": "GET"|"HEAD"|"any", "path": "<ECMAScript regex>"},
//    "times": N (default 1, -1 = always), "fault": {"type": "...", ...}}
// The first rule whose match applies to a request and that has uses left gives that request its fault.

#include "common.hpp"

#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace llmctl::hub_double {

struct Fault {
  std::string type;
  nlohmann::json spec;  // the rule's "fault" object

  long long integer(const char* key, long long fallback = 0) const { return spec.value(key, fallback); }
  double number(const char* key) const { return spec.value(key, 0.0); }
};

class Scenario {
 public:
  // Throws std::runtime_error naming the first malformed rule.
  explicit Scenario(const nlohmann::json& rules);

  // The fault for a request, if any (one use of its rule is taken).
  std::optional<Fault> take(Server server, const std::string& method, const std::string& path);

 private:
  struct Rule {
    std::string server;  // "hub", "cdn" or "any"
    std::string method;  // "GET", "HEAD" or "any"
    std::regex path;
    long long times_left;  // -1: unlimited
    Fault fault;
  };
  std::mutex mutex_;
  std::vector<Rule> rules_;
};

// The answer of a fault that replaces the real one (status, rate_limit, expire_url and the first
// redirect of redirect_chain and redirect_loop); nullopt for faults that reshape the real answer.
std::optional<Reply> fault_reply(const Context& ctx, const Fault& fault, const Call& call);

// A request for a hop of redirect_chain (/hop/<i>/<n>/<rel|abs><target>) or redirect_loop
// (/loop/<a|b><target>): either its redirect, or, at the last hop of a chain, the target that the chain
// started from, to be served as if requested. The target keeps its query string.
struct Detour {
  std::optional<Reply> redirect;
  std::string target;
};
std::optional<Detour> detour(const Context& ctx, const Call& call);

}  // namespace llmctl::hub_double
