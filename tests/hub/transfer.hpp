#pragma once

// Puts a Reply on the wire: Range, and the faults that reshape a real answer (drop_after, stall,
// trickle, content_length, flip_byte, ignore_range, wrong_content_range, drop_header, gzip).

#include "common.hpp"
#include "faults.hpp"

#include <optional>

namespace llmctl::hub_double {

// Answers a Range request for a file: 206 with Content-Range, or 416 when the range starts past the end.
// Every file answer also gets Accept-Ranges.
void apply_range(const httplib::Request& req, Reply& reply, const std::optional<Fault>& fault);

// Hands the reply to httplib. The body always goes through a content provider, so that this code (not
// httplib) decides the Content-Length, the bytes and when the connection closes.
void send(httplib::Response& res, const Reply& reply, const std::optional<Fault>& fault);

}  // namespace llmctl::hub_double
