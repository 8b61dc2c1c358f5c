// The ModelScope surface (hub.md §4.1 and §6.2): model info, revisions, file list and file bytes, answered
// in ModelScope's envelope {"Code", "Success", "Message", "Data"}.

#include "routes.hpp"

namespace llmctl::hub_double {

namespace {

using nlohmann::ordered_json;

Reply envelope(int http_status, int code, const std::string& message, ordered_json data = nullptr) {
  ordered_json body{{"Code", code}, {"Success", code == 200}, {"Message", message}};
  if (!data.is_null()) body["Data"] = std::move(data);
  return json_reply(http_status, body);
}

// The 1.x SDK sends the token as the m_session_id cookie, 2.x also as a Bearer token.
std::optional<std::string> session_token(const httplib::Request& req) {
  if (auto token = bearer_token(req)) return token;
  const auto cookies = "; " + req.get_header_value("Cookie");
  constexpr std::string_view name = "; m_session_id=";
  const auto start = cookies.find(name);
  if (start == std::string::npos) return std::nullopt;
  const auto value = start + name.size();
  return cookies.substr(value, cookies.find(';', value) - value);
}

Reply revisions(const Repo& repo) {
  // "master" is ModelScope's default branch: the repo's "main".
  auto branches = ordered_json::array();
  for (const auto& [name, commit] : repo.branches) {
    const auto revision = name == "main" ? "master" : name;
    branches.push_back({{"Revision", revision}, {"CreatedAt", unix_now()}, {"CommitId", commit}});
  }
  return envelope(200, 200, "success", {{"RevisionMap", {{"Branches", branches}, {"Tags", ordered_json::array()}}}});
}

Reply files(const Call& call, const Repo& repo, const std::string& commit) {
  auto root = call.param("Root");
  while (root.starts_with('/')) root.erase(0, 1);
  while (root.ends_with('/')) root.pop_back();
  const auto recursive = call.param("Recursive") == "True" || call.param("Recursive") == "true";
  const auto entries = list_directory(repo.ms_files, root, recursive);
  if (!entries) return envelope(404, 404, "Root " + root + " not found");
  auto list = ordered_json::array();
  for (const auto& entry : *entries) {
    const auto* file = entry.file;
    list.push_back({{"Name", entry.path.substr(entry.path.rfind('/') + 1)},
                    {"Path", entry.path},
                    {"Type", file ? "blob" : "tree"},
                    {"Size", file ? file->size() : 0},
                    {"Sha256", file ? file->sha256 : ""},
                    {"IsLFS", file && file->lfs},
                    {"Revision", commit}});
  }
  return envelope(200, 200, "success", {{"Files", list}});
}

// Files of at least the repo's LFS threshold redirect to the CDN, as LFS files do on the Hub.
Reply file_bytes(const Context& ctx, const Call& call, const Repo& repo) {
  const auto path = call.param("FilePath");
  const auto* file = find_file(repo.ms_files, path);
  if (!file) return envelope(404, 404, "File " + path + " not found");
  return file->lfs ? redirect_reply(302, signed_cdn_url(ctx, *file)) : file_reply(*file);
}

}  // namespace

Reply modelscope_route(const Context& ctx, const Call& call) {
  const auto& s = call.segments;  // api v1 models OWNER NAME ...
  if (s.size() < 5) return text_reply(404, "Not Found");
  const auto caller = identify(ctx, session_token(call.req));
  if (caller == Caller::invalid) {
    auto reply = envelope(401, 401, "Invalid credentials in Authorization header");
    reply.headers.emplace("X-Error-Message", "Invalid credentials in Authorization header");
    return reply;
  }
  const auto id = s[3] + "/" + s[4];
  const auto* repo = ctx.repos.find(id);
  if (!repo) return envelope(404, 404, "Model " + id + " not found");
  if (!repo->renamed_to.empty()) {
    return redirect_reply(307, "/api/v1/models/" + repo->renamed_to + call.raw_from(5) + call.query_suffix());
  }
  const bool wants_bytes = s.size() == 6 && s[5] == "repo";
  if ((repo->is_private || (wants_bytes && repo->gated)) && caller != Caller::approved) {
    return envelope(403, 403, "No permission for model " + id);
  }
  const auto revision = call.params.contains("Revision") ? call.param("Revision") : "master";
  const auto commit = repo->resolve(revision == "master" ? "main" : revision);
  // A logical error: HTTP 200 with a failure code, as ModelScope answers.
  if (!commit) return envelope(200, 10010101, "Revision " + revision + " not found");

  if (s.size() == 5) return envelope(200, 200, "success", {{"Path", s[3]}, {"Name", s[4]}, {"Revision", *commit}});
  if (s.size() == 6 && s[5] == "revisions") return revisions(*repo);
  if (s.size() == 7 && s[5] == "repo" && s[6] == "files") return files(call, *repo, *commit);
  if (wants_bytes) return file_bytes(ctx, call, *repo);
  return text_reply(404, "Not Found");
}

}  // namespace llmctl::hub_double
