// Text helpers for mqstore's output: timestamps, escaping, RocketMQ properties and sys flags, and
// strict parsing of numeric command-line values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stele::tools {

// ISO-8601 UTC with milliseconds, e.g. "2023-11-14T22:13:20.123Z"; "?" if out of range.
std::string IsoTime(int64_t ms);

// Printable ASCII kept as is (with '\' and '"' backslash-escaped); every other byte as \xNN.
std::string Escape(std::string_view s);

// RocketMQ's "name\x01value\x02..." as "{name=value, ...}" (names and values escaped). Sets
// *well_formed to false if an item lacks the \x01 separator (such items are shown escaped whole).
std::string FormatProperties(std::string_view props, bool* well_formed);
// Whether every non-empty item of a serialized properties string has a \x01 separator.
bool PropertiesWellFormed(std::string_view props);

// "0x8(COMMIT)", "0x0": the hex value with the names of the bits RocketMQ defines.
std::string SysFlagString(int32_t sys_flag);

// A non-negative decimal integer, optionally with a binary suffix k/K, m/M or g/G when
// `allow_suffix`. False on anything else (signs, spaces, overflow).
bool ParseUint64(std::string_view s, bool allow_suffix, uint64_t* out);

}  // namespace stele::tools
