// Internals of the SQL92 filter shared by the parser and the evaluator: runtime values with
// Java's types, the expression tree, and RocketMQ's value comparison.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stele::filter::internal {

// A value as RocketMQ's evaluator sees it: Java null, Boolean, Integer, Long, Double or String.
// kError stands for an exception thrown during evaluation: it propagates to the top and the
// message does not match.
struct Value {
  enum class Type : uint8_t { kError, kNull, kBool, kInt, kLong, kDouble, kString };
  Type type = Type::kNull;
  bool b = false;
  int64_t i = 0;  // kInt (int32 range) and kLong
  double d = 0;
  std::string_view s;

  static Value Error() { return {.type = Type::kError}; }
  static Value Null() { return {.type = Type::kNull}; }
  static Value Bool(bool v) { return {.type = Type::kBool, .b = v}; }
  static Value String(std::string_view v) { return {.type = Type::kString, .s = v}; }
  bool is_number() const {
    return type == Type::kInt || type == Type::kLong || type == Type::kDouble;
  }
};

enum class Op : uint8_t {
  kConst,     // value in Node::constant (strings in Node::text)
  kProperty,  // name in Node::text
  kNegate,    // unary minus
  kNot,
  kBoolCast,  // a bare property used as a condition
  kIsNull,
  kAnd,  // n-ary, folded left to right as RocketMQ's left-deep tree
  kOr,
  kEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kIn,        // Node::list sorted; Node::negated for NOT IN
  kContains,  // search string in Node::text; Node::negated for NOT ...
  kStartsWith,
  kEndsWith,
};

struct Node {
  Op op = Op::kConst;
  bool negated = false;
  Value constant;  // kConst (a string constant's view is re-pointed at `text` when evaluated)
  std::string text;
  std::vector<std::string> list;
  std::vector<int> kids;
  int depth = 1;  // of the subtree; bounded so evaluation recursion is bounded
};

// RocketMQ's ComparisonExpression.__compare with string conversion on: the sign of lv - rv after
// converting one side to the other's type, or nullopt where Java throws (a string that is not a
// number of the other side's type, or a Boolean compared with a String).
struct CompareResult {
  bool ok = true;
  int sign = 0;
};
CompareResult Compare(const Value& lv, const Value& rv);

// Java's Integer.valueOf / Long.valueOf / Double.valueOf / Double.compare.
bool ParseJavaInt(std::string_view s, int64_t* out);
bool ParseJavaLong(std::string_view s, int64_t* out);
bool ParseJavaDouble(std::string_view s, double* out);
int JavaDoubleCompare(double a, double b);

}  // namespace stele::filter::internal
