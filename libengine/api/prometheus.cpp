#include "api/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace llmctl::api::prometheus {

namespace {

// Python's repr(float): the shortest digits that read back exactly, in positional form unless the
// decimal exponent is below -4 or at least 16 ("1e-05", "1e+16"); whole numbers keep ".0".
std::string python_repr(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view scientific(buffer, static_cast<std::size_t>(result.ptr - buffer));  // "-1.25e+06"

  std::string out;
  if (scientific.front() == '-') {
    out += '-';
    scientific.remove_prefix(1);
  }
  const auto e = scientific.find('e');
  std::string digits(scientific.substr(0, e));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::atoi(std::string(scientific.substr(e + 1)).c_str());

  if (exponent < -4 || exponent >= 16) {
    out += digits.front();
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int magnitude = std::abs(exponent);
    out += exponent < 0 ? "e-" : "e+";
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  } else if (exponent < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else {
    const auto whole_digits = static_cast<std::size_t>(exponent + 1);
    if (digits.size() <= whole_digits) {
      out += digits + std::string(whole_digits - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, whole_digits) + "." + digits.substr(whole_digits);
    }
  }
  return out;
}

}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::string repr = python_repr(value);
  // prometheus_client's floatToGoString: Go writes exponents from 1e6 up, Python only from 1e16.
  const auto dot = repr.find('.');
  if (value > 0 && dot != std::string::npos && dot > 6) {
    std::string mantissa = repr.substr(0, 1) + "." + repr.substr(1, dot - 1) + repr.substr(dot + 1);
    while (mantissa.back() == '0' || mantissa.back() == '.') mantissa.pop_back();
    return mantissa + "e+0" + std::to_string(dot - 1);
  }
  return repr;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;  // it fits no bucket (prometheus_client would count it nowhere too)
  // The first bucket whose bound is >= value; past the last bound is the +Inf bucket.
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  ++counts_[static_cast<std::size_t>(bucket)];
  sum_ += value;
}

std::vector<std::int64_t> Histogram::cumulative_counts() const {
  std::vector<std::int64_t> cumulative(counts_.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    total += counts_[i];
    cumulative[i] = total;
  }
  return cumulative;
}

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  std::string escaped_help;
  for (const char c : help) {
    if (c == '\\') {
      escaped_help += "\\\\";
    } else if (c == '\n') {
      escaped_help += "\\n";
    } else {
      escaped_help += c;
    }
  }
  text_.append("# HELP ").append(name).append(" ").append(escaped_help).append("\n");
  text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void TextWriter::sample(std::string_view name, Labels labels, double value) {
  std::sort(labels.begin(), labels.end());
  text_.append(name);
  if (!labels.empty()) {
    text_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_.append(labels[i].first).append("=\"").append(escape_label_value(labels[i].second)).append("\"");
    }
    text_ += '}';
  }
  text_.append(" ").append(format_value(value)).append("\n");
}

void TextWriter::histogram(std::string_view name, const Labels& labels, const Histogram& histogram) {
  const std::string base(name);
  const auto cumulative = histogram.cumulative_counts();
  const auto& bounds = histogram.upper_bounds();
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    Labels bucket_labels = labels;
    const double bound = i < bounds.size() ? bounds[i] : HUGE_VAL;
    bucket_labels.emplace_back("le", format_value(bound));
    sample(base + "_bucket", std::move(bucket_labels), static_cast<double>(cumulative[i]));
  }
  sample(base + "_count", labels, static_cast<double>(cumulative.back()));
  sample(base + "_sum", labels, histogram.sum());
}

}  // namespace llmctl::api::prometheus
