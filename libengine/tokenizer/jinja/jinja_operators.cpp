#include "tokenizer/jinja/jinja_operators.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_text.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace llmctl::engine::jinja {
namespace {

// Repetition ("ab" * n) beyond this many items or bytes is refused rather than exhausting memory.
constexpr std::int64_t kMaxRepeatedSize = std::int64_t{1} << 28;

[[noreturn]] void fail_unsupported(std::string_view op, const Value& a, const Value& b) {
  throw RenderError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b)));
}

[[noreturn]] void fail_overflow() { throw RenderError("integer overflow: the result does not fit in 64 bits"); }

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t result = 0;
  if (__builtin_add_overflow(a, b, &result)) fail_overflow();
  return result;
}

std::int64_t checked_subtract(std::int64_t a, std::int64_t b) {
  std::int64_t result = 0;
  if (__builtin_sub_overflow(a, b, &result)) fail_overflow();
  return result;
}

std::int64_t checked_multiply(std::int64_t a, std::int64_t b) {
  std::int64_t result = 0;
  if (__builtin_mul_overflow(a, b, &result)) fail_overflow();
  return result;
}

void require_defined(const Value& a, const Value& b) {
  a.require_defined();
  b.require_defined();
}

bool is_integral(const Value& value) { return value.is_boolean() || value.is_integer(); }

Value repeat(const Value& sequence, std::int64_t count) {
  count = std::max<std::int64_t>(count, 0);
  const std::int64_t size = sequence.is_string() ? static_cast<std::int64_t>(sequence.as_string().size())
                                                 : static_cast<std::int64_t>(sequence.items().size());
  if (size > 0 && count > kMaxRepeatedSize / size) throw RenderError("the repeated sequence would be too large");
  if (sequence.is_string()) {
    std::string text;
    for (std::int64_t i = 0; i < count; ++i) text += sequence.as_string();
    return text;
  }
  std::vector<Value> items;
  for (std::int64_t i = 0; i < count; ++i) items.insert(items.end(), sequence.items().begin(), sequence.items().end());
  return sequence.kind() == Value::Kind::Tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
}

// Python's float floor division and modulo, which take the sign of the divisor.
std::pair<double, double> float_divmod(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floor_div = std::copysign(0.0, a / b);
  if (div != 0.0) {
    floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
  }
  return {floor_div, mod};
}

std::string pad(std::string text, std::size_t width, bool left_align) {
  const std::size_t length = code_point_count(text);
  if (length >= width) return text;
  const std::string fill(width - length, ' ');
  return left_align ? text + fill : fill + text;
}

// One %-conversion's flags, width and precision.
struct Conversion {
  bool left_align = false, plus = false, space = false, alternate = false, zero = false;
  std::size_t width = 0;
  std::optional<std::size_t> precision;
};

std::string format_integer(std::int64_t value, char type, const Conversion& c) {
  std::string prefix = value < 0 ? "-" : c.plus ? "+" : c.space ? " " : "";
  const auto magnitude = value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::string digits = type == 'x'   ? fmt::format("{:x}", magnitude)
                       : type == 'X' ? fmt::format("{:X}", magnitude)
                       : type == 'o' ? fmt::format("{:o}", magnitude)
                                     : std::to_string(magnitude);
  if (c.alternate && type != 'd') prefix += type == 'o' ? "0o" : type == 'x' ? "0x" : "0X";
  if (c.precision && digits.size() < *c.precision) digits.insert(0, *c.precision - digits.size(), '0');
  if (c.zero && !c.left_align && prefix.size() + digits.size() < c.width)
    digits.insert(0, c.width - prefix.size() - digits.size(), '0');
  return pad(prefix + digits, c.width, c.left_align);
}

std::string format_float(double value, char type, const Conversion& c) {
  std::string spec = "{:";
  if (c.left_align) spec += '<';
  if (c.plus)
    spec += '+';
  else if (c.space)
    spec += ' ';
  if (c.alternate) spec += '#';
  if (c.zero && !c.left_align) spec += '0';
  if (c.width > 0) spec += std::to_string(c.width);
  spec += "." + std::to_string(c.precision.value_or(6)) + type + "}";
  return fmt::format(fmt::runtime(spec), value);
}

std::string convert(const Value& value, char type, const Conversion& c) {
  switch (type) {
    case 's':
    case 'r': {
      std::string text = type == 's' ? to_str(value) : repr(value);
      if (c.precision) {
        const auto points = code_points(text);
        if (points.size() > *c.precision)
          text = std::string(text.data(), static_cast<std::size_t>(points[*c.precision].data() - text.data()));
      }
      return pad(std::move(text), c.width, c.left_align);
    }
    case 'd':
    case 'i':
    case 'u':
      if (!value.is_number())
        throw RenderError(fmt::format("%{} format: a real number is required, not {}", type, type_name(value)));
      if (value.is_float() && !std::isfinite(value.as_double()))
        throw RenderError("cannot convert float NaN or infinity to integer");
      return format_integer(value.is_float() ? static_cast<std::int64_t>(value.as_double()) : value.as_int(), 'd', c);
    case 'x':
    case 'X':
    case 'o':
      if (!is_integral(value))
        throw RenderError(fmt::format("%{} format: an integer is required, not {}", type, type_name(value)));
      return format_integer(value.as_int(), type, c);
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
      if (!value.is_number()) throw RenderError(fmt::format("must be real number, not {}", type_name(value)));
      return format_float(value.as_double(), type, c);
    case 'c':
      if (is_integral(value)) {
        std::string character;
        utf8::append_code_point(character, static_cast<char32_t>(value.as_int()));
        return pad(character, c.width, c.left_align);
      }
      if (value.is_string() && code_point_count(value.as_string()) == 1)
        return pad(value.as_string(), c.width, c.left_align);
      throw RenderError("%c requires int or char");
    default:
      return {};
  }
}

}  // namespace

Value add(const Value& a, const Value& b) {
  require_defined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() + b.as_double();
    return checked_add(a.as_int(), b.as_int());
  }
  if (a.is_string() && b.is_string()) return a.as_string() + b.as_string();
  if (a.is_list_or_tuple() && a.kind() == b.kind()) {
    std::vector<Value> items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return a.kind() == Value::Kind::Tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }
  if (a.is_string() || a.is_list_or_tuple())
    throw RenderError(fmt::format("can only concatenate {0} (not \"{1}\") to {0}", type_name(a), type_name(b)));
  fail_unsupported("+", a, b);
}

Value subtract(const Value& a, const Value& b) {
  require_defined(a, b);
  if (!a.is_number() || !b.is_number()) fail_unsupported("-", a, b);
  if (a.is_float() || b.is_float()) return a.as_double() - b.as_double();
  return checked_subtract(a.as_int(), b.as_int());
}

Value multiply(const Value& a, const Value& b) {
  require_defined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() * b.as_double();
    return checked_multiply(a.as_int(), b.as_int());
  }
  const bool a_sequence = a.is_string() || a.is_list_or_tuple();
  const bool b_sequence = b.is_string() || b.is_list_or_tuple();
  if (a_sequence && is_integral(b)) return repeat(a, b.as_int());
  if (b_sequence && is_integral(a)) return repeat(b, a.as_int());
  if (a_sequence || b_sequence)
    throw RenderError(fmt::format("can't multiply sequence by non-int of type '{}'", type_name(a_sequence ? b : a)));
  fail_unsupported("*", a, b);
}

Value divide(const Value& a, const Value& b) {
  require_defined(a, b);
  if (!a.is_number() || !b.is_number()) fail_unsupported("/", a, b);
  if (b.as_double() == 0.0)
    throw RenderError(a.is_float() || b.is_float() ? "float division by zero" : "division by zero");
  return a.as_double() / b.as_double();
}

Value floor_divide(const Value& a, const Value& b) {
  require_defined(a, b);
  if (!a.is_number() || !b.is_number()) fail_unsupported("//", a, b);
  if (a.is_float() || b.is_float()) {
    if (b.as_double() == 0.0) throw RenderError("float floor division by zero");
    return float_divmod(a.as_double(), b.as_double()).first;
  }
  const std::int64_t x = a.as_int();
  const std::int64_t y = b.as_int();
  if (y == 0) throw RenderError("integer division or modulo by zero");
  if (x == std::numeric_limits<std::int64_t>::min() && y == -1) fail_overflow();
  const std::int64_t quotient = x / y;
  return x % y != 0 && ((x < 0) != (y < 0)) ? quotient - 1 : quotient;
}

Value modulo(const Value& a, const Value& b) {
  if (a.is_string()) return percent_format(a.as_string(), b);
  require_defined(a, b);
  if (!a.is_number() || !b.is_number()) fail_unsupported("%", a, b);
  if (a.is_float() || b.is_float()) {
    if (b.as_double() == 0.0) throw RenderError("float modulo");
    return float_divmod(a.as_double(), b.as_double()).second;
  }
  const std::int64_t x = a.as_int();
  const std::int64_t y = b.as_int();
  if (y == 0) throw RenderError("integer modulo by zero");
  if (y == -1) return std::int64_t{0};
  const std::int64_t remainder = x % y;
  return remainder != 0 && ((remainder < 0) != (y < 0)) ? remainder + y : remainder;
}

Value power(const Value& a, const Value& b) {
  require_defined(a, b);
  if (!a.is_number() || !b.is_number()) fail_unsupported("** or pow()", a, b);
  if (is_integral(a) && is_integral(b) && b.as_int() >= 0) {
    std::int64_t result = 1;
    std::int64_t base = a.as_int();
    for (std::int64_t exponent = b.as_int(); exponent > 0; exponent >>= 1) {
      if (exponent & 1) result = checked_multiply(result, base);
      if (exponent > 1) base = checked_multiply(base, base);
    }
    return result;
  }
  const double x = a.as_double();
  const double y = b.as_double();
  if (x == 0.0 && y < 0) throw RenderError("0.0 cannot be raised to a negative power");
  if (x < 0 && y != std::floor(y))
    throw RenderError("a negative number to a fractional power is complex, which templates do not support");
  return std::pow(x, y);
}

Value negate(const Value& value) {
  value.require_defined();
  if (value.is_float()) return -value.as_double();
  if (!value.is_number()) throw RenderError(fmt::format("bad operand type for unary -: '{}'", type_name(value)));
  return checked_subtract(0, value.as_int());
}

Value unary_plus(const Value& value) {
  value.require_defined();
  if (!value.is_number()) throw RenderError(fmt::format("bad operand type for unary +: '{}'", type_name(value)));
  return value.is_float() ? Value(value.as_double()) : Value(value.as_int());
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;  // Jinja's Undefined iterates as empty
    case Value::Kind::String:
      if (!item.is_string())
        throw RenderError(fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (const auto& candidate : container.items())
        if (equals(candidate, item)) return true;
      return false;
    case Value::Kind::Dict:
      require_hashable(item);
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::Generator: {
      // Python consumes a generator up to the item it finds.
      auto& generator = container.as_generator();
      while (generator.next < generator.items.size())
        if (equals(generator.items[generator.next++], item)) return true;
      return false;
    }
    default:
      throw RenderError(fmt::format("argument of type '{}' is not iterable", type_name(container)));
  }
}

Value slice(const Value& sequence, const Value& start, const Value& stop, const Value& step) {
  sequence.require_defined();
  if (sequence.is_dict()) throw RenderError("unhashable type: 'slice'");  // Python 3.11's dict lookup
  if (!sequence.is_string() && !sequence.is_list_or_tuple())
    throw RenderError(fmt::format("'{}' object is not subscriptable", type_name(sequence)));
  const auto valid = [](const Value& bound) { return bound.is_none() || is_integral(bound); };
  if (!valid(start) || !valid(stop) || !valid(step))
    throw RenderError("slice indices must be integers or None or have an __index__ method");
  const auto bound = [](const Value& value) -> std::optional<std::int64_t> {
    if (value.is_none()) return std::nullopt;
    return value.as_int();
  };
  const std::int64_t stride = bound(step).value_or(1);
  if (stride == 0) throw RenderError("slice step cannot be zero");

  std::vector<std::string_view> characters;
  if (sequence.is_string()) characters = code_points(sequence.as_string());
  const auto size = static_cast<std::int64_t>(sequence.is_string() ? characters.size() : sequence.items().size());
  // Python's slice.indices(): negative bounds count from the end, then everything is clamped.
  const auto clamp = [&](std::optional<std::int64_t> index, std::int64_t if_absent) {
    if (!index) return if_absent;
    std::int64_t i = *index < 0 ? *index + size : *index;
    if (i < 0) return stride < 0 ? std::int64_t{-1} : std::int64_t{0};
    if (i >= size) return stride < 0 ? size - 1 : size;
    return i;
  };
  const std::int64_t first = clamp(bound(start), stride < 0 ? size - 1 : 0);
  const std::int64_t last = clamp(bound(stop), stride < 0 ? -1 : size);

  std::string text;
  std::vector<Value> items;
  for (std::int64_t i = first; stride > 0 ? i < last : i > last; i += stride) {
    if (sequence.is_string())
      text += characters[static_cast<std::size_t>(i)];
    else
      items.push_back(sequence.items()[static_cast<std::size_t>(i)]);
  }
  if (sequence.is_string()) return text;
  return sequence.kind() == Value::Kind::Tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
}

std::string percent_format(std::string_view format, const Value& arguments) {
  const bool is_tuple = arguments.kind() == Value::Kind::Tuple;
  const std::vector<Value> positional = is_tuple ? arguments.items() : std::vector<Value>{arguments};
  std::size_t next_argument = 0;
  const auto take_argument = [&]() -> const Value& {
    if (next_argument >= positional.size()) throw RenderError("not enough arguments for format string");
    return positional[next_argument++];
  };
  const auto read_number = [&](std::size_t& i) {
    if (i < format.size() && format[i] == '*') {
      ++i;
      const Value& value = take_argument();
      if (!is_integral(value)) throw RenderError("* wants int");
      return static_cast<std::size_t>(std::max<std::int64_t>(value.as_int(), 0));
    }
    std::size_t number = 0;
    for (; i < format.size() && format[i] >= '0' && format[i] <= '9'; ++i)
      number = number * 10 + static_cast<std::size_t>(format[i] - '0');
    return number;
  };

  std::string out;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    ++i;
    std::optional<Value> keyed;
    if (i < format.size() && format[i] == '(') {
      if (!arguments.is_dict() || is_tuple) throw RenderError("format requires a mapping");
      const std::size_t close = format.find(')', i);
      if (close == std::string_view::npos) throw RenderError("incomplete format key");
      const Value key(std::string(format.substr(i + 1, close - i - 1)));
      const Value* found = arguments.as_dict().find(key);
      if (found == nullptr) throw RenderError(repr(key));
      keyed = *found;
      i = close + 1;
    }
    Conversion conversion;
    for (; i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos; ++i) {
      conversion.left_align |= format[i] == '-';
      conversion.plus |= format[i] == '+';
      conversion.space |= format[i] == ' ';
      conversion.alternate |= format[i] == '#';
      conversion.zero |= format[i] == '0';
    }
    conversion.width = read_number(i);
    if (i < format.size() && format[i] == '.') conversion.precision = read_number(++i);
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) throw RenderError("incomplete format");
    const char type = format[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (std::string_view("srdiuxXofFeEgGc").find(type) == std::string_view::npos)
      throw RenderError(fmt::format("unsupported format character '{}' ({:#x}) at index {}", type,
                                    static_cast<unsigned char>(type), i));
    out += convert(keyed ? *keyed : take_argument(), type, conversion);
  }
  // Arguments left over are an error, except from a list or dict: Python lets any mapping through.
  if (next_argument < positional.size() && !arguments.is_dict() && arguments.kind() != Value::Kind::List)
    throw RenderError("not all arguments converted during string formatting");
  return out;
}

}  // namespace llmctl::engine::jinja
