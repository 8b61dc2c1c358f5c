#pragma once

// The three surfaces: the Hugging Face Hub and ModelScope APIs (both on the hub port) and the CDN.

#include "common.hpp"

namespace llmctl::hub_double {

Reply hf_route(const Context& ctx, const Call& call);
Reply modelscope_route(const Context& ctx, const Call& call);
Reply cdn_route(const Context& ctx, const Call& call);

}  // namespace llmctl::hub_double
