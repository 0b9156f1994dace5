// The SQL92 selector lexer (tokens of RocketMQ's SelectorParser.jj): keywords case-insensitive,
// identifiers [A-Za-z_$][A-Za-z0-9_$]*, 'strings' with '' escapes, integer and float literals,
// operators, and -- / /* */ comments skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stele::filter::internal {

enum class Tok : uint8_t {
  kEnd,
  kIdent,
  kString,
  kInt,
  kFloat,
  kLParen,
  kRParen,
  kComma,
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
  kPlus,
  kMinus,
  kNot,
  kAnd,
  kOr,
  kBetween,
  kIn,
  kTrue,
  kFalse,
  kNull,
  kIs,
  kContains,
  kStartsWith,
  kEndsWith,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;
  std::string_view text;  // source text
  std::string value;      // a string literal decoded
};

struct SyntaxError {
  size_t pos;
  std::string why;
};

// Splits the whole input into tokens ending with a kEnd token (at most one per input byte, so
// bounded by the length). False with `err` set on a lexical error.
bool Lex(std::string_view in, std::vector<Token>* out, SyntaxError* err);

}  // namespace stele::filter::internal
