#include "net/broker/filter/sql92_lexer.h"

#include <cctype>
#include <utility>

#include "fmt/format.h"

namespace stele::filter::internal {
namespace {

bool IdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}
bool IdentPart(char c) { return IdentStart(c) || (c >= '0' && c <= '9'); }
bool Digit(char c) { return c >= '0' && c <= '9'; }

bool KeywordIs(std::string_view word, std::string_view kw) {
  if (word.size() != kw.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(word[i])) != kw[i]) return false;
  }
  return true;
}

Tok KeywordOrIdent(std::string_view w) {
  static constexpr std::pair<std::string_view, Tok> kKeywords[] = {
      {"NOT", Tok::kNot},
      {"AND", Tok::kAnd},
      {"OR", Tok::kOr},
      {"BETWEEN", Tok::kBetween},
      {"IN", Tok::kIn},
      {"TRUE", Tok::kTrue},
      {"FALSE", Tok::kFalse},
      {"NULL", Tok::kNull},
      {"IS", Tok::kIs},
      {"CONTAINS", Tok::kContains},
      {"STARTSWITH", Tok::kStartsWith},
      {"ENDSWITH", Tok::kEndsWith},
  };
  for (const auto& [kw, tok] : kKeywords) {
    if (KeywordIs(w, kw)) return tok;
  }
  return Tok::kIdent;
}

}  // namespace

bool Lex(std::string_view in, std::vector<Token>* out, SyntaxError* err) {
  size_t i = 0;
  auto fail = [&](size_t pos, std::string why) {
    *err = {pos, std::move(why)};
    return false;
  };
  while (true) {
    while (i < in.size() &&
           (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r' || in[i] == '\f')) {
      ++i;
    }
    if (in.substr(i).starts_with("--")) {
      while (i < in.size() && in[i] != '\n' && in[i] != '\r') ++i;
      continue;
    }
    if (in.substr(i).starts_with("/*")) {
      const size_t close = in.find("*/", i + 2);
      if (close == std::string_view::npos) return fail(i, "unterminated /* comment");
      i = close + 2;
      continue;
    }
    Token t;
    t.pos = i;
    if (i == in.size()) {
      out->push_back(t);
      return true;
    }
    const char c = in[i];
    size_t j = i + 1;
    if (IdentStart(c)) {
      while (j < in.size() && IdentPart(in[j])) ++j;
      t.kind = KeywordOrIdent(in.substr(i, j - i));
    } else if (Digit(c) || (c == '.' && j < in.size() && Digit(in[j]))) {
      j = i;
      while (j < in.size() && Digit(in[j])) ++j;
      bool is_float = false;
      if (j < in.size() && in[j] == '.') {
        is_float = true;
        ++j;
        while (j < in.size() && Digit(in[j])) ++j;
      }
      if (j < in.size() && (in[j] == 'e' || in[j] == 'E')) {
        size_t k = j + 1;
        if (k < in.size() && (in[k] == '+' || in[k] == '-')) ++k;
        if (k < in.size() && Digit(in[k])) {
          while (k < in.size() && Digit(in[k])) ++k;
          j = k;
          is_float = true;
        }
      }
      if (!is_float) {
        if (in[i] == '0' && j - i > 1) return fail(i, "an integer cannot start with 0");
        if (j < in.size() && (in[j] == 'l' || in[j] == 'L')) ++j;
      }
      if (j < in.size() && IdentPart(in[j])) return fail(j, "unexpected character after a number");
      t.kind = is_float ? Tok::kFloat : Tok::kInt;
    } else if (c == '\'') {
      t.kind = Tok::kString;
      for (;; ++j) {
        if (j >= in.size()) return fail(i, "unterminated string literal");
        if (in[j] == '\'') {
          if (j + 1 < in.size() && in[j + 1] == '\'') {
            t.value.push_back('\'');
            ++j;
            continue;
          }
          ++j;
          break;
        }
        t.value.push_back(in[j]);
      }
    } else {
      switch (c) {
        case '(':
          t.kind = Tok::kLParen;
          break;
        case ')':
          t.kind = Tok::kRParen;
          break;
        case ',':
          t.kind = Tok::kComma;
          break;
        case '=':
          t.kind = Tok::kEq;
          break;
        case '+':
          t.kind = Tok::kPlus;
          break;
        case '-':
          t.kind = Tok::kMinus;
          break;
        case '>':
          t.kind = Tok::kGt;
          if (j < in.size() && in[j] == '=') t.kind = Tok::kGe, ++j;
          break;
        case '<':
          t.kind = Tok::kLt;
          if (j < in.size() && in[j] == '=') {
            t.kind = Tok::kLe, ++j;
          } else if (j < in.size() && in[j] == '>') {
            t.kind = Tok::kNe, ++j;
          }
          break;
        default:
          return fail(i,
                      fmt::format("unexpected character '{}'",
                                  std::isprint(static_cast<unsigned char>(c))
                                      ? std::string(1, c)
                                      : fmt::format("\\x{:02x}", static_cast<unsigned char>(c))));
      }
    }
    t.text = in.substr(i, j - i);
    out->push_back(std::move(t));
    i = j;
  }
}

}  // namespace stele::filter::internal
