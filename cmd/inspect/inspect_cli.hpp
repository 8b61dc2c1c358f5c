#pragma once

#include "common/cli.hpp"

#include <string>

namespace llmctl::cli {

struct InspectOptions {
  std::string model;
  bool tensors = false;
  bool json = false;
};

class InspectCommand : public Command {
 public:
  InspectCommand();
  InspectOptions options;
};

}  // namespace llmctl::cli
