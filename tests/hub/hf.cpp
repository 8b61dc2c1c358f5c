// The Hugging Face Hub surface (hub.md §1 and §6.1): model info, tree, refs, resolve and resolve-cache.

#include "routes.hpp"

#include <algorithm>
#include <charconv>

namespace llmctl::hub_double {

namespace {

using nlohmann::ordered_json;

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// huggingface_hub keys its errors on X-Error-Code and X-Error-Message.
Reply hf_error(int status, const std::string& code, const std::string& message) {
  auto reply = json_reply(status, {{"error", message}});
  if (!code.empty()) reply.headers.emplace("X-Error-Code", code);
  reply.headers.emplace("X-Error-Message", message);
  return reply;
}

Reply revision_not_found(const std::string& revision) {
  return hf_error(404, "RevisionNotFound", "Invalid rev id: " + revision);
}

Reply entry_not_found(const std::string& commit) {
  auto reply = hf_error(404, "EntryNotFound", "Entry not found");
  reply.headers.emplace("X-Repo-Commit", commit);
  return reply;
}

// Why the caller may not see the repo (null when there is none), or nullopt. As on the Hub, a private repo
// looks missing, anonymous callers get 401 rather than 404, and gating guards only the file bytes.
std::optional<Reply> denied(const Repo* repo, const std::string& id, Caller caller, bool file_bytes) {
  const bool anonymous = caller == Caller::anonymous;
  if (!repo || (repo->is_private && caller != Caller::approved)) {
    return hf_error(anonymous ? 401 : 404, "RepoNotFound", "Repository not found: " + id);
  }
  if (file_bytes && repo->gated && caller != Caller::approved) {
    const auto reason = anonymous ? ": you must log in to access it." : ": you are not in the authorized list.";
    return hf_error(anonymous ? 401 : 403, "GatedRepo", "Access to model " + id + " is restricted" + reason);
  }
  return std::nullopt;
}

ordered_json lfs_info(const RepoFile& file, const char* hash_key) {
  return {{hash_key, file.sha256}, {"size", file.size()}, {"pointerSize", file.pointer_size}};
}

Reply model_info(const Repo& repo, const std::string& revision, bool blobs) {
  const auto commit = repo.resolve(revision);
  if (!commit) return revision_not_found(revision);
  auto siblings = ordered_json::array();
  for (const auto& file : repo.files) {
    ordered_json sibling{{"rfilename", file.path}};
    if (blobs) {
      sibling["size"] = file.size();
      sibling["blobId"] = file.lfs ? file.pointer_sha1 : file.sha1;
      if (file.lfs) sibling["lfs"] = lfs_info(file, "sha256");
    }
    siblings.push_back(std::move(sibling));
  }
  return json_reply(200, {{"id", repo.id},
                          {"sha", *commit},
                          {"private", repo.is_private},
                          {"gated", repo.gated ? ordered_json("auto") : ordered_json(false)},
                          {"siblings", std::move(siblings)}});
}

ordered_json tree_entry(const Repo& repo, const Entry& entry) {
  if (!entry.file) {
    return {{"type", "directory"}, {"oid", directory_oid(repo.files, entry.path)}, {"size", 0}, {"path", entry.path}};
  }
  const auto& file = *entry.file;
  ordered_json out{
      {"type", "file"}, {"oid", file.lfs ? file.pointer_sha1 : file.sha1}, {"size", file.size()}, {"path", file.path}};
  if (file.lfs) out["lfs"] = lfs_info(file, "oid");  // the tree calls the sha256 "oid", the siblings "sha256"
  return out;
}

// The index in a listing that a cursor "<commit>-<index>" names; nullopt for a malformed cursor.
std::optional<std::size_t> cursor_index(const Repo& repo, std::string_view cursor) {
  const auto dash = cursor.find('-');
  if (dash == std::string_view::npos || !repo.resolve(cursor.substr(0, dash))) return std::nullopt;
  const auto digits = cursor.substr(dash + 1);
  std::size_t index = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return index;
}

// One page of the listing. The Link to the next page carries the commit in its cursor, so that a listing
// stays on the commit it started from.
Reply tree(const Context& ctx, const Call& call, const Repo& repo, const std::string& revision,
           const std::string& dir) {
  const auto commit = repo.resolve(revision);
  if (!commit) return revision_not_found(revision);
  const auto entries = list_directory(repo.files, dir, call.param("recursive") == "true");
  if (!entries) return entry_not_found(*commit);
  const auto cursor = call.param("cursor");
  const auto start = cursor.empty() ? std::optional<std::size_t>(0) : cursor_index(repo, cursor);
  if (!start || *start > entries->size()) return hf_error(400, "", "Invalid cursor");
  const auto end = std::min(*start + ctx.page_size, entries->size());
  auto page = ordered_json::array();
  for (auto i = *start; i < end; ++i) page.push_back(tree_entry(repo, (*entries)[i]));
  auto reply = json_reply(200, page);
  if (end < entries->size()) {
    std::string query;  // the request's, without its cursor
    for (std::size_t begin = 0; begin < call.query.size();) {
      const auto amp = std::min(call.query.find('&', begin), call.query.size());
      const auto item = call.query.substr(begin, amp - begin);
      if (!item.starts_with("cursor=")) query += item + "&";
      begin = amp + 1;
    }
    reply.headers.emplace("Link", "<http://127.0.0.1:" + std::to_string(ctx.hub_port) + call.path + "?" + query +
                                      "cursor=" + *commit + "-" + std::to_string(end) + ">; rel=\"next\"");
  }
  return reply;
}

Reply refs(const Repo& repo) {
  auto branches = ordered_json::array();
  for (const auto& [name, commit] : repo.branches) {
    branches.push_back({{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", commit}});
  }
  const auto none = ordered_json::array();
  return json_reply(200, {{"branches", branches}, {"tags", none}, {"converts", none}});
}

// A regular file redirects (relative, with a query that the target requires) to resolve-cache; an LFS file
// redirects to a signed CDN URL, and the redirect itself carries the metadata.
Reply resolve(const Context& ctx, const Repo& repo, const std::string& revision, const std::string& path) {
  const auto commit = repo.resolve(revision);
  if (!commit) return revision_not_found(revision);
  const auto* file = find_file(repo.files, path);
  if (!file) return entry_not_found(*commit);
  Reply reply;
  if (file->lfs) {
    reply = redirect_reply(302, signed_cdn_url(ctx, *file));
    reply.headers.emplace("X-Linked-Etag", quoted(file->sha256));
    reply.headers.emplace("X-Linked-Size", std::to_string(file->size()));
    reply.headers.emplace("ETag", quoted(file->pointer_sha1));
  } else {
    reply = redirect_reply(307, "/api/resolve-cache/models/" + encode_path(repo.id) + "/" + *commit + "/" +
                                    encode_path(file->path) + "?etag=%22" + file->sha1 + "%22");
  }
  reply.headers.emplace("X-Repo-Commit", *commit);
  return reply;
}

Reply resolve_cache(const Call& call, const Repo& repo, const std::string& commit, const std::string& path) {
  // A client that drops the redirect's query string must fail here.
  if (!call.params.contains("etag")) return hf_error(400, "", "The etag query parameter is missing");
  if (!repo.resolve(commit)) return revision_not_found(commit);
  const auto* file = find_file(repo.files, path);
  if (!file) return entry_not_found(commit);
  auto reply = file_reply(*file);
  reply.headers.emplace("ETag", quoted(file->lfs ? file->sha256 : file->sha1));
  reply.headers.emplace("X-Repo-Commit", commit);
  return reply;
}

}  // namespace

Reply hf_route(const Context& ctx, const Call& call) {
  const auto& s = call.segments;
  const bool api = s.size() >= 4 && s[0] == "api" && s[1] == "models";
  const bool cache = s.size() >= 7 && s[0] == "api" && s[1] == "resolve-cache" && s[2] == "models";
  const bool file = !api && !cache && s.size() >= 5 && s[2] == "resolve";
  if (!api && !cache && !file) return text_reply(404, "Not Found");

  const auto caller = identify(ctx, bearer_token(call.req));
  if (caller == Caller::invalid) return hf_error(401, "", "Invalid credentials in Authorization header");
  const std::size_t first = api ? 2 : cache ? 3 : 0;  // the segment where the repo id starts
  const auto id = s[first] + "/" + s[first + 1];
  const auto* repo = ctx.repos.find(id);
  if (repo && !repo->renamed_to.empty()) {
    const auto head = call.path.substr(0, call.path.size() - call.raw_from(first).size());
    return redirect_reply(307, head + "/" + repo->renamed_to + call.raw_from(first + 2) + call.query_suffix());
  }
  if (auto error = denied(repo, id, caller, !api)) return *error;

  if (cache) return resolve_cache(call, *repo, s[5], join_path(s, 6));
  if (file) return resolve(ctx, *repo, s[3], join_path(s, 4));
  if (s.size() == 4) return model_info(*repo, "main", call.param("blobs") == "true");
  if (s.size() == 6 && s[4] == "revision") return model_info(*repo, s[5], call.param("blobs") == "true");
  if (s.size() >= 6 && s[4] == "tree") return tree(ctx, call, *repo, s[5], join_path(s, 6));
  if (s.size() == 5 && s[4] == "refs") return refs(*repo);
  return text_reply(404, "Not Found");
}

}  // namespace llmctl::hub_double
