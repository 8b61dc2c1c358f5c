#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The pieces of Prometheus' text exposition format (version 0.0.4) that /metrics needs, written the
// way Python's prometheus_client writes them (vLLM's exporter), so that our output reads like vLLM's.
namespace llmctl::api::prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A sample value as prometheus_client prints it: Python's repr of the float ("1.0", "0.001", "1e-05"),
// switched to Go's exponent form from a million up ("1e+06", "1.234567e+06"); "+Inf", "-Inf", "NaN".
std::string format_value(double value);

// A label value inside its quotes: \ " and newline escaped.
std::string escape_label_value(std::string_view value);

// Observations counted into fixed buckets; le="+Inf" is implicit. Not thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending

  void observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // How many observations were <= upper_bounds()[i]; the last entry is the +Inf bucket (the count).
  std::vector<std::int64_t> cumulative_counts() const;
  double sum() const { return sum_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<std::int64_t> counts_;  // per bucket, not cumulative; one more than upper_bounds_
  double sum_ = 0;
};

// Appends metric families to a text exposition.
class TextWriter {
 public:
  // "# HELP name help" and "# TYPE name type"; a counter's name ends in _total.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One line; the labels are written sorted by name, as prometheus_client does.
  void sample(std::string_view name, Labels labels, double value);
  // name_bucket for each bound and +Inf (cumulative), then name_count and name_sum.
  void histogram(std::string_view name, const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace llmctl::api::prometheus
