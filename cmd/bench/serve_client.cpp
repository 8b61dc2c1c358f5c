#include "bench/serve_client.hpp"

#include "common/error.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <string_view>

namespace llmctl::bench {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_curl_initialised() { static const CurlGlobal global; }

// Reads what the benchmark needs from one streamed chunk without building a DOM: how many choices it
// has, the text of the first (choices[0].text or choices[0].delta.content), the usage counts and an
// error message.
class ChunkReader : public nlohmann::json_sax<Json> {
 public:
  explicit ChunkReader(std::string& text) : text_(text) {}

  std::size_t choices = 0;
  bool has_usage = false;
  std::optional<std::int64_t> prompt_tokens, completion_tokens;
  std::optional<std::string> error;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t value) override { return integer(value); }
  bool number_unsigned(number_unsigned_t value) override { return integer(static_cast<std::int64_t>(value)); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& value) override {
    const Key key = depth_ > 0 ? frames_[depth_ - 1].key : Key::other;
    const Place place = depth_ > 0 ? frames_[depth_ - 1].place : Place::other;
    if ((place == Place::first_choice && key == Key::text) || (place == Place::delta && key == Key::content))
      text_ += value;
    else if ((place == Place::error && key == Key::message) || (place == Place::root && key == Key::error))
      error = value;
    return scalar();
  }
  bool start_object(std::size_t) override { return push(false); }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override { return push(true); }
  bool end_array() override { return pop(); }
  bool key(string_t& name) override {
    frames_[depth_ - 1].key = name == "choices"             ? Key::choices
                              : name == "text"              ? Key::text
                              : name == "delta"             ? Key::delta
                              : name == "content"           ? Key::content
                              : name == "usage"             ? Key::usage
                              : name == "prompt_tokens"     ? Key::prompt_tokens
                              : name == "completion_tokens" ? Key::completion_tokens
                              : name == "error"             ? Key::error
                              : name == "message"           ? Key::message
                                                            : Key::other;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  enum class Place { other, root, choices, first_choice, delta, usage, error };
  enum class Key { other, choices, text, delta, content, usage, prompt_tokens, completion_tokens, error, message };
  struct Frame {
    Place place = Place::other;
    bool array = false;
    std::size_t elements = 0;
    Key key = Key::other;
  };

  // The place of a value about to start inside the innermost frame.
  Place child_place(bool array) {
    if (depth_ == 0) return array ? Place::other : Place::root;
    Frame& parent = frames_[depth_ - 1];
    if (parent.array) return ++parent.elements == 1 && parent.place == Place::choices && !array ? Place::first_choice : Place::other;
    if (parent.place == Place::root && parent.key == Key::choices && array) return Place::choices;
    if (parent.place == Place::root && parent.key == Key::usage && !array) return Place::usage;
    if (parent.place == Place::root && parent.key == Key::error && !array) return Place::error;
    if (parent.place == Place::first_choice && parent.key == Key::delta && !array) return Place::delta;
    return Place::other;
  }
  bool push(bool array) {
    if (depth_ == frames_.size()) return false;  // deeper than any chunk the benchmark reads
    const Place place = child_place(array);
    if (place == Place::usage) has_usage = true;
    frames_[depth_++] = {place, array, 0, Key::other};
    return true;
  }
  bool pop() {
    const Frame& frame = frames_[--depth_];
    if (frame.place == Place::choices) choices = frame.elements;
    return true;
  }
  bool scalar() {
    if (depth_ > 0 && frames_[depth_ - 1].array) ++frames_[depth_ - 1].elements;
    return true;
  }
  bool integer(std::int64_t value) {
    if (depth_ > 0 && frames_[depth_ - 1].place == Place::usage) {
      if (frames_[depth_ - 1].key == Key::prompt_tokens) prompt_tokens = value;
      if (frames_[depth_ - 1].key == Key::completion_tokens) completion_tokens = value;
    }
    return scalar();
  }

  std::string& text_;
  std::array<Frame, 16> frames_{};
  std::size_t depth_ = 0;
};

// One request in flight: the server-sent events of its response, parsed as they arrive.
struct Transfer {
  std::size_t index = 0;
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  std::array<char, CURL_ERROR_SIZE> curl_error{};
  StreamResult* result = nullptr;
  Clock::time_point start, last_chunk;
  long status = 0;
  std::string pending;     // bytes after the last complete line
  std::string data;        // the data lines of the event being read
  bool has_data = false;
  bool first_chunk = false;
  bool done = false;       // data: [DONE] arrived
  std::string failure;     // set when the stream is already known to be bad
  std::string error_body;  // the body of a non-200 answer

  ~Transfer() {
    if (handle) curl_easy_cleanup(handle);
    curl_slist_free_all(headers);
  }

  void feed(std::string_view bytes, Clock::time_point now) {
    pending.append(bytes);
    std::size_t begin = 0;
    for (std::size_t end; (end = pending.find('\n', begin)) != std::string::npos; begin = end + 1)
      line(std::string_view(pending).substr(begin, end - begin), now);
    pending.erase(0, begin);
  }

  void line(std::string_view text, Clock::time_point now) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) return dispatch(now);
    if (text.front() == ':' || !text.starts_with("data:")) return;  // a comment (a ping), or a field we ignore
    text.remove_prefix(5);
    if (text.starts_with(' ')) text.remove_prefix(1);
    if (has_data) data += '\n';
    data += text;
    has_data = true;
  }

  void dispatch(Clock::time_point now) {
    if (!has_data) return;
    has_data = false;
    if (done || !failure.empty()) return;
    if (data == "[DONE]") {
      done = true;
    } else {
      ChunkReader reader(result->generated_text);
      if (!Json::sax_parse(data.begin(), data.end(), &reader)) {
        failure = fmt::format("malformed event in the stream: {:.200}", data);
      } else if (reader.error) {
        failure = fmt::format("error in the stream: {:.300}", *reader.error);
      } else if (reader.choices > 0) {
        if (!first_chunk) result->ttft = seconds(now - start);
        else result->itl.push_back(seconds(now - last_chunk));
        first_chunk = true;
        last_chunk = now;
      } else if (reader.has_usage) {
        result->output_tokens = reader.completion_tokens.value_or(0);
        if (reader.prompt_tokens) result->prompt_len = *reader.prompt_tokens;
      }
    }
    data.clear();
  }

  // The end of a transfer that libcurl completed with `code`.
  void finish(CURLcode code) {
    if (status == 0) curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK && status == 200) {  // a last event without its blank line
      const auto now = Clock::now();
      if (!pending.empty()) line(pending, now);
      dispatch(now);
    }
    StreamResult& r = *result;
    if (!failure.empty()) r.error = failure;
    else if (code != CURLE_OK) r.error = curl_error[0] ? curl_error.data() : curl_easy_strerror(code);
    else if (status != 200) r.error = fmt::format("HTTP {}: {}", status, server_message());
    else if (!first_chunk) r.error = "the stream had no chunk with a choice, so no time to first token";
    else if (!done) r.error = "the stream ended without data: [DONE]";
    r.success = r.error.empty();
    if (r.success) r.latency = seconds(last_chunk - start);
  }

  // The message of an error answer: OpenAI's {"error": {"message"}}, else its first line.
  std::string server_message() const {
    const auto json = Json::parse(error_body, nullptr, false);
    if (json.is_object() && json.contains("error")) {
      const auto& error = json["error"];
      if (error.is_object() && error.contains("message") && error["message"].is_string()) return error["message"];
      if (error.is_string()) return error;
    }
    if (json.is_object() && json.contains("message") && json["message"].is_string()) return json["message"];
    return error_body.substr(0, error_body.find('\n'));
  }
};

std::size_t on_data(char* bytes, std::size_t, std::size_t size, void* user) {
  const auto now = Clock::now();
  auto& transfer = *static_cast<Transfer*>(user);
  if (transfer.status == 0) curl_easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &transfer.status);
  if (transfer.status != 200) {
    if (transfer.error_body.size() < 4096) transfer.error_body.append(bytes, std::min<std::size_t>(size, 4096));
    return size;
  }
  transfer.feed(std::string_view(bytes, size), now);
  return transfer.failure.empty() ? size : 0;  // stop reading a stream already known to be bad
}

std::unique_ptr<Transfer> start_transfer(const std::string& url, const std::vector<std::string>& headers,
                                         const StreamRequest& request, StreamResult& result, std::size_t index) {
  auto transfer = std::make_unique<Transfer>();
  transfer->index = index;
  transfer->result = &result;
  result.prompt_len = request.prompt_len;
  result.itl.reserve(static_cast<std::size_t>(std::max<std::int64_t>(request.expected_output_len, 1)));
  transfer->pending.reserve(4096);
  transfer->data.reserve(1024);
  for (const auto& header : headers) transfer->headers = curl_slist_append(transfer->headers, header.c_str());
  transfer->headers = curl_slist_append(transfer->headers, "Content-Type: application/json");
  transfer->headers = curl_slist_append(transfer->headers, "Expect:");  // no 100-continue round trip
  transfer->headers = curl_slist_append(transfer->headers, ("x-request-id: " + request.request_id).c_str());
  CURL* handle = transfer->handle = curl_easy_init();
  if (!handle || !transfer->headers) throw Error("libcurl cannot start a request");
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, transfer->headers);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(handle, CURLOPT_PRIVATE, transfer.get());
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, transfer->curl_error.data());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, 6L * 60 * 60);  // vLLM's limit on one request
  curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "identity");
  return transfer;
}

}  // namespace

StreamClient::StreamClient(std::string url, std::vector<std::string> headers)
    : url_(std::move(url)), headers_(std::move(headers)) {
  ensure_curl_initialised();
  multi_ = curl_multi_init();
  if (!multi_) throw Error("libcurl cannot start");
}

StreamClient::~StreamClient() { curl_multi_cleanup(static_cast<CURLM*>(multi_)); }

std::vector<StreamResult> StreamClient::run(const std::vector<StreamRequest>& requests, const std::vector<double>& arrivals,
                                            std::optional<int> max_concurrency, double& duration) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  const std::size_t count = requests.size();
  const std::size_t limit = max_concurrency ? static_cast<std::size_t>(*max_concurrency) : count;
  // Keep a connection per request that may be in flight, as vLLM's connection pool does.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max<std::size_t>(limit, 16)));
  std::vector<StreamResult> results(count);
  std::vector<std::unique_ptr<Transfer>> transfers(count);
  std::vector<Clock::time_point> arrived(count);
  std::deque<std::size_t> waiting;
  std::size_t next = 0, in_flight = 0, finished = 0;
  const auto begin = Clock::now();
  const auto arrival = [&](std::size_t i) {
    return begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals[i]));
  };
  while (finished < count) {
    const auto now = Clock::now();
    for (; next < count && arrival(next) <= now; ++next) {
      arrived[next] = now;
      waiting.push_back(next);
    }
    for (; !waiting.empty() && in_flight < limit; waiting.pop_front(), ++in_flight) {
      const std::size_t i = waiting.front();
      transfers[i] = start_transfer(url_, headers_, requests[i], results[i], i);
      transfers[i]->start = transfers[i]->last_chunk = Clock::now();
      results[i].start_time = seconds(transfers[i]->start - begin);
      results[i].queue_time = seconds(transfers[i]->start - arrived[i]);
      if (curl_multi_add_handle(multi, transfers[i]->handle) != CURLM_OK) throw Error("libcurl cannot start a request");
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      const CURLcode code = message->data.result;
      curl_multi_remove_handle(multi, message->easy_handle);
      transfer->finish(code);
      transfers[transfer->index].reset();
      --in_flight;
      ++finished;
    }
    if (finished == count) break;
    int timeout_ms = 1000;
    if (!waiting.empty() && in_flight < limit) timeout_ms = 0;
    else if (next < count)
      timeout_ms = static_cast<int>(std::clamp<double>(std::ceil(seconds(arrival(next) - Clock::now()) * 1e3), 0, 1000));
    curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
  }
  duration = seconds(Clock::now() - begin);
  return results;
}

nlohmann::json get_json(const std::string& url, const std::vector<std::string>& headers) {
  ensure_curl_initialised();
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), &curl_easy_cleanup);
  curl_slist* list = nullptr;
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list, &curl_slist_free_all);
  std::string body;
  std::array<char, CURL_ERROR_SIZE> error{};
  CURL* curl = handle.get();
  if (!curl) throw Error("libcurl cannot start a request");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* bytes, std::size_t, std::size_t size, void* user) {
    static_cast<std::string*>(user)->append(bytes, size);
    return size;
  });
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) throw Error(fmt::format("GET {}: {}", url, error[0] ? error.data() : curl_easy_strerror(code)));
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) throw Error(fmt::format("GET {}: HTTP {}: {:.300}", url, status, body.substr(0, body.find('\n'))));
  auto json = Json::parse(body, nullptr, false);
  if (json.is_discarded()) throw Error(fmt::format("GET {}: the answer is not JSON: {:.200}", url, body));
  return json;
}

}  // namespace llmctl::bench
