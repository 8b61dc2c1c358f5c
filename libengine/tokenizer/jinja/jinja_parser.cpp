#include "tokenizer/jinja/jinja_parser.hpp"

#include "tokenizer/jinja/jinja_builtins.hpp"
#include "tokenizer/jinja/jinja_lexer.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace llmctl::engine::jinja {
namespace {

// Deeper nesting (about 100 parentheses) is refused rather than risking the stack; Python's recursion
// limit stops Jinja sooner.
constexpr int kMaxNesting = 200;

// How Jinja names a token in its error messages.
std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::Text:
      return "template data / text";
    case TokenKind::VariableBegin:
      return "begin of print statement";
    case TokenKind::VariableEnd:
      return "end of print statement";
    case TokenKind::BlockBegin:
      return "begin of statement block";
    case TokenKind::BlockEnd:
      return "end of statement block";
    case TokenKind::String:
      return "string";
    case TokenKind::Integer:
      return "integer";
    case TokenKind::Float:
      return "float";
    case TokenKind::End:
      return "end of template";
    default:
      return token.text;  // names and operators
  }
}

using StatementNode = decltype(Statement::node);

template <typename Node>
ExpressionPtr make(Position position, Node node) {
  return std::make_unique<Expression>(Expression{position, std::move(node)});
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view origin) : tokens_(std::move(tokens)), origin_(origin) {}

  // Syntax errors first, then what Jinja's compiler finds: unknown filters and tests, then what Python
  // finds compiling Jinja's output: break and continue outside a loop.
  Body parse() {
    check_lexer_error(current());
    Body body = subparse({});
    for (const auto& use : unknown_names_)
      if (!use.soft)
        fail(use.position, fmt::format("No {} named '{}'.{}", use.is_filter ? "filter" : "test", use.name,
                                       missing_builtin_note(use.name)));
    if (!misplaced_loop_controls_.empty())
      fail(misplaced_loop_controls_.front().first,
           fmt::format("'{}' outside loop", misplaced_loop_controls_.front().second));
    return body;
  }

 private:
  // What Jinja's compiler tracks per scope: a "soft" frame (if statements and inline ifs) lets an
  // unknown filter or test through to fail only when it runs; break and continue need a loop.
  struct Frame {
    bool soft = false;
    int loop_depth = 0;
  };
  struct UnknownName {
    bool is_filter;
    std::string name;
    Position position;
    bool soft;
  };
  // An index in brackets, or a slice when is_slice.
  struct Subscript {
    ExpressionPtr index;
    bool is_slice = false;
    ExpressionPtr start, stop, step;
  };

  std::vector<Token> tokens_;
  std::size_t index_ = 0;
  std::string_view origin_;
  std::vector<std::vector<std::string_view>> end_tag_stack_;  // the tags each open block may end with
  std::vector<std::string> tag_stack_;                        // the open blocks, innermost last
  std::vector<UnknownName> unknown_names_;
  std::vector<std::pair<Position, std::string>> misplaced_loop_controls_;
  Frame frame_;
  int nesting_ = 0;

  // --- The token stream ---

  // The lexer's error surfaces when the parser reaches the malformed tag, as in Jinja.
  void check_lexer_error(const Token& token) const {
    if (token.kind == TokenKind::Error) fail(token.position, token.text);
  }
  const Token& current() const { return tokens_[index_]; }
  const Token& peek() const {
    const Token& token = tokens_[std::min(index_ + 1, tokens_.size() - 1)];
    check_lexer_error(token);
    return token;
  }
  const Token& next() {
    const Token& token = tokens_[index_];
    if (token.kind != TokenKind::End) ++index_;
    check_lexer_error(tokens_[index_]);
    return token;
  }
  bool at_operator(std::string_view op) const { return current().kind == TokenKind::Operator && current().text == op; }
  bool at_name(std::string_view name) const { return current().kind == TokenKind::Name && current().text == name; }
  bool skip_operator(std::string_view op) {
    if (!at_operator(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(Position position, std::string_view message) const { fail_at(origin_, position, message); }

  [[noreturn]] void fail_expected(std::string_view expected) const {
    if (current().kind == TokenKind::End)
      fail(current().position, fmt::format("unexpected end of template, expected '{}'.", expected));
    fail(current().position, fmt::format("expected token '{}', got '{}'", expected, describe(current())));
  }
  const Token& expect_operator(std::string_view op) {
    if (!at_operator(op)) fail_expected(op);
    return next();
  }
  const Token& expect_name(std::string_view name) {
    if (!at_name(name)) fail_expected(name);
    return next();
  }
  const Token& expect_any_name() {
    if (current().kind != TokenKind::Name) fail_expected("name");
    return next();
  }
  void expect_end(TokenKind kind) {
    if (current().kind != kind)
      fail_expected(kind == TokenKind::BlockEnd ? "end of statement block" : "end of print statement");
    next();
  }

  // Runs `parse` with the frame flags of a nested scope.
  template <typename Parse>
  auto in_frame(Frame frame, Parse parse) {
    const Frame saved = frame_;
    frame_ = frame;
    auto result = parse();
    frame_ = saved;
    return result;
  }

  // Counts nesting for the extent of one parse function.
  class Nesting {
   public:
    explicit Nesting(Parser& parser) : parser_(parser) {
      if (++parser_.nesting_ > kMaxNesting)
        parser_.fail(parser_.current().position, "the template is nested too deeply");
    }
    ~Nesting() { --parser_.nesting_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    Parser& parser_;
  };

  // Jinja's message for a tag nothing expects, or (name empty) for a template that ends inside a block.
  [[noreturn]] void fail_unexpected_tag(std::string_view name,
                                        const std::vector<std::vector<std::string_view>>& end_tags,
                                        Position position) const {
    std::vector<std::string> message{name.empty() ? "Unexpected end of template."
                                                  : fmt::format("Encountered unknown tag '{}'.", name)};
    if (!end_tags.empty()) {
      std::string looking_for;
      for (const auto tag : end_tags.back())
        looking_for += fmt::format("{}'{}'", looking_for.empty() ? "" : " or ", tag);
      bool expected = false;
      for (const auto& tags : end_tags) expected = expected || std::find(tags.begin(), tags.end(), name) != tags.end();
      if (!name.empty() && expected)
        message.push_back(fmt::format(
            "You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for {}.",
            looking_for));
      else
        message.push_back(fmt::format("Jinja was looking for the following tags: {}.", looking_for));
    }
    if (!tag_stack_.empty())
      message.push_back(fmt::format("The innermost block that needs to be closed is '{}'.", tag_stack_.back()));
    std::string text;
    for (const auto& sentence : message) text += (text.empty() ? "" : " ") + sentence;
    fail(position, text);
  }

  // --- Statements ---

  // Statements up to a block tag named in `end_tags`, which is left as the current token.
  Body subparse(const std::vector<std::string_view>& end_tags) {
    Body body;
    if (!end_tags.empty()) end_tag_stack_.push_back(end_tags);
    while (current().kind != TokenKind::End) {
      const Token& token = next();
      if (token.kind == TokenKind::Text) {
        body.push_back({token.position, TextOutput{token.text}});
      } else if (token.kind == TokenKind::VariableBegin) {
        auto expression = parse_tuple(true);
        expect_end(TokenKind::VariableEnd);
        body.push_back({token.position, PrintStatement{std::move(expression)}});
      } else if (token.kind == TokenKind::BlockBegin) {
        if (current().kind == TokenKind::Name &&
            std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end()) {
          end_tag_stack_.pop_back();
          return body;
        }
        body.push_back(parse_statement());
        expect_end(TokenKind::BlockEnd);
      } else {
        fail(token.position, fmt::format("unexpected '{}'", describe(token)));
      }
    }
    if (!end_tags.empty()) end_tag_stack_.pop_back();
    return body;
  }

  // The rest of a block tag and its body up to one of `end_tags`; with drop_end_tag, the end tag's
  // name is consumed too.
  Body parse_statements(const std::vector<std::string_view>& end_tags, bool drop_end_tag) {
    skip_operator(":");
    expect_end(TokenKind::BlockEnd);
    Body body = subparse(end_tags);
    if (current().kind == TokenKind::End) {
      auto stack = end_tag_stack_;
      stack.push_back(end_tags);
      fail_unexpected_tag("", stack, current().position);
    }
    if (drop_end_tag) next();
    return body;
  }

  Statement parse_statement() {
    Nesting nesting(*this);
    const Token& token = current();
    if (token.kind != TokenKind::Name) fail(token.position, "tag name expected");
    tag_stack_.push_back(token.text);
    Statement statement{token.position, parse_tag(token.text, token.position)};
    tag_stack_.pop_back();
    return statement;
  }

  StatementNode parse_tag(const std::string& tag, Position position) {
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "generation") return parse_generation();
    if (tag == "break" || tag == "continue") return parse_loop_control(tag);
    if (tag == "block" || tag == "extends" || tag == "include" || tag == "import" || tag == "from" || tag == "with" ||
        tag == "autoescape" || tag == "print")
      fail(position, fmt::format("the '{}' tag is not supported", tag));
    tag_stack_.pop_back();
    fail_unexpected_tag(tag, end_tag_stack_, position);
  }

  ForStatement parse_for() {
    next();
    ForStatement loop;
    loop.target = parse_assign_target(false);
    expect_name("in");
    loop.iterable = parse_tuple(false);
    if (skip_name("if")) loop.filter = in_frame({false, frame_.loop_depth}, [&] { return parse_expression(true); });
    if (at_name("recursive")) fail(current().position, "recursive loops are not supported");
    loop.body = in_frame({false, frame_.loop_depth + 1}, [&] { return parse_statements({"endfor", "else"}, false); });
    if (next().text == "else")
      loop.otherwise = in_frame({false, frame_.loop_depth}, [&] { return parse_statements({"endfor"}, true); });
    return loop;
  }

  IfStatement parse_if() {
    next();
    return in_frame({true, frame_.loop_depth}, [&] {
      IfStatement statement;
      while (true) {
        auto condition = parse_tuple(false);
        auto body = parse_statements({"elif", "else", "endif"}, false);
        statement.branches.emplace_back(std::move(condition), std::move(body));
        const Token& token = next();
        if (token.text == "elif") continue;
        if (token.text == "else") statement.otherwise = parse_statements({"endif"}, true);
        break;
      }
      return statement;
    });
  }

  StatementNode parse_set() {
    next();
    AssignTarget target = parse_assign_target(true);
    if (skip_operator("=")) return SetStatement{std::move(target), parse_tuple(true)};
    auto filters = parse_filter_chain(false);
    auto body = in_frame({false, frame_.loop_depth}, [&] { return parse_statements({"endset"}, true); });
    return SetBlockStatement{std::move(target), std::move(filters), std::move(body)};
  }

  MacroStatement parse_macro() {
    next();
    std::string name = expect_any_name().text;
    return in_frame({false, 0}, [&] {
      auto parameters = parse_signature();
      return MacroStatement{std::move(name), std::move(parameters), parse_statements({"endmacro"}, true)};
    });
  }

  CallBlockStatement parse_call_block() {
    const Position position = next().position;
    CallBlockStatement block;
    if (at_operator("(")) block.caller_parameters = in_frame({false, 0}, [&] { return parse_signature(); });
    block.call = parse_expression(true);
    if (!std::holds_alternative<Call>(block.call->node)) fail(position, "expected call");
    block.body = in_frame({false, 0}, [&] { return parse_statements({"endcall"}, true); });
    return block;
  }

  FilterBlockStatement parse_filter_block() {
    next();
    FilterBlockStatement block;
    block.filters = parse_filter_chain(true);
    block.body = in_frame({false, frame_.loop_depth}, [&] { return parse_statements({"endfilter"}, true); });
    return block;
  }

  GenerationBlock parse_generation() {
    next();
    return GenerationBlock{in_frame({false, 0}, [&] { return parse_statements({"endgeneration"}, true); })};
  }

  StatementNode parse_loop_control(const std::string& tag) {
    const Position position = next().position;
    // Python refuses Jinja's compiled code for this; macro and call bodies are functions, not loops.
    if (frame_.loop_depth == 0) misplaced_loop_controls_.emplace_back(position, tag);
    if (tag == "break") return BreakStatement{};
    return ContinueStatement{};
  }

  std::vector<MacroParameter> parse_signature() {
    std::vector<MacroParameter> parameters;
    bool has_defaults = false;
    expect_operator("(");
    while (!at_operator(")")) {
      if (!parameters.empty()) expect_operator(",");
      MacroParameter parameter{expect_any_name().text, nullptr};
      if (skip_operator("=")) {
        parameter.default_value = parse_expression(true);
        has_defaults = true;
      } else if (has_defaults) {
        fail(current().position, "non-default argument follows default argument");
      }
      parameters.push_back(std::move(parameter));
    }
    expect_operator(")");
    return parameters;
  }

  // Jinja also passes "in" (for targets) and "recursive" (for iterables) as ends, but its check of
  // them never matches, so `for a, in x` reads "in" as a name; so does this.
  bool is_tuple_end() const {
    const auto kind = current().kind;
    return kind == TokenKind::VariableEnd || kind == TokenKind::BlockEnd || at_operator(")");
  }

  AssignTarget parse_assign_target(bool with_namespace) {
    AssignTarget target;
    while (true) {
      if (!target.names.empty()) expect_operator(",");
      if (is_tuple_end()) break;
      target.names.push_back(parse_assign_name(with_namespace));
      if (!at_operator(",")) break;
      target.unpack = true;
    }
    if (target.names.empty())
      fail(current().position, fmt::format("Expected an expression, got '{}'", describe(current())));
    return target;
  }

  AssignTarget::Name parse_assign_name(bool with_namespace) {
    const Token& token = current();
    const bool constant = token.kind == TokenKind::String || token.kind == TokenKind::Integer ||
                          token.kind == TokenKind::Float ||
                          (token.kind == TokenKind::Name && is_constant_name(token.text));
    if (constant) fail(token.position, "can't assign to 'const'");
    if (at_operator("[") || at_operator("{"))
      fail(token.position, fmt::format("can't assign to '{}'", at_operator("[") ? "list" : "dict"));
    if (at_operator("(")) fail(token.position, "nested assignment targets are not supported");
    if (token.kind != TokenKind::Name) fail(token.position, fmt::format("unexpected '{}'", describe(token)));
    AssignTarget::Name name{next().text, ""};
    if (with_namespace && skip_operator(".")) name.attribute = expect_any_name().text;
    return name;
  }

  static bool is_constant_name(std::string_view name) {
    return name == "true" || name == "false" || name == "True" || name == "False" || name == "none" || name == "None";
  }

  // --- Expressions ---

  // Comma-separated expressions: a tuple when there is a comma, else the single expression.
  ExpressionPtr parse_tuple(bool with_condexpr, bool explicit_parentheses = false) {
    const Position position = current().position;
    std::vector<ExpressionPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_operator(",");
      if (is_tuple_end()) break;
      items.push_back(parse_expression(with_condexpr));
      if (!at_operator(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!explicit_parentheses)
        fail(current().position, fmt::format("Expected an expression, got '{}'", describe(current())));
    }
    return make(position, TupleLiteral{std::move(items)});
  }

  ExpressionPtr parse_expression(bool with_condexpr = true) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExpressionPtr parse_condexpr() {
    const Position position = current().position;
    const std::size_t first_unknown = unknown_names_.size();
    auto expression = parse_or();
    while (skip_name("if")) {
      // The whole inline if is a soft frame, the part before "if" included.
      for (std::size_t i = first_unknown; i < unknown_names_.size(); ++i) unknown_names_[i].soft = true;
      expression = in_frame({true, frame_.loop_depth}, [&] {
        Conditional conditional{parse_or(), std::move(expression), nullptr};
        if (skip_name("else")) conditional.if_false = parse_condexpr();
        return make(position, std::move(conditional));
      });
    }
    return expression;
  }

  ExpressionPtr parse_or() {
    const Position position = current().position;
    auto left = parse_and();
    while (skip_name("or")) left = make(position, BinaryOperation{BinaryOperator::Or, std::move(left), parse_and()});
    return left;
  }

  ExpressionPtr parse_and() {
    const Position position = current().position;
    auto left = parse_not();
    while (skip_name("and")) left = make(position, BinaryOperation{BinaryOperator::And, std::move(left), parse_not()});
    return left;
  }

  ExpressionPtr parse_not() {
    Nesting nesting(*this);
    if (!at_name("not")) return parse_compare();
    const Position position = next().position;
    return make(position, UnaryOperation{UnaryOperator::Not, parse_not()});
  }

  ExpressionPtr parse_compare() {
    static const std::pair<std::string_view, CompareOperator> kOperators[] = {
        {"==", CompareOperator::Equal},     {"!=", CompareOperator::NotEqual}, {"<", CompareOperator::Less},
        {"<=", CompareOperator::LessEqual}, {">", CompareOperator::Greater},   {">=", CompareOperator::GreaterEqual}};
    const Position position = current().position;
    auto first = parse_math1();
    Comparison comparison{std::move(first), {}};
    while (true) {
      const auto op = std::find_if(std::begin(kOperators), std::end(kOperators),
                                   [&](const auto& entry) { return at_operator(entry.first); });
      if (op != std::end(kOperators)) {
        next();
        comparison.rest.emplace_back(op->second, parse_math1());
      } else if (skip_name("in")) {
        comparison.rest.emplace_back(CompareOperator::In, parse_math1());
      } else if (at_name("not") && peek().kind == TokenKind::Name && peek().text == "in") {
        next();
        next();
        comparison.rest.emplace_back(CompareOperator::NotIn, parse_math1());
      } else {
        break;
      }
    }
    if (comparison.rest.empty()) return std::move(comparison.first);
    return make(position, std::move(comparison));
  }

  // Left-associative binary operators from `operators`, with operands from `parse_operand`.
  template <typename ParseOperand>
  ExpressionPtr parse_binary(std::initializer_list<std::pair<std::string_view, BinaryOperator>> operators,
                             ParseOperand parse_operand) {
    const Position position = current().position;
    auto left = parse_operand();
    while (true) {
      const auto op =
          std::find_if(operators.begin(), operators.end(), [&](const auto& entry) { return at_operator(entry.first); });
      if (op == operators.end()) return left;
      next();
      left = make(position, BinaryOperation{op->second, std::move(left), parse_operand()});
    }
  }

  ExpressionPtr parse_math1() {
    return parse_binary({{"+", BinaryOperator::Add}, {"-", BinaryOperator::Subtract}}, [&] { return parse_concat(); });
  }
  ExpressionPtr parse_concat() {
    return parse_binary({{"~", BinaryOperator::Concat}}, [&] { return parse_math2(); });
  }
  ExpressionPtr parse_math2() {
    return parse_binary({{"*", BinaryOperator::Multiply},
                         {"/", BinaryOperator::Divide},
                         {"//", BinaryOperator::FloorDivide},
                         {"%", BinaryOperator::Modulo}},
                        [&] { return parse_pow(); });
  }
  // Jinja's ** is left-associative, unlike Python's: 2 ** 3 ** 2 is 64.
  ExpressionPtr parse_pow() {
    return parse_binary({{"**", BinaryOperator::Power}}, [&] { return parse_unary(true); });
  }

  ExpressionPtr parse_unary(bool with_filter) {
    Nesting nesting(*this);
    const Position position = current().position;
    ExpressionPtr node;
    if (skip_operator("-"))
      node = make(position, UnaryOperation{UnaryOperator::Minus, parse_unary(false)});
    else if (skip_operator("+"))
      node = make(position, UnaryOperation{UnaryOperator::Plus, parse_unary(false)});
    else
      node = parse_primary();
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expression(std::move(node));
    return node;
  }

  ExpressionPtr parse_primary() {
    const Token& token = current();
    switch (token.kind) {
      case TokenKind::Name:
        next();
        if (token.text == "true" || token.text == "True") return make(token.position, Literal{true});
        if (token.text == "false" || token.text == "False") return make(token.position, Literal{false});
        if (token.text == "none" || token.text == "None") return make(token.position, Literal{Value()});
        return make(token.position, Variable{token.text});
      case TokenKind::String: {
        std::string text;
        while (current().kind == TokenKind::String) text += next().text;  // "a" "b" is "ab"
        return make(token.position, Literal{std::move(text)});
      }
      case TokenKind::Integer:
        return make(next().position, Literal{token.integer});
      case TokenKind::Float:
        return make(next().position, Literal{token.number});
      default:
        break;
    }
    if (skip_operator("(")) {
      auto node = parse_tuple(true, true);
      expect_operator(")");
      return node;
    }
    if (at_operator("[")) return parse_list();
    if (at_operator("{")) return parse_dict();
    fail(token.position, fmt::format("unexpected '{}'", describe(token)));
  }

  ExpressionPtr parse_list() {
    const Position position = expect_operator("[").position;
    ListLiteral list;
    while (!at_operator("]")) {
      if (!list.items.empty()) expect_operator(",");
      if (at_operator("]")) break;
      list.items.push_back(parse_expression());
    }
    expect_operator("]");
    return make(position, std::move(list));
  }

  ExpressionPtr parse_dict() {
    const Position position = expect_operator("{").position;
    DictLiteral dict;
    while (!at_operator("}")) {
      if (!dict.entries.empty()) expect_operator(",");
      if (at_operator("}")) break;
      auto key = parse_expression();
      expect_operator(":");
      dict.entries.emplace_back(std::move(key), parse_expression());
    }
    expect_operator("}");
    return make(position, std::move(dict));
  }

  ExpressionPtr parse_postfix(ExpressionPtr node) {
    while (true) {
      if (at_operator(".") || at_operator("["))
        node = parse_subscript(std::move(node));
      else if (at_operator("("))
        node = parse_call(std::move(node));
      else
        return node;
    }
  }

  ExpressionPtr parse_filter_expression(ExpressionPtr node) {
    while (true) {
      if (at_operator("|"))
        node = parse_filters(std::move(node));
      else if (at_name("is"))
        node = parse_test(std::move(node));
      else if (at_operator("("))
        node = parse_call(std::move(node));
      else
        return node;
    }
  }

  ExpressionPtr parse_subscript(ExpressionPtr node) {
    const Position position = node->position;
    if (skip_operator(".")) {
      const Token& attribute = next();
      if (attribute.kind == TokenKind::Name) return make(position, AttributeAccess{std::move(node), attribute.text});
      if (attribute.kind != TokenKind::Integer) fail(attribute.position, "expected name or number");
      return make(position, ItemAccess{std::move(node), make(attribute.position, Literal{attribute.integer})});
    }
    expect_operator("[");
    std::vector<Subscript> subscripts;
    while (!at_operator("]")) {
      if (!subscripts.empty()) expect_operator(",");
      subscripts.push_back(parse_subscribed());
    }
    expect_operator("]");
    if (subscripts.size() == 1 && subscripts[0].is_slice) {
      auto& slice = subscripts[0];
      return make(position,
                  SliceAccess{std::move(node), std::move(slice.start), std::move(slice.stop), std::move(slice.step)});
    }
    if (subscripts.size() == 1) return make(position, ItemAccess{std::move(node), std::move(subscripts[0].index)});
    TupleLiteral tuple;
    for (auto& subscript : subscripts) {
      if (subscript.is_slice) fail(position, "slices in a tuple subscript are not supported");
      tuple.items.push_back(std::move(subscript.index));
    }
    return make(position, ItemAccess{std::move(node), make(position, std::move(tuple))});
  }

  Subscript parse_subscribed() {
    Subscript subscript;
    if (!skip_operator(":")) {
      auto index = parse_expression();
      if (!skip_operator(":")) {
        subscript.index = std::move(index);
        return subscript;
      }
      subscript.start = std::move(index);
    }
    subscript.is_slice = true;
    const auto at_bound_end = [&] { return at_operator("]") || at_operator(","); };
    if (!at_operator(":") && !at_bound_end()) subscript.stop = parse_expression();
    if (skip_operator(":") && !at_bound_end()) subscript.step = parse_expression();
    return subscript;
  }

  CallArguments parse_call_arguments() {
    const Position position = expect_operator("(").position;
    CallArguments arguments;
    bool require_comma = false;
    while (!at_operator(")")) {
      if (require_comma) {
        expect_operator(",");
        if (at_operator(")")) break;  // a trailing comma
      }
      if (at_operator("*") || at_operator("**"))
        fail(current().position, "*args and **kwargs in calls are not supported");
      if (current().kind == TokenKind::Name && peek().kind == TokenKind::Operator && peek().text == "=") {
        std::string key = next().text;
        next();
        arguments.keyword.emplace_back(std::move(key), parse_expression());
      } else {
        if (!arguments.keyword.empty()) fail(position, "invalid syntax for function call expression");
        arguments.positional.push_back(parse_expression());
      }
      require_comma = true;
    }
    expect_operator(")");
    return arguments;
  }

  ExpressionPtr parse_call(ExpressionPtr node) {
    const Position position = node->position;
    return make(position, Call{std::move(node), parse_call_arguments()});
  }

  // A filter or test name: a name, or names joined by dots.
  std::string parse_dotted_name() {
    std::string name = expect_any_name().text;
    while (skip_operator(".")) name += "." + expect_any_name().text;
    return name;
  }

  void note_unknown(bool is_filter, const std::string& name, Position position) {
    if (is_filter ? has_filter(name) : has_test(name)) return;
    unknown_names_.push_back({is_filter, name, position, frame_.soft});
  }

  FilterCall parse_filter_call() {
    const Position position = current().position;
    FilterCall filter{parse_dotted_name(), {}, position};
    if (at_operator("(")) filter.arguments = parse_call_arguments();
    note_unknown(true, filter.name, position);
    return filter;
  }

  // `| f | g(...)`; a filter block starts with the first name, without a "|".
  std::vector<FilterCall> parse_filter_chain(bool starts_with_name) {
    std::vector<FilterCall> filters;
    while (starts_with_name || skip_operator("|")) {
      filters.push_back(parse_filter_call());
      starts_with_name = false;
    }
    return filters;
  }

  ExpressionPtr parse_filters(ExpressionPtr node) {
    for (auto& filter : parse_filter_chain(false)) {
      const Position position = filter.position;
      node = make(position, FilterApplication{std::move(node), std::move(filter)});
    }
    return node;
  }

  ExpressionPtr parse_test(ExpressionPtr node) {
    const Position position = next().position;  // "is"
    const bool negated = skip_name("not");
    const Position name_position = current().position;
    TestApplication test{std::move(node), parse_dotted_name(), {}};
    const auto kind = current().kind;
    const bool starts_argument = kind == TokenKind::Name || kind == TokenKind::String || kind == TokenKind::Integer ||
                                 kind == TokenKind::Float || at_operator("[") || at_operator("{");
    if (at_operator("(")) {
      test.arguments = parse_call_arguments();
    } else if (starts_argument && !at_name("else") && !at_name("or") && !at_name("and")) {
      // One argument without parentheses: `is divisibleby 3`, `is equalto "x"`.
      if (at_name("is")) fail(current().position, "You cannot chain multiple tests with is");
      test.arguments.positional.push_back(parse_postfix(parse_primary()));
    }
    note_unknown(false, test.name, name_position);
    auto result = make(position, std::move(test));
    if (negated) result = make(position, UnaryOperation{UnaryOperator::Not, std::move(result)});
    return result;
  }
};

}  // namespace

Body parse_template(std::string_view source, std::string_view origin) {
  return Parser(tokenize(source), origin).parse();
}

}  // namespace llmctl::engine::jinja
