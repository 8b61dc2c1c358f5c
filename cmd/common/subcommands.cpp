#include "bench/bench_cli.hpp"
#include "common/cli.hpp"
#include "download/download_cli.hpp"
#include "generate/generate_cli.hpp"
#include "inspect/inspect_cli.hpp"
#include "mem-estimate/mem_estimate_cli.hpp"
#include "serve/serve_cli.hpp"

namespace llmctl::cli {

template <class C>
Subcommand describe(std::string_view name) {
  return {name, C().summary(), [] { return std::make_unique<C>(); }};
}

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> list = {
      describe<BenchCommand>("bench"),
      describe<DownloadCommand>("download"),
      describe<GenerateCommand>("generate"),
      describe<InspectCommand>("inspect"),
      describe<MemEstimateCommand>("mem-estimate"),
      describe<ServeCommand>("serve"),
  };
  return list;
}

}  // namespace llmctl::cli
