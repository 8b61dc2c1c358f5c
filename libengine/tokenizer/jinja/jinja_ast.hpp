#pragma once

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_value.hpp"

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

// The syntax tree of a template, as the parser builds it and the interpreter walks it.
namespace llmctl::engine::jinja {

struct Expression;
using ExpressionPtr = std::unique_ptr<Expression>;

struct CallArguments {
  std::vector<ExpressionPtr> positional;
  std::vector<std::pair<std::string, ExpressionPtr>> keyword;
};

// `| name(arguments)`, in an expression or heading a filter block.
struct FilterCall {
  std::string name;
  CallArguments arguments;
  Position position;
};

struct Literal {
  Value value;  // None, a bool, a number or a string
};
struct Variable {
  std::string name;
};
struct ListLiteral {
  std::vector<ExpressionPtr> items;
};
struct TupleLiteral {
  std::vector<ExpressionPtr> items;
};
struct DictLiteral {
  std::vector<std::pair<ExpressionPtr, ExpressionPtr>> entries;
};
struct AttributeAccess {  // object.name
  ExpressionPtr object;
  std::string name;
};
struct ItemAccess {  // object[key], object.0
  ExpressionPtr object;
  ExpressionPtr key;
};
struct SliceAccess {  // object[start:stop:step]; absent bounds are null
  ExpressionPtr object;
  ExpressionPtr start;
  ExpressionPtr stop;
  ExpressionPtr step;
};
enum class UnaryOperator { Not, Minus, Plus };
struct UnaryOperation {
  UnaryOperator op;
  ExpressionPtr operand;
};
enum class BinaryOperator { Add, Subtract, Multiply, Divide, FloorDivide, Modulo, Power, Concat, And, Or };
struct BinaryOperation {
  BinaryOperator op;
  ExpressionPtr left;
  ExpressionPtr right;
};
enum class CompareOperator { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, In, NotIn };
struct Comparison {  // a < b <= c compares pairwise, as in Python
  ExpressionPtr first;
  std::vector<std::pair<CompareOperator, ExpressionPtr>> rest;
};
struct Conditional {  // if_true if condition else if_false; without else, if_false is null
  ExpressionPtr condition;
  ExpressionPtr if_true;
  ExpressionPtr if_false;
};
struct Call {
  ExpressionPtr callee;
  CallArguments arguments;
};
struct FilterApplication {
  ExpressionPtr operand;
  FilterCall filter;
};
struct TestApplication {  // operand is name(arguments); `is not` wraps it in a Not
  ExpressionPtr operand;
  std::string name;
  CallArguments arguments;
};

struct Expression {
  Position position;
  std::variant<Literal, Variable, ListLiteral, TupleLiteral, DictLiteral, AttributeAccess, ItemAccess, SliceAccess,
               UnaryOperation, BinaryOperation, Comparison, Conditional, Call, FilterApplication, TestApplication>
      node;
};

struct Statement;
using Body = std::vector<Statement>;

// What set and for assign to: a name, a namespace attribute (`ns.count`), or several names that the
// value is unpacked into (`key, value`).
struct AssignTarget {
  struct Name {
    std::string name;
    std::string attribute;  // set for `ns.attribute`
  };
  std::vector<Name> names;
  bool unpack = false;
};

struct TextOutput {
  std::string text;
};
struct PrintStatement {  // {{ expression }}
  ExpressionPtr expression;
};
struct IfStatement {  // if / elif ... / else
  std::vector<std::pair<ExpressionPtr, Body>> branches;
  Body otherwise;
};
struct ForStatement {
  AssignTarget target;
  ExpressionPtr iterable;
  ExpressionPtr filter;  // `for x in xs if filter`; may be null
  Body body;
  Body otherwise;  // runs when there was nothing to iterate
};
struct SetStatement {
  AssignTarget target;
  ExpressionPtr value;
};
struct SetBlockStatement {  // {% set x | filters %}body{% endset %}
  AssignTarget target;
  std::vector<FilterCall> filters;
  Body body;
};
struct MacroParameter {
  std::string name;
  ExpressionPtr default_value;  // may be null
};
struct MacroStatement {
  std::string name;
  std::vector<MacroParameter> parameters;
  Body body;
};
struct CallBlockStatement {  // {% call(caller_parameters) call %}body{% endcall %}: body is caller()
  std::vector<MacroParameter> caller_parameters;
  ExpressionPtr call;
  Body body;
};
struct FilterBlockStatement {
  std::vector<FilterCall> filters;
  Body body;
};
struct GenerationBlock {  // {% generation %}: transformers' marker of assistant text; renders its body
  Body body;
};
struct BreakStatement {};
struct ContinueStatement {};

struct Statement {
  Position position;
  std::variant<TextOutput, PrintStatement, IfStatement, ForStatement, SetStatement, SetBlockStatement, MacroStatement,
               CallBlockStatement, FilterBlockStatement, GenerationBlock, BreakStatement, ContinueStatement>
      node;
};

}  // namespace llmctl::engine::jinja
