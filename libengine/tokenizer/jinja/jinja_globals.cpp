// The global functions of Hugging Face's environment: Jinja's range (as its sandbox limits it), dict
// and namespace, and transformers' raise_exception and strftime_now.
#include "tokenizer/jinja/jinja_builtins.hpp"

#include "tokenizer/jinja/jinja_error.hpp"

#include <fmt/format.h>

#include <ctime>

namespace llmctl::engine::jinja {
namespace {

constexpr std::int64_t kMaxRange = 100000;  // the sandbox's MAX_RANGE

Value range_function(const Arguments& arguments) {
  if (!arguments.keyword.empty()) throw RenderError("range() takes no keyword arguments");
  const auto& given = arguments.positional;
  if (given.empty()) throw RenderError("range expected at least 1 argument, got 0");
  if (given.size() > 3) throw RenderError(fmt::format("range expected at most 3 arguments, got {}", given.size()));
  const std::int64_t start = given.size() > 1 ? to_index(given[0]) : 0;
  const std::int64_t stop = to_index(given.size() > 1 ? given[1] : given[0]);
  const std::int64_t step = given.size() > 2 ? to_index(given[2]) : 1;
  if (step == 0) throw RenderError("range() arg 3 must not be zero");
  // The span in unsigned arithmetic, which holds any difference of two int64 values.
  const bool ascending = step > 0;
  const std::uint64_t span = ascending ? static_cast<std::uint64_t>(stop) - static_cast<std::uint64_t>(start)
                                       : static_cast<std::uint64_t>(start) - static_cast<std::uint64_t>(stop);
  const std::uint64_t stride = ascending ? static_cast<std::uint64_t>(step) : 0 - static_cast<std::uint64_t>(step);
  const bool empty = ascending ? stop <= start : stop >= start;
  const std::uint64_t count = empty ? 0 : (span - 1) / stride + 1;
  if (count > static_cast<std::uint64_t>(kMaxRange))
    throw RenderError(fmt::format("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange));
  std::vector<Value> numbers;
  for (std::uint64_t i = 0; i < count; ++i) numbers.emplace_back(start + static_cast<std::int64_t>(i) * step);
  return Value::list(std::move(numbers));
}

// dict(mapping_or_pairs, **keywords), which namespace() takes too.
Dict make_dict(std::string_view function, const Arguments& arguments) {
  if (arguments.positional.size() > 1)
    throw RenderError(fmt::format("{} expected at most 1 argument, got {}", function, arguments.positional.size()));
  Dict dict;
  if (!arguments.positional.empty()) {
    const Value& source = arguments.positional.front();
    if (source.is_dict()) {
      dict = source.as_dict();
    } else {
      const auto pairs = iterate(source);
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        const auto pair = iterate(pairs[i]);
        if (pair.size() != 2)
          throw RenderError(
              fmt::format("dictionary update sequence element #{} has length {}; 2 is required", i, pair.size()));
        require_hashable(pair[0]);
        dict.set(pair[0], pair[1]);
      }
    }
  }
  for (const auto& [name, value] : arguments.keyword) dict.set(name, value);
  return dict;
}

Value raise_exception(const Arguments& arguments) {
  const auto args = arguments.bind("raise_exception", {"message"});
  if (!args[0]) throw RenderError("raise_exception() missing 1 required positional argument: 'message'");
  throw RenderError(to_str(*args[0]));
}

Value strftime_now(const Arguments& arguments) {
  const auto args = arguments.bind("strftime_now", {"format"});
  if (!args[0]) throw RenderError("strftime_now() missing 1 required positional argument: 'format'");
  const std::string format = to_str(*args[0]);
  if (format.empty()) return "";
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  // strftime returns 0 when the buffer is too small; an output larger than this is not a date.
  for (std::size_t size = 256; size <= 256 + format.size() * 64; size *= 2) {
    std::string buffer(size, '\0');
    const std::size_t written = std::strftime(buffer.data(), buffer.size(), format.c_str(), &local);
    if (written > 0) return buffer.substr(0, written);
  }
  return "";
}

}  // namespace

std::vector<std::pair<std::string, Value>> global_functions() {
  return {
      {"range", Value::callable("<function safe_range>", range_function)},
      {"dict", Value::callable("<class 'dict'>",
                               [](const Arguments& arguments) { return Value::dict(make_dict("dict", arguments)); })},
      {"namespace", Value::callable("<class 'jinja2.utils.Namespace'>",
                                    [](const Arguments& arguments) {
                                      return Value::object(
                                          std::make_shared<Namespace>(make_dict("Namespace", arguments)));
                                    })},
      {"raise_exception", Value::callable("<function raise_exception>", raise_exception)},
      {"strftime_now", Value::callable("<function strftime_now>", strftime_now)},
  };
}

std::optional<Value> Namespace::attribute(const std::string& name) {
  if (const Value* value = attributes_.find(name)) return *value;
  return std::nullopt;
}

std::string Namespace::repr() const { return "<Namespace " + jinja::repr(Value::dict(attributes_)) + ">"; }

}  // namespace llmctl::engine::jinja
