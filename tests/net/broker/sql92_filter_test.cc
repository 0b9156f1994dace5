// The SQL92 filter: a table of expressions x property sets with RocketMQ's expected results
// (three-valued logic, number parsing by literal type, evaluation failures that fail the whole
// match), malformed expressions each refused with a reason, and hostile input (deep nesting,
// huge input) refused cleanly.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/broker/filter/sql92_cache.h"
#include "net/broker/filter/sql92_filter.h"

namespace stele::filter {
namespace {

using Props = std::map<std::string, std::string>;

bool Eval(const std::string& expr, const Props& props) {
  auto f = CompileSql92(expr);
  EXPECT_TRUE(f.ok()) << expr << ": " << f.status();
  if (!f.ok()) return false;
  return (*f)->Matches([&](std::string_view name) -> std::optional<std::string_view> {
    auto it = props.find(std::string(name));
    if (it == props.end()) return std::nullopt;
    return it->second;
  });
}

struct Case {
  std::string expr;
  Props props;
  bool want;
};

TEST(Sql92Filter, Table) {
  const Props eu7{{"a", "7"}, {"region", "eu"}, {"TAGS", "TagA"}};
  const Props us3{{"a", "3"}, {"region", "us"}};
  const Props none{};
  const std::vector<Case> cases = {
      // comparisons on numbers
      {"a > 5", eu7, true},
      {"a > 5", us3, false},
      {"a >= 7 AND a <= 7", eu7, true},
      {"a < 7", eu7, false},
      {"a <= 7.0", eu7, true},
      {"a = 7", eu7, true},
      {"a <> 7", eu7, false},
      {"a = 7.0", eu7, true},
      {"a > 6.5", eu7, true},
      {"a > -1", eu7, true},
      {"a > - -8", eu7, false},
      {"a > +6", eu7, true},
      {"7 = a", eu7, true},
      // strings
      {"region = 'eu'", eu7, true},
      {"region <> 'eu'", us3, true},
      {"region = 'EU'", eu7, false},  // values are case-sensitive
      {"TAGS = 'TagA'", eu7, true},
      {"TAGS IS NULL", us3, true},
      // the brief's example
      {"a > 5 AND region = 'eu'", eu7, true},
      {"a > 5 AND region = 'eu'", us3, false},
      // keywords in any case
      {"a > 5 and region = 'eu' Or FALSE", eu7, true},
      {"a between 1 and 7", eu7, true},
      {"a BETWEEN 1 AND 6", eu7, false},
      {"a NOT BETWEEN 1 AND 6", eu7, true},
      {"a not between 1 and 7", eu7, false},
      {"a BETWEEN 6.5 AND 7.5", eu7, true},
      {"region IN ('eu', 'us')", eu7, true},
      {"region IN ('asia')", eu7, false},
      {"region NOT IN ('asia', 'us')", eu7, true},
      {"region in ('a','b','c','d','e','f','eu')", eu7, true},
      {"region IS NOT NULL", eu7, true},
      {"region IS NULL", eu7, false},
      {"missing IS NULL", eu7, true},
      {"missing IS NOT NULL", eu7, false},
      {"NOT (a > 5)", eu7, false},
      {"NOT (a > 5)", us3, true},
      // NOT binds tighter than comparisons, as in RocketMQ: (NOT region) = 'asia' compares a
      // Boolean with a String, which fails
      {"NOT region = 'asia'", us3, false},
      {"(a > 5 OR region = 'us') AND NOT (region = 'asia')", us3, true},
      {"TRUE", none, true},
      {"FALSE", none, false},
      {"NOT FALSE", none, true},
      {"(((a = 7)))", eu7, true},
      {"a = 7 /* comment */ -- trailing\n AND region = 'eu'", eu7, true},
      // string escapes
      {"q = 'it''s'", Props{{"q", "it's"}}, true},
      {"q = ''", Props{{"q", ""}}, true},
      // CONTAINS / STARTSWITH / ENDSWITH (RocketMQ 5)
      {"region CONTAINS 'u'", eu7, true},
      {"region NOT CONTAINS 'u'", eu7, false},
      {"region STARTSWITH 'e'", eu7, true},
      {"region NOT STARTSWITH 'e'", us3, true},
      {"region ENDSWITH 'u'", eu7, true},
      {"region NOT ENDSWITH 'u'", eu7, false},
      {"region CONTAINS ''", eu7, false},        // an empty search never matches
      {"missing NOT CONTAINS 'x'", eu7, false},  // NULL: FALSE, not unknown
      // NULL logic: a missing property makes a comparison unknown
      {"missing > 5", eu7, false},
      {"NOT (missing > 5)", eu7, false},
      {"missing = 'x'", eu7, false},
      {"NOT (missing = 'x')", eu7, false},
      {"missing <> 'x'", eu7, false},
      {"missing > 5 OR a = 7", eu7, true},
      {"missing > 5 AND a = 7", eu7, false},
      {"NOT (missing > 5 AND a = 8)", eu7, true},  // unknown AND false = false
      {"NOT (missing > 5 OR a = 7)", eu7, false},
      {"missing IN ('x')", eu7, false},
      {"missing NOT IN ('x')", eu7, false},
      {"NULL", none, false},
      {"NULL IS NULL", none, true},
      // a bare property as a condition is never TRUE (its value is a string)
      {"region", eu7, false},
      {"NOT region", eu7, true},
      // booleans
      {"flag = TRUE", Props{{"flag", "true"}}, true},
      {"flag = TRUE", Props{{"flag", "TRUE"}}, true},
      {"flag = TRUE", Props{{"flag", "yes"}}, false},
      {"flag = FALSE", Props{{"flag", "yes"}}, true},
      {"TRUE = flag", Props{{"flag", "true"}}, false},  // Java throws: no match
      {"(a = 7) = TRUE", eu7, true},
      {"1 = TRUE", none, false},
      // number parsing decided by the literal: an int literal reads an int
      {"a > 5", Props{{"a", "5.5"}}, false},          // "5.5" is not an int: fails
      {"a > 5 OR TRUE", Props{{"a", "5.5"}}, false},  // ... and fails the whole match
      {"TRUE OR a > 5", Props{{"a", "5.5"}}, true},   // short circuit: never evaluated
      {"a > 5.0", Props{{"a", "5.5"}}, true},
      {"a > 5", Props{{"a", "abc"}}, false},
      {"a < 5", Props{{"a", "abc"}}, false},
      {"a > 5", Props{{"a", " 6"}}, false},    // Integer.valueOf does not trim
      {"a > 5.0", Props{{"a", " 6 "}}, true},  // Double.valueOf does
      {"a > 5", Props{{"a", "+6"}}, true},
      {"a > 5", Props{{"a", "6000000000"}}, false},  // beyond an int
      {"a > 5000000000", Props{{"a", "6000000000"}}, true},
      {"a > 5L", Props{{"a", "6000000000"}}, false},  // 5L fits an int: still an int
      {"a > 5000000000L", Props{{"a", "6000000000"}}, true},
      {"a < 9223372036854775807", Props{{"a", "9223372036854775806"}}, true},
      {"a > 1e3", Props{{"a", "1001"}}, true},
      {"a > .5", Props{{"a", "0.6"}}, true},
      {"a > 1.5", Props{{"a", "2d"}}, true},  // Java accepts a d/f suffix
      {"a > 1.5", Props{{"a", "Infinity"}}, true},
      {"a > 1.5", Props{{"a", "inf"}}, false},
      {"a > 1.5", Props{{"a", "NaN"}}, true},    // Double.compare: NaN above all
      {"a = 0.0", Props{{"a", "-0.0"}}, false},  // Double.compare: -0.0 < 0.0
      {"a > 1.5", Props{{"a", "1e999"}}, true},  // Java rounds to infinity
      {"a > -9223372036854775807", Props{{"a", "-9223372036854775808"}}, false},  // int? no: long
      {"a = 5", Props{{"a", "05"}}, true},
      {"a = '5'", Props{{"a", "05"}}, false},
      // two properties: = compares strings, < reads both as doubles
      {"a = b", Props{{"a", "1"}, {"b", "1.0"}}, false},
      {"a < b", Props{{"a", "1"}, {"b", "1.5"}}, true},
      {"a < b", Props{{"a", "x"}, {"b", "1.5"}}, false},
      // negation of a property is NULL
      {"-a < 0", Props{{"a", "5"}}, false},
      // names are case-sensitive
      {"A = 7", eu7, false},
      {"$x_1 = 'y'", Props{{"$x_1", "y"}}, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Eval(c.expr, c.props), c.want) << c.expr;
  }
}

TEST(Sql92Filter, MalformedExpressionsAreRefusedWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"   ", "empty"},
      {"a >", "expected a value"},
      {"a > 5 AND", "expected a value"},
      {"(a > 5", "expected ')'"},
      {"a > 5)", "after a complete expression"},
      {"a = 1 b", "after a complete expression"},
      {"a == 1", "expected a value"},
      {"a != 1", "unexpected character '!'"},
      {"a = 'unterminated", "unterminated string"},
      {"a = 1 /* open", "unterminated /*"},
      {"a = 007", "cannot start with 0"},
      {"a = 5abc", "after a number"},
      {"a = 99999999999999999999", "out of the long range"},
      {"a > 1e400", "out of the double range"},
      {"a = NULL", "use IS NULL"},
      {"NULL = a", "use IS NULL"},
      {"a > 'x'", "cannot be compared"},
      {"a > TRUE", "cannot be compared"},
      {"(a > 1) > 2", "cannot be compared"},
      {"TRUE = 1", "cannot be compared"},
      {"a BETWEEN 10 AND 1", "lower bound"},
      {"a BETWEEN 'a' AND 'b'", "cannot be compared"},
      {"a BETWEEN NULL AND 1", "cannot be NULL"},
      {"a BETWEEN 1", "expected AND"},
      {"5", "not a condition"},
      {"'x'", "not a condition"},
      {"a = 1 AND 5", "not a condition"},
      {"NOT 5", "not a condition"},
      {"-a", "not a condition"},
      {"NOT a > 5", "cannot be compared"},  // (NOT a) > 5
      {"5 IN ('a')", "IN needs a property"},
      {"a IN (1, 2)", "expected a string literal"},
      {"a IN ()", "expected a string literal"},
      {"a IN 'x'", "expected '(' after IN"},
      {"a CONTAINS 5", "expected a string literal"},
      {"a IS 5", "expected NULL after IS"},
      {"a = 1 \x01", "unexpected character '\\x01'"},
      {"a = 'é' AND b # 1", "unexpected character '#'"},
  };
  for (const auto& [expr, why] : cases) {
    auto f = CompileSql92(expr);
    ASSERT_FALSE(f.ok()) << expr;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << expr;
    EXPECT_NE(f.status().message().find(why), std::string_view::npos)
        << expr << " -> " << f.status().message();
    EXPECT_NE(f.status().message().find("offset"), std::string_view::npos) << expr;
  }
}

TEST(Sql92Filter, ErrorOffsetPointsAtTheProblem) {
  auto f = CompileSql92("a = 1 AND b > 'x'");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("offset 12"), std::string_view::npos) << f.status();
}

TEST(Sql92Filter, DeepNestingIsRefusedNotACrash) {
  // Within the limit: fine.
  std::string ok = std::string(40, '(') + "a = 1" + std::string(40, ')');
  EXPECT_TRUE(CompileSql92(ok).ok());
  for (const std::string& unit : {std::string("("), std::string("NOT "), std::string("- ")}) {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += unit;
    deep += "a = 1";
    auto f = CompileSql92(deep.substr(0, kMaxSql92Length));
    ASSERT_FALSE(f.ok()) << unit;
    EXPECT_NE(f.status().message().find("nested too deeply"), std::string_view::npos) << f.status();
  }
  // A long chain of = builds a deep tree without parentheses.
  std::string chain = "a = 1";
  for (int i = 0; i < 1000; ++i) chain += " = TRUE";
  auto f = CompileSql92(chain);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("nested too deeply"), std::string_view::npos);
}

TEST(Sql92Filter, LongFlatChainsCompileAndEvaluate) {
  // AND/OR chains are flat (n-ary) nodes: long ones are fine, and evaluate iteratively.
  std::string expr = "a = 0";
  for (int i = 1; i < 3000; ++i) expr += fmt::format(" OR a = {}", i);
  ASSERT_LE(expr.size(), kMaxSql92Length);
  EXPECT_TRUE(Eval(expr, Props{{"a", "2999"}}));
  EXPECT_FALSE(Eval(expr, Props{{"a", "3000"}}));
}

TEST(Sql92Filter, HugeInputIsRefused) {
  std::string huge = "a = '" + std::string(kMaxSql92Length, 'x') + "'";
  auto f = CompileSql92(huge);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("too long"), std::string_view::npos);
  // Just under the limit is accepted.
  std::string big = "a = '" + std::string(kMaxSql92Length - 6, 'x') + "'";
  EXPECT_TRUE(CompileSql92(big).ok());
}

TEST(Sql92Filter, ExpressionIsKept) {
  auto f = CompileSql92("a > 1");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->expression(), "a > 1");
}

TEST(Sql92Cache, CompilesOnceAndCachesFailures) {
  Sql92Cache cache(3);
  auto a = cache.Get("a > 1");
  auto b = cache.Get("a > 1");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());  // the same compiled filter
  EXPECT_FALSE(cache.Get("a >").ok());
  EXPECT_FALSE(cache.Get("a >").ok());
  EXPECT_EQ(cache.size(), 2u);
  (void)cache.Get("b > 1");
  (void)cache.Get("c > 1");  // over capacity: starts over
  EXPECT_LE(cache.size(), 3u);
  // Bounded by text too: two 600-byte expressions do not fit in 1000 bytes together.
  Sql92Cache small(100, 1000);
  const std::string big = "a = '" + std::string(600, 'x') + "'";
  ASSERT_TRUE(small.Get(big).ok());
  ASSERT_TRUE(small.Get(big + " OR TRUE").ok());
  EXPECT_EQ(small.size(), 1u);
}

}  // namespace
}  // namespace stele::filter
