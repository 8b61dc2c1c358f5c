#pragma once

#include "common/cli.hpp"
#include "libhub/snapshot_download.hpp"

#include <string>

namespace llmctl::cli {

struct DownloadCliOptions {
  hub::DownloadOptions download;
  std::string source = "hf";
  bool quiet = false;
  bool json = false;
};

class DownloadCommand : public Command {
 public:
  DownloadCommand();
  DownloadCliOptions options;
};

}  // namespace llmctl::cli
