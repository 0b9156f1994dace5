// SQL92 property filters: RocketMQ's message selector language (ExpressionType SQL92), compiled
// once and evaluated against each message's properties.
//
//   auto f = stele::filter::CompileSql92("a > 5 AND region IN ('eu', 'us')");
//   if (!f.ok()) ...;  // InvalidArgument: "... at offset 4: ..."
//   bool hit = (*f)->Matches([&](std::string_view name) { return msg.Property(name); });
//
// Grammar (RocketMQ's SelectorParser.jj): OR, AND, NOT; = <> > >= < <=; [NOT] BETWEEN x AND y;
// [NOT] IN ('a', ...); IS [NOT] NULL; [NOT] CONTAINS / STARTSWITH / ENDSWITH 'text'; unary - +;
// parentheses; literals 'text' ('' escapes a quote), 123, 123L, 1.5, 1e3, .5, TRUE, FALSE, NULL;
// property names [A-Za-z_$][A-Za-z0-9_$]*. Keywords are case-insensitive, names are not.
// Comments: -- to end of line, /* ... */. The tag is the property TAGS.
//
// Semantics are RocketMQ's (filter module + broker ExpressionMessageFilter):
// * A property's value is a string, or NULL when the message does not have it.
// * Comparison with NULL is NULL (unknown); AND/OR/NOT are three-valued; a message matches only
//   when the whole expression is TRUE.
// * A number literal decides how a property is read: 5 (a Java int) parses the value as an int,
//   5000000000 or 5L as a long, 5.0 as a double. A value that does not parse makes the whole
//   evaluation fail, and a failed evaluation does not match (even under OR, as in RocketMQ; an
//   OR whose left side is already TRUE never evaluates its right side).
// * Strings compare with = and <> only; two properties compared with > etc. are both read as
//   doubles. IN and CONTAINS/STARTSWITH/ENDSWITH take string literals.
// Deliberate differences: trailing input after a complete expression is an error (RocketMQ
// ignores it); the literal 0.0 is accepted (RocketMQ refuses floats below Double.MIN_VALUE);
// property values are read as doubles in decimal notation only (no hex floats).
//
// Limits: expressions up to kMaxSql92Length bytes and kMaxSql92Depth levels of nesting; past
// them CompileSql92 fails cleanly (no deep recursion on hostile input).
//
// Thread safety: a compiled filter is immutable; Matches may run on any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace stele::filter {

inline constexpr size_t kMaxSql92Length = 64 * 1024;  // as a heartbeat's subString
inline constexpr int kMaxSql92Depth = 64;             // nesting of parentheses / operators

// A property's value by name, or nullopt when the message does not have it. The view must stay
// valid until the lookup is called again or Matches returns.
using PropertyLookup = absl::FunctionRef<std::optional<std::string_view>(std::string_view name)>;

namespace internal {
struct Node;
}  // namespace internal

class Sql92Filter {
 public:
  ~Sql92Filter();
  // True when the expression is TRUE for a message with these properties.
  bool Matches(PropertyLookup lookup) const;
  // The source text it was compiled from.
  const std::string& expression() const { return expression_; }

 private:
  friend class Sql92Compiler;
  Sql92Filter() = default;
  std::string expression_;
  std::vector<internal::Node> nodes_;
  int root_ = -1;
};

// Compiles `expr`; InvalidArgument with the offset and the reason when it is malformed, too long
// or nested too deeply.
absl::StatusOr<std::shared_ptr<const Sql92Filter>> CompileSql92(std::string_view expr);

}  // namespace stele::filter
