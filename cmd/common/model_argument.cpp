#include "common/model_argument.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "libhub/snapshot_download.hpp"

#include <filesystem>

namespace llmctl::cli {

namespace {

// "org/name": one slash, neither end empty, not a relative or absolute path spelling.
bool looks_like_hub_id(const std::string& text) {
  const auto slash = text.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < text.size() && text.find('/', slash + 1) == std::string::npos &&
         !text.starts_with('.') && !text.starts_with('~');
}

}  // namespace

std::string resolve_model_argument(const std::string& model, bool metadata_only) {
  std::error_code error;
  if (std::filesystem::exists(model, error) || !looks_like_hub_id(model)) return model;
  hub::DownloadOptions options;
  options.repo_id = model;
  if (metadata_only) options.include = {"*.json", "*.jinja", "tokenizer.model", "*.txt"};
  if (!hub::offline_mode()) log::info("{}: not a local folder; getting it from the hub into the cache", model);
  const auto result = hub::download_snapshot(options);
  if (!result.complete()) throw Error(model + ": the download did not complete; run llmctl download " + model);
  return result.path.string();
}

}  // namespace llmctl::cli
