#pragma once
// The HTTP side of `llmctl bench serve`: streamed requests sent on a schedule over libcurl's multi
// interface (one thread, every connection kept open between requests), each timed as vLLM's benchmark
// client times it (vllm/benchmarks/lib/endpoint_request_func.py).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::bench {

struct StreamRequest {
  std::string body;                  // the JSON body, with "stream": true
  std::string request_id;            // sent as x-request-id
  std::int64_t prompt_len = 0;       // until the server's usage chunk says otherwise
  std::int64_t expected_output_len = 0;
};

// vLLM's RequestFuncOutput. Times in seconds. TTFT is the arrival of the first chunk with a choice,
// ITL the gaps between such chunks, latency the time of the last one.
struct StreamResult {
  bool success = false;
  std::string error;  // one line when !success
  std::string generated_text;
  std::int64_t prompt_len = 0;
  std::int64_t output_tokens = 0;  // usage.completion_tokens; 0 when the server sent no usage
  double ttft = 0.0;
  std::vector<double> itl;
  double latency = 0.0;
  double start_time = 0.0;  // since the start of the run
  double queue_time = 0.0;  // from the arrival to the start: waiting for --max-concurrency
};

class StreamClient {
 public:
  // `url`: the endpoint; `headers`: "Name: value" lines sent with every request.
  StreamClient(std::string url, std::vector<std::string> headers);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Request i arrives `arrivals[i]` seconds after the call and starts as soon as fewer than
  // `max_concurrency` are in flight. Returns the results in the order of the requests; `duration` is
  // the time from the call to the end of the last request.
  std::vector<StreamResult> run(const std::vector<StreamRequest>& requests, const std::vector<double>& arrivals,
                                std::optional<int> max_concurrency, double& duration);

 private:
  std::string url_;
  std::vector<std::string> headers_;
  void* multi_;  // CURLM*, kept so that connections are reused from one run to the next
};

// GET `url` with `headers`, parsed as JSON; llmctl::Error with one line on any failure.
nlohmann::json get_json(const std::string& url, const std::vector<std::string>& headers);

}  // namespace llmctl::bench
