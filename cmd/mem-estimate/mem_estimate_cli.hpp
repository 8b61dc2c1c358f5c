#pragma once

#include "common/cli.hpp"
#include "runtime/memory_estimate.hpp"

#include <string>

namespace llmctl::cli {

struct MemEstimateOptions {
  std::string model;
  engine::MemoryEstimateRequest request;
  bool json = false;
};

class MemEstimateCommand : public Command {
 public:
  MemEstimateCommand();
  MemEstimateOptions options;
};

}  // namespace llmctl::cli
