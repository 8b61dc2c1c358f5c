#include "tokenizer/jinja/jinja_interpreter.hpp"

#include "tokenizer/jinja/jinja_builtins.hpp"
#include "tokenizer/jinja/jinja_json.hpp"
#include "tokenizer/jinja/jinja_operators.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace llmctl::engine::jinja {
namespace {

// Macro calls nested deeper than this fail, as Python's recursion limit makes them fail in Jinja.
constexpr int kMaxMacroDepth = 250;

// The variables of one scope; lookups continue in the enclosing scopes.
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent = nullptr) : parent_(std::move(parent)) {}

  const Value* find(const std::string& name) const {
    for (const Scope* scope = this; scope != nullptr; scope = scope->parent_.get())
      if (const auto found = scope->variables_.find(name); found != scope->variables_.end()) return &found->second;
    return nullptr;
  }
  void set(const std::string& name, Value value) { variables_[name] = std::move(value); }

 private:
  std::unordered_map<std::string, Value> variables_;
  std::shared_ptr<Scope> parent_;
};

// The `loop` variable of a for loop (Jinja's LoopContext). One object serves every iteration.
class LoopInfo : public Object, public std::enable_shared_from_this<LoopInfo> {
 public:
  explicit LoopInfo(std::vector<Value> items) : items_(std::move(items)) {}

  const std::vector<Value>& items() const { return items_; }
  void set_index(std::size_t index) { index_ = index; }

  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override { return fmt::format("<LoopContext {}/{}>", index_ + 1, items_.size()); }

  std::optional<Value> attribute(const std::string& name) override {
    const auto length = static_cast<std::int64_t>(items_.size());
    const auto index0 = static_cast<std::int64_t>(index_);
    if (name == "index0") return index0;
    if (name == "index") return index0 + 1;
    if (name == "revindex0") return length - index0 - 1;
    if (name == "revindex") return length - index0;
    if (name == "first") return index_ == 0;
    if (name == "last") return index_ + 1 == items_.size();
    if (name == "length") return length;
    if (name == "depth0") return 0;
    if (name == "depth") return 1;
    if (name == "previtem") return index_ > 0 ? items_[index_ - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
      return index_ + 1 < items_.size() ? items_[index_ + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
      return Value::callable("<bound method LoopContext.cycle>", [index0](const Arguments& arguments) {
        if (!arguments.keyword.empty()) throw RenderError("cycle() takes no keyword arguments");
        if (arguments.positional.empty()) throw RenderError("no items for cycling given");
        return arguments.positional[static_cast<std::size_t>(index0) % arguments.positional.size()];
      });
    }
    if (name == "changed") {
      return Value::callable("<bound method LoopContext.changed>",
                             [self = shared_from_this()](const Arguments& arguments) {
                               // True when the values differ from the last call's (or there was none).
                               Value values = Value::tuple(arguments.positional);
                               if (self->last_changed_ && equals(*self->last_changed_, values)) return Value(false);
                               self->last_changed_ = std::move(values);
                               return Value(true);
                             });
    }
    return std::nullopt;
  }

 private:
  std::vector<Value> items_;
  std::size_t index_ = 0;
  std::optional<Value> last_changed_;
};

class Renderer {
 public:
  explicit Renderer(std::string_view origin) : origin_(origin) {}

  std::string render(const Body& body, const nlohmann::ordered_json& context) {
    auto globals = std::make_shared<Scope>();
    for (auto& [name, value] : global_functions()) globals->set(name, std::move(value));
    scope_ = std::make_shared<Scope>(std::move(globals));
    try {
      for (const auto& [name, value] : context.items()) scope_->set(name, from_json(value));
    } catch (const RenderError& error) {
      throw llmctl::Error(fmt::format("{}: {}", origin_, error.what()));
    }
    std::string out;
    execute(body, out);
    return out;
  }

 private:
  enum class Flow { Normal, Break, Continue };

  std::string_view origin_;
  std::shared_ptr<Scope> scope_;
  int macro_depth_ = 0;

  // Makes `scope` the current scope until it goes out of scope itself.
  class EnterScope {
   public:
    EnterScope(Renderer& renderer, std::shared_ptr<Scope> scope)
        : renderer_(renderer), saved_(std::move(renderer.scope_)) {
      renderer_.scope_ = std::move(scope);
    }
    ~EnterScope() { renderer_.scope_ = std::move(saved_); }
    EnterScope(const EnterScope&) = delete;
    EnterScope& operator=(const EnterScope&) = delete;

   private:
    Renderer& renderer_;
    std::shared_ptr<Scope> saved_;
  };

  std::shared_ptr<Scope> child_scope() const { return std::make_shared<Scope>(scope_); }

  // --- Statements ---

  Flow execute(const Body& body, std::string& out) {
    for (const auto& statement : body)
      if (const Flow flow = execute(statement, out); flow != Flow::Normal) return flow;
    return Flow::Normal;
  }

  // A body run in a scope of its own.
  Flow execute_scoped(const Body& body, std::string& out) {
    EnterScope enter(*this, child_scope());
    return execute(body, out);
  }

  Flow execute(const Statement& statement, std::string& out) {
    try {
      return std::visit([&](const auto& node) { return run(node, out); }, statement.node);
    } catch (const RenderError& error) {
      fail_at(origin_, statement.position, error.what());
    }
  }

  Flow run(const TextOutput& text, std::string& out) {
    out += text.text;
    return Flow::Normal;
  }

  Flow run(const PrintStatement& print, std::string& out) {
    out += to_str(evaluate(*print.expression));
    return Flow::Normal;
  }

  Flow run(const IfStatement& statement, std::string& out) {
    for (const auto& [condition, body] : statement.branches)
      if (truthy(evaluate(*condition))) return execute(body, out);
    return execute(statement.otherwise, out);
  }

  Flow run(const ForStatement& loop, std::string& out) {
    std::vector<Value> items = iterate(evaluate(*loop.iterable));
    if (loop.filter) {
      std::vector<Value> kept;
      for (auto& item : items) {
        EnterScope enter(*this, child_scope());
        assign(loop.target, item);
        if (truthy(evaluate(*loop.filter))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) return execute_scoped(loop.otherwise, out);  // a break here ends an enclosing loop
    const auto info = std::make_shared<LoopInfo>(std::move(items));
    for (std::size_t i = 0; i < info->items().size(); ++i) {
      EnterScope enter(*this, child_scope());
      info->set_index(i);
      scope_->set("loop", Value::object(info));
      assign(loop.target, info->items()[i]);
      if (execute(loop.body, out) == Flow::Break) break;
    }
    return Flow::Normal;
  }

  Flow run(const SetStatement& set, std::string&) {
    assign(set.target, evaluate(*set.value));
    return Flow::Normal;
  }

  // A break or continue inside a set or filter block leaves it, and what it rendered is dropped.
  Flow run(const SetBlockStatement& set, std::string&) {
    std::string text;
    if (const Flow flow = execute_scoped(set.body, text); flow != Flow::Normal) return flow;
    assign(set.target, apply_filters(set.filters, std::move(text)));
    return Flow::Normal;
  }

  Flow run(const MacroStatement& macro, std::string&) {
    scope_->set(macro.name, make_macro(macro.name, macro.parameters, macro.body));
    return Flow::Normal;
  }

  Flow run(const CallBlockStatement& block, std::string& out) {
    const auto& call = std::get<Call>(block.call->node);
    const Value callee = evaluate(*call.callee);
    Arguments arguments = evaluate_arguments(call.arguments);
    arguments.keyword.emplace_back("caller", make_macro("caller", block.caller_parameters, block.body));
    out += to_str(call_value(callee, arguments));
    return Flow::Normal;
  }

  Flow run(const FilterBlockStatement& block, std::string& out) {
    std::string text;
    if (const Flow flow = execute_scoped(block.body, text); flow != Flow::Normal) return flow;
    out += to_str(apply_filters(block.filters, std::move(text)));
    return Flow::Normal;
  }

  Flow run(const GenerationBlock& block, std::string& out) { return execute_scoped(block.body, out); }

  Flow run(const BreakStatement&, std::string&) { return Flow::Break; }
  Flow run(const ContinueStatement&, std::string&) { return Flow::Continue; }

  void assign(const AssignTarget& target, const Value& value) {
    if (!target.unpack) {
      assign_name(target.names.front(), value);
      return;
    }
    const auto kind = value.kind();
    const bool iterable = kind == Value::Kind::Undefined || value.is_string() || value.is_list_or_tuple() ||
                          value.is_dict() || kind == Value::Kind::Generator;
    if (!iterable) throw RenderError(fmt::format("cannot unpack non-iterable {} object", type_name(value)));
    const auto items = iterate(value);
    const std::size_t expected = target.names.size();
    if (items.size() < expected)
      throw RenderError(fmt::format("not enough values to unpack (expected {}, got {})", expected, items.size()));
    if (items.size() > expected) throw RenderError(fmt::format("too many values to unpack (expected {})", expected));
    for (std::size_t i = 0; i < expected; ++i) assign_name(target.names[i], items[i]);
  }

  void assign_name(const AssignTarget::Name& name, const Value& value) {
    if (name.attribute.empty()) {
      scope_->set(name.name, value);
      return;
    }
    const Value* object = scope_->find(name.name);
    auto* space = object != nullptr && object->is_object() ? dynamic_cast<Namespace*>(&object->as_object()) : nullptr;
    if (space == nullptr) throw RenderError("cannot assign attribute on non-namespace object");
    space->set_attribute(name.attribute, value);
  }

  Value apply_filters(const std::vector<FilterCall>& filters, Value value) {
    for (const auto& filter : filters) value = apply_filter_call(filter, value);
    return value;
  }

  // A macro, or the caller() of a call block: a function of the scope it is defined in.
  Value make_macro(const std::string& name, const std::vector<MacroParameter>& parameters, const Body& body) {
    // The scope is held weakly: the macro usually lives in it, and a strong hold would be a cycle.
    std::weak_ptr<Scope> closure = scope_;
    return Value::callable(fmt::format("<Macro '{}'>", name),
                           [this, name, &parameters, &body, closure](const Arguments& arguments) {
                             return call_macro(name, parameters, body, closure, arguments);
                           });
  }

  Value call_macro(const std::string& name, const std::vector<MacroParameter>& parameters, const Body& body,
                   const std::weak_ptr<Scope>& closure, const Arguments& arguments) {
    auto parent = closure.lock();
    if (!parent) throw RenderError(fmt::format("macro '{}' was called after the block that defines it ended", name));
    if (macro_depth_ >= kMaxMacroDepth) throw RenderError("maximum recursion depth exceeded");
    if (arguments.positional.size() > parameters.size())
      throw RenderError(fmt::format("macro '{}' takes not more than {} argument(s)", name, parameters.size()));
    EnterScope enter(*this, std::make_shared<Scope>(std::move(parent)));
    std::vector<bool> bound(parameters.size(), false);
    for (std::size_t i = 0; i < arguments.positional.size(); ++i) {
      scope_->set(parameters[i].name, arguments.positional[i]);
      bound[i] = true;
    }
    bool has_caller = false;
    for (const auto& [keyword, value] : arguments.keyword) {
      const auto parameter =
          std::find_if(parameters.begin(), parameters.end(), [&](const auto& p) { return p.name == keyword; });
      const auto index = static_cast<std::size_t>(parameter - parameters.begin());
      if (parameter != parameters.end() && !bound[index]) {
        bound[index] = true;
      } else if (keyword != "caller") {
        throw RenderError(fmt::format("macro '{}' takes no keyword argument '{}'", name, keyword));
      }
      has_caller = has_caller || keyword == "caller";
      scope_->set(keyword, value);
    }
    if (!has_caller) scope_->set("caller", Value::undefined("No caller defined"));
    // Defaults are evaluated in the call's scope, so they can use the parameters before them.
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      if (bound[i]) continue;
      const auto& parameter = parameters[i];
      scope_->set(parameter.name, parameter.default_value ? evaluate(*parameter.default_value)
                                                          : Value::undefined(fmt::format(
                                                                "parameter '{}' was not provided", parameter.name)));
    }
    ++macro_depth_;
    std::string out;
    execute(body, out);
    --macro_depth_;
    return out;
  }

  // --- Expressions ---

  Value evaluate(const Expression& expression) {
    try {
      return std::visit([&](const auto& node) { return evaluate_node(node, expression.position); }, expression.node);
    } catch (const RenderError& error) {
      fail_at(origin_, expression.position, error.what());
    }
  }

  Arguments evaluate_arguments(const CallArguments& call) {
    Arguments arguments;
    for (const auto& argument : call.positional) arguments.positional.push_back(evaluate(*argument));
    for (const auto& [name, argument] : call.keyword) arguments.keyword.emplace_back(name, evaluate(*argument));
    return arguments;
  }

  static Value call_value(const Value& callee, const Arguments& arguments) {
    callee.require_defined();
    if (!callee.is_callable()) throw RenderError(fmt::format("'{}' object is not callable", type_name(callee)));
    return callee.as_callable().function(arguments);
  }

  Value apply_filter_call(const FilterCall& filter, const Value& input) {
    // A filter the parser let through (inside an if) fails only here, with Jinja's runtime message.
    if (!has_filter(filter.name))
      throw RenderError(fmt::format("No filter named '{}' found.{}", filter.name, missing_builtin_note(filter.name)));
    return apply_filter(filter.name, input, evaluate_arguments(filter.arguments));
  }

  Value evaluate_node(const Literal& literal, Position) { return literal.value; }

  Value evaluate_node(const Variable& variable, Position) {
    if (const Value* value = scope_->find(variable.name)) return *value;
    return Value::undefined(fmt::format("'{}' is undefined", variable.name));
  }

  Value evaluate_node(const ListLiteral& list, Position) {
    std::vector<Value> items;
    for (const auto& item : list.items) items.push_back(evaluate(*item));
    return Value::list(std::move(items));
  }

  Value evaluate_node(const TupleLiteral& tuple, Position) {
    std::vector<Value> items;
    for (const auto& item : tuple.items) items.push_back(evaluate(*item));
    return Value::tuple(std::move(items));
  }

  Value evaluate_node(const DictLiteral& literal, Position) {
    Dict dict;
    for (const auto& [key_expression, value_expression] : literal.entries) {
      Value key = evaluate(*key_expression);
      require_hashable(key);
      dict.set(std::move(key), evaluate(*value_expression));
    }
    return Value::dict(std::move(dict));
  }

  Value evaluate_node(const AttributeAccess& access, Position) {
    return get_attribute(evaluate(*access.object), access.name);
  }

  Value evaluate_node(const ItemAccess& access, Position) {
    const Value object = evaluate(*access.object);
    return get_item(object, evaluate(*access.key));
  }

  Value evaluate_node(const SliceAccess& access, Position) {
    const Value object = evaluate(*access.object);
    const auto bound = [&](const ExpressionPtr& expression) { return expression ? evaluate(*expression) : Value(); };
    Value start = bound(access.start);
    Value stop = bound(access.stop);
    return slice(object, start, stop, bound(access.step));
  }

  Value evaluate_node(const UnaryOperation& operation, Position) {
    const Value operand = evaluate(*operation.operand);
    switch (operation.op) {
      case UnaryOperator::Not:
        return !truthy(operand);
      case UnaryOperator::Minus:
        return negate(operand);
      case UnaryOperator::Plus:
        return unary_plus(operand);
    }
    return operand;
  }

  Value evaluate_node(const BinaryOperation& operation, Position) {
    const Value left = evaluate(*operation.left);
    // and/or give an operand, not a bool, and skip the right one when the left decides.
    if (operation.op == BinaryOperator::And) return truthy(left) ? evaluate(*operation.right) : left;
    if (operation.op == BinaryOperator::Or) return truthy(left) ? left : evaluate(*operation.right);
    const Value right = evaluate(*operation.right);
    switch (operation.op) {
      case BinaryOperator::Add:
        return add(left, right);
      case BinaryOperator::Subtract:
        return subtract(left, right);
      case BinaryOperator::Multiply:
        return multiply(left, right);
      case BinaryOperator::Divide:
        return divide(left, right);
      case BinaryOperator::FloorDivide:
        return floor_divide(left, right);
      case BinaryOperator::Modulo:
        return modulo(left, right);
      case BinaryOperator::Power:
        return power(left, right);
      case BinaryOperator::Concat:
        return to_str(left) + to_str(right);
      default:
        return left;
    }
  }

  static bool compare(CompareOperator op, const Value& left, const Value& right) {
    switch (op) {
      case CompareOperator::Equal:
        return equals(left, right);
      case CompareOperator::NotEqual:
        return !equals(left, right);
      case CompareOperator::Less:
        return python_order(left, right, "<") < 0;
      case CompareOperator::LessEqual:
        return python_order(left, right, "<=") <= 0;
      case CompareOperator::Greater:
        return python_order(left, right, ">") > 0;
      case CompareOperator::GreaterEqual:
        return python_order(left, right, ">=") >= 0;
      case CompareOperator::In:
        return contains(right, left);
      case CompareOperator::NotIn:
        return !contains(right, left);
    }
    return false;
  }

  Value evaluate_node(const Comparison& comparison, Position) {
    Value left = evaluate(*comparison.first);
    for (const auto& [op, operand] : comparison.rest) {
      Value right = evaluate(*operand);
      if (!compare(op, left, right)) return false;
      left = std::move(right);
    }
    return true;
  }

  Value evaluate_node(const Conditional& conditional, Position position) {
    if (truthy(evaluate(*conditional.condition))) return evaluate(*conditional.if_true);
    if (conditional.if_false) return evaluate(*conditional.if_false);
    return Value::undefined(fmt::format(
        "the inline if-expression on line {} evaluated to false and no else section was defined.", position.line));
  }

  Value evaluate_node(const Call& call, Position) {
    const Value callee = evaluate(*call.callee);
    return call_value(callee, evaluate_arguments(call.arguments));
  }

  Value evaluate_node(const FilterApplication& application, Position) {
    return apply_filter_call(application.filter, evaluate(*application.operand));
  }

  Value evaluate_node(const TestApplication& test, Position) {
    const Value operand = evaluate(*test.operand);
    if (!has_test(test.name))
      throw RenderError(fmt::format("No test named '{}' found.{}", test.name, missing_builtin_note(test.name)));
    return apply_test(test.name, operand, evaluate_arguments(test.arguments));
  }
};

}  // namespace

std::string render_template(const Body& body, std::string_view origin, const nlohmann::ordered_json& context) {
  if (!context.is_object()) throw llmctl::Error(fmt::format("{}: the render context must be a JSON object", origin));
  return Renderer(origin).render(body, context);
}

}  // namespace llmctl::engine::jinja
