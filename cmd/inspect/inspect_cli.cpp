#include "inspect/inspect_cli.hpp"

namespace llmctl::cli {

InspectCommand::InspectCommand() : Command("inspect", "Show what a model is: architecture, parameters, context, files") {
  add_option("model", options.model, "Model folder (with config.json), or the path of its config.json")->required();
  add_flag("--tensors", options.tensors, "Also list every tensor with its dtype, shape and file");
  add_flag("--json", options.json, "Print one JSON object on stdout instead of text");
}

}  // namespace llmctl::cli
