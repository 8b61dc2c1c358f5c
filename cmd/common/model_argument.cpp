#include "common/model_argument.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "libhub/snapshot_download.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace llmctl::cli {

namespace {

namespace fs = std::filesystem;

fs::path demo_model_folder() {
  std::error_code error;
  const auto program = fs::read_symlink("/proc/self/exe", error);
  const auto folder = program.parent_path().parent_path() / "share" / "llmctl" / kDemoModel;
  if (error || !fs::exists(folder / "config.json", error))
    throw Error(fmt::format("{}: the demo model is not installed ({} is missing); give a MODEL", kDemoModel,
                            (folder / "config.json").string()));
  return folder;
}

// "org/name": one slash, neither end empty, not a relative or absolute path spelling.
bool looks_like_hub_id(const std::string& text) {
  const auto slash = text.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < text.size() && text.find('/', slash + 1) == std::string::npos &&
         !text.starts_with('.') && !text.starts_with('~');
}

}  // namespace

CLI::Option* add_model_argument(CLI::App& app, std::string& model, const std::string& description) {
  model = kDemoModel;
  return app.add_option("model", model, description)->capture_default_str();
}

std::string resolve_model_argument(const std::string& model, bool metadata_only) {
  std::error_code error;
  if (fs::exists(model, error)) return model;
  if (model == kDemoModel) return demo_model_folder().string();
  if (!looks_like_hub_id(model)) return model;
  hub::DownloadOptions options;
  options.repo_id = model;
  if (metadata_only) options.include = {"*.json", "*.jinja", "tokenizer.model", "*.txt"};
  if (!hub::offline_mode()) log::info("{}: not a local folder; getting it from the hub into the cache", model);
  const auto result = hub::download_snapshot(options);
  if (!result.complete()) throw Error(model + ": the download did not complete; run llmctl download " + model);
  return result.path.string();
}

}  // namespace llmctl::cli
