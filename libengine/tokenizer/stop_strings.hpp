#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// Finds stop strings in streamed text, across token boundaries: text that could be the start of a
// stop string is held back until the next delta decides, so a client never receives part of a stop
// string (vLLM holds back the longest stop string's length; this holds only what can still match).
class StopStringMatcher {
 public:
  StopStringMatcher(std::vector<std::string> stop_strings, bool include_stop_string);

  struct Step {
    std::string text;         // safe to send now
    const std::string* stop;  // the stop string that ended the sequence, or nullptr
  };
  // While `may_stop` is false (vLLM's min_tokens not yet reached) nothing stops the text, but a suffix
  // that may begin a stop string is still held, so that a stop string ending after the threshold is found.
  Step push(std::string_view delta, bool may_stop = true);
  // The held-back text, when the sequence ends for another reason (EOS, length).
  std::string finish();

 private:
  std::vector<std::string> stop_strings_;
  bool include_stop_string_;
  std::string held_;
};

}  // namespace llmctl::engine
