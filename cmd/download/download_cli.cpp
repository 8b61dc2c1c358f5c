#include "download/download_cli.hpp"

namespace llmctl::cli {

DownloadCommand::DownloadCommand()
    : Command("download", "Download a model from Hugging Face (or a mirror) or ModelScope, verified and resumable") {
  auto& d = options.download;
  add_option("repo_id", d.repo_id, "Repository, e.g. Qwen/Qwen2.5-7B-Instruct")->required();
  add_option("files", d.files, "Only these files (a name ending in / means a folder)");
  add_option("--source", options.source, "Hub: hf (Hugging Face or a mirror) or modelscope")
      ->check(CLI::IsMember({"hf", "modelscope"}))
      ->default_str("hf");
  add_option("--revision", d.revision, "Branch, tag or commit (default: main; ModelScope: master)");
  add_option("--include", d.include, "Only files matching this glob (repeatable; * also matches /)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_option("--exclude", d.exclude, "Leave out files matching this glob (repeatable)")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* local_dir = add_option("--local-dir", d.local_dir, "Write plain files into this folder instead of the cache");
  add_option("--cache-dir", d.cache_dir, "The cache folder (default: $HF_HUB_CACHE or ~/.cache/huggingface/hub)")->excludes(local_dir);
  add_option("--endpoint", d.endpoints,
             "Hub URL (repeatable: a fallback list); default $HF_ENDPOINT or $MODELSCOPE_ENDPOINT, else the hub's own")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_option("--token", d.token, "Access token (default: $HF_TOKEN, $HF_TOKEN_PATH, ~/.cache/huggingface/token; $MODELSCOPE_API_TOKEN)");
  add_option("--max-workers", d.max_workers, "Files downloaded at once")->default_val(8)->check(CLI::Range(1, 256));
  add_option("--connections-per-file", d.transfer.connections, "Parallel ranged connections for one large file")
      ->default_val(8)
      ->check(CLI::Range(1, 64));
  add_flag("--force-download", d.force, "Download again even what is already there");
  add_flag("--dry-run", d.dry_run, "List what would be downloaded, and its size, without downloading");
  add_flag("--quiet,-q", options.quiet, "No progress display; print only the path");
  add_flag("--json", options.json, "Print one JSON object with the path and every file's outcome");
}

}  // namespace llmctl::cli
