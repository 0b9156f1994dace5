// Evaluation of a compiled SQL92 filter with RocketMQ's semantics (see sql92_filter.h).
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "net/broker/filter/sql92_filter.h"
#include "net/broker/filter/sql92_node.h"

namespace stele::filter {
namespace internal {
namespace {

using T = Value::Type;

bool ParseSignedDigits(std::string_view s, int64_t lo, int64_t hi, int64_t* out) {
  if (s.empty()) return false;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  // Accumulate negatively so that the minimum value parses without overflow.
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (v < (lo + digit) / 10) return false;
    v = v * 10 - digit;
  }
  if (!neg) {
    if (v < -hi) return false;
    v = -v;
  }
  *out = v;
  return v >= lo && v <= hi;
}

int Sign(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

double AsDouble(const Value& v) { return v.type == T::kDouble ? v.d : static_cast<double>(v.i); }

// Reads a string as the type of `like` (Java's X.valueOf(String)).
bool Convert(std::string_view s, T like, Value* out) {
  out->type = like;
  switch (like) {
    case T::kBool:  // Boolean.valueOf: "true" in any case, anything else is false
      out->b = s.size() == 4 && (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' &&
               (s[2] | 0x20) == 'u' && (s[3] | 0x20) == 'e';
      return true;
    case T::kInt:
      return ParseJavaInt(s, &out->i);
    case T::kLong:
      return ParseJavaLong(s, &out->i);
    case T::kDouble:
      return ParseJavaDouble(s, &out->d);
    default:
      return false;
  }
}

}  // namespace

bool ParseJavaInt(std::string_view s, int64_t* out) {
  return ParseSignedDigits(s, std::numeric_limits<int32_t>::min(),
                           std::numeric_limits<int32_t>::max(), out);
}

bool ParseJavaLong(std::string_view s, int64_t* out) {
  return ParseSignedDigits(s, std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max(), out);
}

bool ParseJavaDouble(std::string_view s, double* out) {
  // Java trims every char <= ' ' first.
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "Infinity") {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (!s.empty() && (s.back() == 'd' || s.back() == 'D' || s.back() == 'f' || s.back() == 'F')) {
    s.remove_suffix(1);
  }
  // digits [. digits] [e [sign] digits], at least one mantissa digit; from_chars alone would
  // also take "inf", "nan" and hex forms Java does not.
  size_t i = 0, mantissa = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa;
  }
  if (mantissa == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exp_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == exp_start) return false;
  }
  if (i != s.size()) return false;
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    // Java rounds to infinity or zero instead of failing, as strtod does (the "C" locale's
    // decimal point is the only one the format check above lets through).
    const std::string copy(s);
    v = std::strtod(copy.c_str(), nullptr);
  } else if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    return false;
  }
  *out = neg ? -v : v;
  return true;
}

int JavaDoubleCompare(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  // Equal, or a NaN involved: Java orders by the canonical bits (-0.0 < 0.0, NaN above all).
  auto bits = [](double x) {
    return std::isnan(x) ? int64_t{0x7ff8000000000000} : std::bit_cast<int64_t>(x);
  };
  return Sign(bits(a), bits(b));
}

CompareResult Compare(const Value& lv, const Value& rv) {
  Value l = lv, r = rv;
  if (l.type != r.type) {
    if (l.type == T::kBool) {
      // Java casts the Boolean itself to String here and throws.
      if (r.type == T::kString) return {.ok = false};
      return {.sign = -1};
    }
    if (l.is_number() && r.is_number()) {
      if (l.type == T::kDouble || r.type == T::kDouble) {
        return {.sign = JavaDoubleCompare(AsDouble(l), AsDouble(r))};
      }
      return {.sign = Sign(l.i, r.i)};  // int vs long
    }
    if (l.is_number() && r.type == T::kString) {
      if (!Convert(r.s, l.type, &r)) return {.ok = false};
    } else if (l.type == T::kString && (r.is_number() || r.type == T::kBool)) {
      if (!Convert(l.s, r.type, &l)) return {.ok = false};
    } else {
      return {.sign = -1};
    }
  }
  switch (l.type) {
    case T::kBool:
      return {.sign = Sign(l.b, r.b)};
    case T::kInt:
    case T::kLong:
      return {.sign = Sign(l.i, r.i)};
    case T::kDouble:
      return {.sign = JavaDoubleCompare(l.d, r.d)};
    case T::kString:
      return {.sign = l.s < r.s ? -1 : (l.s > r.s ? 1 : 0)};
    default:
      return {.sign = 0};  // null == null
  }
}

namespace {

class Evaluator {
 public:
  Evaluator(const std::vector<Node>& nodes, PropertyLookup lookup)
      : nodes_(nodes), lookup_(lookup) {}

  Value Eval(int index) {
    const Node& n = nodes_[static_cast<size_t>(index)];
    switch (n.op) {
      case Op::kConst: {
        Value v = n.constant;
        if (v.type == T::kString) v.s = n.text;
        return v;
      }
      case Op::kProperty: {
        std::optional<std::string_view> p = lookup_(n.text);
        return p ? Value::String(*p) : Value::Null();
      }
      case Op::kNegate: {
        Value v = Eval(n.kids[0]);
        if (v.type == T::kError) return v;
        if (!v.is_number()) return Value::Null();
        if (v.type == T::kDouble) {
          v.d = -v.d;
        } else if (v.type == T::kInt) {  // Java int arithmetic wraps
          v.i = static_cast<int32_t>(0u - static_cast<uint32_t>(v.i));
        } else {
          v.i = static_cast<int64_t>(0ull - static_cast<uint64_t>(v.i));
        }
        return v;
      }
      case Op::kNot: {
        Value v = Eval(n.kids[0]);
        if (v.type == T::kBool) v.b = !v.b;
        return v.type == T::kBool || v.type == T::kNull ? v : Value::Error();
      }
      case Op::kBoolCast: {
        Value v = Eval(n.kids[0]);
        if (v.type == T::kError || v.type == T::kNull || v.type == T::kBool) return v;
        return Value::Bool(false);
      }
      case Op::kIsNull: {
        Value v = Eval(n.kids[0]);
        return v.type == T::kError ? v : Value::Bool(v.type == T::kNull);
      }
      case Op::kAnd:
      case Op::kOr:
        return Logic(n);
      case Op::kEqual:
        return Equal(n);
      case Op::kLess:
      case Op::kLessEqual:
      case Op::kGreater:
      case Op::kGreaterEqual:
        return Relational(n);
      case Op::kIn: {
        Value v = Eval(n.kids[0]);
        if (v.type == T::kError) return v;
        if (v.type != T::kString) return Value::Null();
        const bool found = std::binary_search(n.list.begin(), n.list.end(), v.s);
        return Value::Bool(found != n.negated);
      }
      case Op::kContains:
      case Op::kStartsWith:
      case Op::kEndsWith: {
        if (n.text.empty()) return Value::Bool(false);
        Value v = Eval(n.kids[0]);
        if (v.type == T::kError) return v;
        if (v.type != T::kString) return Value::Bool(false);
        const bool hit = n.op == Op::kContains     ? v.s.find(n.text) != std::string_view::npos
                         : n.op == Op::kStartsWith ? v.s.starts_with(n.text)
                                                   : v.s.ends_with(n.text);
        return Value::Bool(hit != n.negated);
      }
    }
    return Value::Error();
  }

 private:
  // Left-deep fold of RocketMQ's LogicExpression: AND stops at the first FALSE, OR at the first
  // TRUE; otherwise NULL if any side was NULL.
  Value Logic(const Node& n) {
    const bool is_and = n.op == Op::kAnd;
    Value acc = Eval(n.kids[0]);
    for (size_t k = 1; k < n.kids.size(); ++k) {
      if (acc.type == T::kError) return acc;
      if (acc.type != T::kBool && acc.type != T::kNull) return Value::Error();
      if (acc.type == T::kBool && acc.b != is_and) return acc;  // decided
      Value rv = Eval(n.kids[k]);
      if (rv.type == T::kError) return rv;
      if (rv.type != T::kBool && rv.type != T::kNull) return Value::Error();
      if (rv.type == T::kBool && rv.b != is_and) {
        acc = rv;
      } else if (acc.type == T::kNull || rv.type == T::kNull) {
        acc = Value::Null();
      } else {
        acc = Value::Bool(is_and);
      }
    }
    return acc;
  }

  Value Equal(const Node& n) {
    const Value lv = Eval(n.kids[0]);
    if (lv.type == T::kError) return lv;
    const Value rv = Eval(n.kids[1]);
    if (rv.type == T::kError) return rv;
    const bool ln = lv.type == T::kNull, rn = rv.type == T::kNull;
    if (ln != rn) return ln ? Value::Null() : Value::Bool(false);
    if (ln) return Value::Bool(true);
    const CompareResult c = Compare(lv, rv);
    return c.ok ? Value::Bool(c.sign == 0) : Value::Error();
  }

  Value Relational(const Node& n) {
    const Value lv = Eval(n.kids[0]);
    if (lv.type == T::kError || lv.type == T::kNull) return lv;
    const Value rv = Eval(n.kids[1]);
    if (rv.type == T::kError || rv.type == T::kNull) return rv;
    CompareResult c;
    if (lv.type == T::kString && rv.type == T::kString) {
      // RocketMQ refuses to order strings: both must read as doubles.
      double a = 0, b = 0;
      if (!ParseJavaDouble(lv.s, &a) || !ParseJavaDouble(rv.s, &b)) return Value::Error();
      c.sign = JavaDoubleCompare(a, b);
    } else {
      c = Compare(lv, rv);
      if (!c.ok) return Value::Error();
    }
    switch (n.op) {
      case Op::kLess:
        return Value::Bool(c.sign < 0);
      case Op::kLessEqual:
        return Value::Bool(c.sign <= 0);
      case Op::kGreater:
        return Value::Bool(c.sign > 0);
      default:
        return Value::Bool(c.sign >= 0);
    }
  }

  const std::vector<Node>& nodes_;
  PropertyLookup lookup_;
};

}  // namespace
}  // namespace internal

Sql92Filter::~Sql92Filter() = default;

bool Sql92Filter::Matches(PropertyLookup lookup) const {
  const internal::Value v = internal::Evaluator(nodes_, lookup).Eval(root_);
  return v.type == internal::Value::Type::kBool && v.b;
}

}  // namespace stele::filter
