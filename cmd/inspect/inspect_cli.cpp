#include "inspect/inspect_cli.hpp"

#include "common/model_argument.hpp"

namespace llmctl::cli {

InspectCommand::InspectCommand() : Command("inspect", "Show what a model is: architecture, parameters, context, files") {
  add_model_argument(*this, options.model, "Model folder (with config.json or tokenizer.json), the path of its config.json, or a hub id (org/name)");
  auto* tensors = add_flag("--tensors", options.tensors, "Also list every tensor with its dtype, shape and file");
  add_flag("--json", options.json, "Print one JSON object on stdout instead of text");

  auto* tokenize = add_option("--tokenize", options.tokenize, "Print the token ids and tokens of TEXT (- reads stdin)");
  add_flag("--add-special-tokens", options.add_special_tokens, "With --tokenize: add the tokenizer's special tokens (BOS...)")
      ->needs(tokenize);
  auto* detokenize = add_option("--detokenize", options.detokenize, "Print the text of comma-separated token IDS");
  add_flag("--skip-special-tokens", options.skip_special_tokens, "With --detokenize: leave out special tokens")->needs(detokenize);
  auto* render_chat = add_option("--render-chat", options.render_chat,
                                 "Print the prompt the chat template makes of MESSAGES.json (a message array or a "
                                 "chat completion request; - reads stdin)");
  add_option("--tools", options.tools, "With --render-chat: a JSON file with the tools array")->needs(render_chat);
  add_flag("--add-generation-prompt", options.add_generation_prompt, "With --render-chat: end with the assistant's turn opening")
      ->needs(render_chat);
  add_option("--chat-template-kwargs", options.chat_template_kwargs,
             "With --render-chat: a JSON object of extra template variables, e.g. '{\"enable_thinking\": false}'")
      ->needs(render_chat);
  add_option("--chat-template", options.chat_template, "With --render-chat: use this template (a file, or the template itself)")
      ->needs(render_chat);
  tokenize->excludes(detokenize)->excludes(render_chat);
  detokenize->excludes(render_chat);
  for (auto* mode : {tokenize, detokenize, render_chat}) mode->excludes(tensors);
}

}  // namespace llmctl::cli
