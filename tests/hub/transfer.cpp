#include "transfer.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <limits>
#include <thread>

namespace llmctl::hub_double {

namespace {

constexpr auto none = std::numeric_limits<std::size_t>::max();

// Sleeps, but gives up when the servers are stopping.
void pause(double seconds) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(seconds));
  for (auto now = clock::now(); !stopping && now < deadline; now = clock::now()) {
    std::this_thread::sleep_for(std::min<clock::duration>(deadline - now, std::chrono::milliseconds(50)));
  }
}

struct Range {
  std::size_t first;
  std::size_t last;  // may be past the end
};

// A single "bytes=" range; nullopt for none, several or a malformed one (all served as a whole body).
std::optional<Range> parse_range(std::string_view header, std::size_t size) {
  constexpr std::string_view unit = "bytes=";
  if (!header.starts_with(unit)) return std::nullopt;
  header.remove_prefix(unit.size());
  const auto dash = header.find('-');
  if (dash == std::string_view::npos || header.find(',') != std::string_view::npos) return std::nullopt;
  const auto number = [](std::string_view text, std::size_t& value) {
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
  };
  std::size_t first = 0;
  std::size_t last = none;
  if (dash == 0) {  // the last N bytes
    std::size_t suffix = 0;
    if (!number(header.substr(1), suffix)) return std::nullopt;
    return suffix == 0 ? Range{size, size} : Range{size - std::min(suffix, size), size - 1};
  }
  if (!number(header.substr(0, dash), first)) return std::nullopt;
  if (dash + 1 < header.size() && !number(header.substr(dash + 1), last)) return std::nullopt;
  if (last < first) return std::nullopt;
  return Range{first, last};
}

bool same_header(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  return std::ranges::equal(a, b, {}, lower, lower);
}

// The bytes that go out after the headers, and how the connection ends.
struct Transfer {
  std::shared_ptr<const std::string> data;
  std::size_t begin = 0;  // the body is data[begin, begin + count)
  std::size_t count = 0;
  std::size_t flip = none;  // the index in the body of the byte sent XOR 0xFF
  double rate = 0;          // bytes per second; 0: as fast as possible
  double stall = 0;         // seconds of silence after the bytes
  bool close = false;       // close the connection after the bytes instead of keeping it alive

  bool operator()(std::size_t /*offset*/, httplib::DataSink& sink) const {
    // A trickle writes about ten times a second.
    const std::size_t chunk = rate > 0 ? std::max<std::size_t>(1, static_cast<std::size_t>(rate / 10)) : 65536;
    for (std::size_t sent = 0; sent < count; sent += chunk) {
      if (stopping) return false;
      const auto n = std::min(chunk, count - sent);
      const char* bytes = data->data() + begin + sent;
      std::string flipped;
      if (flip >= sent && flip < sent + n) {
        flipped.assign(bytes, n);
        flipped[flip - sent] = static_cast<char>(flipped[flip - sent] ^ 0xff);
        bytes = flipped.data();
      }
      if (!sink.write(bytes, n)) return false;
      if (rate > 0) pause(static_cast<double>(n) / rate);
    }
    if (stall > 0) pause(stall);
    if (close) return false;  // httplib closes the connection when a content provider fails
    sink.done();
    return true;
  }
};

}  // namespace

void apply_range(const httplib::Request& req, Reply& reply, const std::optional<Fault>& fault) {
  if (!reply.file || reply.status != 200) return;
  reply.headers.emplace("Accept-Ranges", "bytes");
  const auto type = fault ? fault->type : "";
  if (type == "ignore_range") return;
  const auto size = reply.length;
  auto range = parse_range(req.get_header_value("Range"), size);
  if (!range && type == "wrong_content_range" && size > 0) range = Range{0, size - 1};
  if (!range) return;
  if (range->first >= size) {
    reply.status = 416;
    reply.headers.emplace("Content-Range", "bytes */" + std::to_string(size));
    reply.length = 0;
    return;
  }
  auto first = range->first;
  auto last = std::min(range->last, size - 1);
  if (type == "wrong_content_range") {  // the bytes and the header agree, but it is not the range asked for
    first = std::min(first + 1, size - 1);
    last = std::min(last + 1, size - 1);
  }
  reply.status = 206;
  reply.headers.emplace("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                             std::to_string(size));
  reply.offset += first;
  reply.length = last - first + 1;
}

void send(httplib::Response& res, const Reply& reply, const std::optional<Fault>& fault) {
  const auto type = fault ? fault->type : "";
  Transfer transfer{.data = reply.data, .begin = reply.offset, .count = reply.length};
  auto headers = reply.headers;
  bool declare_length = true;
  if (type == "drop_header") {
    const auto name = fault->spec.at("name").get<std::string>();
    headers.erase(name);
    declare_length = !same_header(name, "Content-Length");
  } else if (type == "gzip") {
    const auto body = std::string_view(*reply.data).substr(reply.offset, reply.length);
    transfer.data = std::make_shared<const std::string>(gzip(body));
    transfer.begin = 0;
    transfer.count = transfer.data->size();
    headers.emplace("Content-Encoding", "gzip");
    declare_length = false;
  }
  auto length = transfer.count;
  if (type == "content_length") {
    const auto delta = fault->integer("delta");
    if (delta > 0) {
      length += static_cast<std::size_t>(delta);
      transfer.close = true;  // fewer bytes than declared: only closing the connection ends the body
    } else {
      length -= std::min(length, static_cast<std::size_t>(-delta));
      transfer.count = length;
    }
  } else if (type == "drop_after") {
    transfer.count = std::min(transfer.count, static_cast<std::size_t>(fault->integer("bytes")));
    transfer.close = true;
  } else if (type == "stall") {
    transfer.count = std::min(transfer.count, static_cast<std::size_t>(fault->integer("after_bytes")));
    transfer.stall = fault->number("seconds");
    transfer.close = true;
  } else if (type == "trickle") {
    transfer.rate = fault->number("bytes_per_second");
  } else if (type == "flip_byte") {
    const auto offset = static_cast<std::size_t>(fault->integer("offset"));
    if (offset >= reply.offset && offset < reply.offset + reply.length) transfer.flip = offset - reply.offset;
  }
  if (!declare_length) transfer.close = true;  // the body ends where the connection does

  res.status = reply.status;
  const auto content_type = headers.contains("Content-Type") ? headers.find("Content-Type")->second : "";
  headers.erase("Content-Type");  // set_content_provider sets it
  for (const auto& [name, value] : headers) res.headers.emplace(name, value);
  if (declare_length) res.set_header("Content-Length", std::to_string(length));
  res.set_content_provider(content_type, transfer);
}

}  // namespace llmctl::hub_double
