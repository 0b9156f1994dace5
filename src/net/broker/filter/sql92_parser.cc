// Recursive-descent parser for RocketMQ's SQL92 selectors (SelectorParser.jj), with
// the checks RocketMQ makes while building the tree (ComparisonExpression.create*).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/broker/filter/sql92_filter.h"
#include "net/broker/filter/sql92_lexer.h"
#include "net/broker/filter/sql92_node.h"

namespace stele::filter {

using internal::Lex;
using internal::Node;
using internal::Op;
using internal::SyntaxError;
using internal::Tok;
using internal::Token;
using internal::Value;

namespace {

// The tree may be deeper than the source nesting (chains like a = b = TRUE, n-ary AND/OR under
// each level), but stays within this.
constexpr int kMaxTreeDepth = 4 * kMaxSql92Depth;

}  // namespace

// Builds a Sql92Filter's node table; the first error wins and stops the parse.
class Sql92Compiler {
 public:
  explicit Sql92Compiler(std::string_view in) : in_(in) {}

  absl::StatusOr<std::shared_ptr<const Sql92Filter>> Compile() {
    if (in_.size() > kMaxSql92Length) {
      return absl::InvalidArgumentError(fmt::format(
          "SQL92 expression too long: {} bytes (at most {})", in_.size(), kMaxSql92Length));
    }
    SyntaxError err{0, ""};
    if (!Lex(in_, &tokens_, &err)) return Error(err);
    if (tokens_.size() == 1) return Error({0, "empty expression"});
    int root = -1;
    if (!Or(&root) || !AsBoolean(&root, tokens_[0].pos)) return Error(err_);
    if (Peek().kind != Tok::kEnd) {
      return Error(
          {Peek().pos, fmt::format("unexpected '{}' after a complete expression", Near(Peek()))});
    }
    auto f = std::shared_ptr<Sql92Filter>(new Sql92Filter());
    f->expression_ = std::string(in_);
    f->nodes_ = std::move(nodes_);
    f->root_ = root;
    return std::shared_ptr<const Sql92Filter>(std::move(f));
  }

 private:
  absl::Status Error(const SyntaxError& e) const {
    return absl::InvalidArgumentError(
        fmt::format("invalid SQL92 expression at offset {}: {}", e.pos, e.why));
  }
  static std::string Near(const Token& t) {
    if (t.kind == Tok::kEnd) return "end of input";
    return std::string(t.text.substr(0, 32));
  }

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  const Token& Take() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }
  bool Accept(Tok k) {
    if (Peek().kind != k) return false;
    Take();
    return true;
  }
  bool Fail(size_t pos, std::string why) {
    if (err_.why.empty()) err_ = {pos, std::move(why)};
    return false;
  }
  bool Expect(Tok k, std::string_view what) {
    if (Accept(k)) return true;
    return Fail(Peek().pos, fmt::format("expected {}, found '{}'", what, Near(Peek())));
  }

  const Node& At(int i) const { return nodes_[static_cast<size_t>(i)]; }
  bool IsConstant(int i) const { return At(i).op == Op::kConst; }
  bool IsNullConstant(int i) const {
    return IsConstant(i) && At(i).constant.type == Value::Type::kNull;
  }
  // RocketMQ's BooleanExpression: conditions and the constants TRUE, FALSE and NULL.
  bool IsBoolean(int i) const {
    switch (At(i).op) {
      case Op::kConst:
        return At(i).constant.type == Value::Type::kBool ||
               At(i).constant.type == Value::Type::kNull;
      case Op::kProperty:
      case Op::kNegate:
        return false;
      default:
        return true;
    }
  }
  std::string Describe(int i) const {
    const Node& n = At(i);
    if (n.op == Op::kProperty) return n.text;
    if (n.op != Op::kConst) return "a condition";
    switch (n.constant.type) {
      case Value::Type::kNull:
        return "NULL";
      case Value::Type::kBool:
        return n.constant.b ? "TRUE" : "FALSE";
      case Value::Type::kString:
        return fmt::format("'{}'", n.text.substr(0, 32));
      default:
        return "a number";
    }
  }

  bool Add(Node n, int* out, size_t pos) {
    for (int k : n.kids) n.depth = std::max(n.depth, At(k).depth + 1);
    if (n.depth > kMaxTreeDepth) {
      return Fail(pos, fmt::format("expression nested too deeply (limit {})", kMaxSql92Depth));
    }
    nodes_.push_back(std::move(n));
    *out = static_cast<int>(nodes_.size() - 1);
    return true;
  }
  bool Unary(Op op, int kid, int* out, size_t pos) {
    Node n;
    n.op = op;
    n.kids = {kid};
    return Add(std::move(n), out, pos);
  }
  bool Binary(Op op, int l, int r, int* out, size_t pos) {
    Node n;
    n.op = op;
    n.kids = {l, r};
    return Add(std::move(n), out, pos);
  }

  // asBooleanExpression: a bare property becomes a boolean cast; other non-conditions fail.
  bool AsBoolean(int* e, size_t pos) {
    if (IsBoolean(*e)) return true;
    if (At(*e).op == Op::kProperty) return Unary(Op::kBoolCast, *e, e, pos);
    return Fail(pos, fmt::format("{} is not a condition", Describe(*e)));
  }

  // AND/OR chains become one n-ary node (same left-to-right evaluation as RocketMQ's tree).
  bool Logic(Op op, int l, int r, int* out, size_t pos) {
    if (!AsBoolean(&l, pos) || !AsBoolean(&r, pos)) return false;
    if (At(l).op == op) {  // extend in place: `l` is referenced only by this chain
      Node& n = nodes_[static_cast<size_t>(l)];
      n.depth = std::max(n.depth, At(r).depth + 1);
      if (n.depth > kMaxTreeDepth) {
        return Fail(pos, fmt::format("expression nested too deeply (limit {})", kMaxSql92Depth));
      }
      n.kids.push_back(r);
      *out = l;
      return true;
    }
    return Binary(op, l, r, out, pos);
  }

  bool Or(int* out) {
    if (!And(out)) return false;
    while (Peek().kind == Tok::kOr) {
      const size_t pos = Take().pos;
      int r = -1;
      if (!And(&r) || !Logic(Op::kOr, *out, r, out, pos)) return false;
    }
    return true;
  }

  bool And(int* out) {
    if (!Equality(out)) return false;
    while (Peek().kind == Tok::kAnd) {
      const size_t pos = Take().pos;
      int r = -1;
      if (!Equality(&r) || !Logic(Op::kAnd, *out, r, out, pos)) return false;
    }
    return true;
  }

  // ComparisonExpression.createEqual's checks.
  bool Equal(int l, int r, int* out, size_t pos) {
    for (int x : {l, r}) {
      if (IsNullConstant(x)) return Fail(pos, "NULL cannot be compared with = or <>; use IS NULL");
    }
    if (IsConstant(l) && IsConstant(r) && IsBoolean(l) && !IsBoolean(r)) {
      return Fail(pos, fmt::format("{} cannot be compared with {}", Describe(l), Describe(r)));
    }
    return Binary(Op::kEqual, l, r, out, pos);
  }

  bool Equality(int* out) {
    if (!Comparison(out)) return false;
    for (;;) {
      const Token& t = Peek();
      const size_t pos = t.pos;
      int r = -1;
      if (t.kind == Tok::kEq || t.kind == Tok::kNe) {
        const bool ne = Take().kind == Tok::kNe;
        if (!Comparison(&r) || !Equal(*out, r, out, pos)) return false;
        if (ne && !Unary(Op::kNot, *out, out, pos)) return false;
      } else if (t.kind == Tok::kIs) {
        Take();
        const bool is_not = Accept(Tok::kNot);
        if (!Expect(Tok::kNull, "NULL after IS")) return false;
        if (!Unary(Op::kIsNull, *out, out, pos)) return false;
        if (is_not && !Unary(Op::kNot, *out, out, pos)) return false;
      } else {
        return true;
      }
    }
  }

  // checkLessThanOperand: numbers and properties only.
  bool Relational(Op op, int l, int r, int* out, size_t pos) {
    for (int x : {l, r}) {
      if ((IsConstant(x) && !At(x).constant.is_number()) || IsBoolean(x)) {
        return Fail(pos, fmt::format("{} cannot be compared with < <= > >=", Describe(x)));
      }
    }
    return Binary(op, l, r, out, pos);
  }

  bool StringLiteral(std::string* s) {
    if (Peek().kind != Tok::kString) {
      return Fail(Peek().pos, fmt::format("expected a string literal, found '{}'", Near(Peek())));
    }
    *s = Take().value;
    return true;
  }

  bool Between(bool negated, int value, int* out, size_t pos) {
    int lo = -1, hi = -1;
    if (!UnaryExpr(&lo) || !Expect(Tok::kAnd, "AND in BETWEEN") || !UnaryExpr(&hi)) return false;
    if (!negated && IsConstant(lo) && IsConstant(hi)) {
      if (IsNullConstant(lo) || IsNullConstant(hi)) {
        return Fail(pos, "the bounds of BETWEEN cannot be NULL");
      }
      Value lv = At(lo).constant, hv = At(hi).constant;
      if (lv.type == Value::Type::kString) lv.s = At(lo).text;
      if (hv.type == Value::Type::kString) hv.s = At(hi).text;
      const internal::CompareResult c = internal::Compare(hv, lv);
      if (c.ok && c.sign < 0) {
        return Fail(pos, "the lower bound of BETWEEN is above its upper bound");
      }
    }
    int a = -1, b = -1;
    if (negated) {
      return Relational(Op::kLess, value, lo, &a, pos) &&
             Relational(Op::kGreater, value, hi, &b, pos) && Logic(Op::kOr, a, b, out, pos);
    }
    return Relational(Op::kGreaterEqual, value, lo, &a, pos) &&
           Relational(Op::kLessEqual, value, hi, &b, pos) && Logic(Op::kAnd, a, b, out, pos);
  }

  bool InList(bool negated, int value, int* out, size_t pos) {
    if (At(value).op != Op::kProperty) return Fail(pos, "IN needs a property on its left");
    Node n;
    n.op = Op::kIn;
    n.negated = negated;
    n.kids = {value};
    if (!Expect(Tok::kLParen, "'(' after IN")) return false;
    do {
      std::string s;
      if (!StringLiteral(&s)) return false;
      n.list.push_back(std::move(s));
    } while (Accept(Tok::kComma));
    if (!Expect(Tok::kRParen, "')' closing the IN list")) return false;
    std::sort(n.list.begin(), n.list.end());
    return Add(std::move(n), out, pos);
  }

  bool TextMatch(Op op, bool negated, int value, int* out, size_t pos) {
    Node n;
    n.op = op;
    n.negated = negated;
    n.kids = {value};
    return StringLiteral(&n.text) && Add(std::move(n), out, pos);
  }

  bool Comparison(int* out) {
    if (!UnaryExpr(out)) return false;
    for (;;) {
      const Token& t = Peek();
      const size_t pos = t.pos;
      bool negated = false;
      Tok kind = t.kind;
      if (kind == Tok::kNot) {
        const Tok next = Peek(1).kind;
        if (next != Tok::kContains && next != Tok::kStartsWith && next != Tok::kEndsWith &&
            next != Tok::kBetween && next != Tok::kIn) {
          return true;
        }
        negated = true;
        Take();
        kind = next;
      }
      int r = -1;
      switch (kind) {
        case Tok::kGt:
        case Tok::kGe:
        case Tok::kLt:
        case Tok::kLe: {
          Take();
          const Op op = kind == Tok::kGt   ? Op::kGreater
                        : kind == Tok::kGe ? Op::kGreaterEqual
                        : kind == Tok::kLt ? Op::kLess
                                           : Op::kLessEqual;
          if (!UnaryExpr(&r) || !Relational(op, *out, r, out, pos)) return false;
          break;
        }
        case Tok::kContains:
        case Tok::kStartsWith:
        case Tok::kEndsWith: {
          Take();
          const Op op = kind == Tok::kContains     ? Op::kContains
                        : kind == Tok::kStartsWith ? Op::kStartsWith
                                                   : Op::kEndsWith;
          if (!TextMatch(op, negated, *out, out, pos)) return false;
          break;
        }
        case Tok::kBetween:
          Take();
          if (!Between(negated, *out, out, pos)) return false;
          break;
        case Tok::kIn:
          Take();
          if (!InList(negated, *out, out, pos)) return false;
          break;
        default:
          return true;
      }
    }
  }

  // Unary operators and parentheses recurse; each level counts against kMaxSql92Depth.
  bool UnaryExpr(int* out) {
    if (++depth_ > kMaxSql92Depth) {
      return Fail(Peek().pos,
                  fmt::format("expression nested too deeply (limit {})", kMaxSql92Depth));
    }
    const bool ok = UnaryBody(out);
    --depth_;
    return ok;
  }

  bool UnaryBody(int* out) {
    const Token& t = Peek();
    const size_t pos = t.pos;
    switch (t.kind) {
      case Tok::kPlus:
        Take();
        return UnaryExpr(out);
      case Tok::kMinus:
        Take();
        return UnaryExpr(out) && Unary(Op::kNegate, *out, out, pos);
      case Tok::kNot:
        Take();
        return UnaryExpr(out) && AsBoolean(out, pos) && Unary(Op::kNot, *out, out, pos);
      case Tok::kLParen:
        Take();
        return Or(out) && Expect(Tok::kRParen, "')'");
      case Tok::kIdent: {
        Node n;
        n.op = Op::kProperty;
        n.text = std::string(Take().text);
        return Add(std::move(n), out, pos);
      }
      default:
        return Literal(out);
    }
  }

  bool Literal(int* out) {
    const Token& t = Peek();
    Node n;
    n.op = Op::kConst;
    switch (t.kind) {
      case Tok::kString:
        n.constant = Value::String({});
        n.text = t.value;
        break;
      case Tok::kTrue:
      case Tok::kFalse:
        n.constant = Value::Bool(t.kind == Tok::kTrue);
        break;
      case Tok::kNull:
        n.constant = Value::Null();
        break;
      case Tok::kInt: {
        // createFromDecimal: a Java int when it fits, else a long; beyond a long is an error.
        std::string_view digits = t.text;
        if (digits.back() == 'l' || digits.back() == 'L') digits.remove_suffix(1);
        int64_t v = 0;
        if (!internal::ParseJavaLong(digits, &v)) {
          return Fail(t.pos, fmt::format("integer {} out of the long range", digits.substr(0, 32)));
        }
        n.constant.type = v >= INT32_MIN && v <= INT32_MAX ? Value::Type::kInt : Value::Type::kLong;
        n.constant.i = v;
        break;
      }
      case Tok::kFloat: {
        double d = 0;
        if (!internal::ParseJavaDouble(t.text, &d) || d > 1.7976931348623157e308) {
          return Fail(t.pos,
                      fmt::format("number {} out of the double range", t.text.substr(0, 32)));
        }
        n.constant.type = Value::Type::kDouble;
        n.constant.d = d;
        break;
      }
      default:
        return Fail(t.pos, fmt::format("expected a value, found '{}'", Near(t)));
    }
    const size_t pos = Take().pos;
    return Add(std::move(n), out, pos);
  }

  std::string_view in_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  int depth_ = 0;
  std::vector<Node> nodes_;
  SyntaxError err_{0, ""};
};

absl::StatusOr<std::shared_ptr<const Sql92Filter>> CompileSql92(std::string_view expr) {
  return Sql92Compiler(expr).Compile();
}

}  // namespace stele::filter
