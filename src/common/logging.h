// Minimal leveled logging. Lines go to stderr unless the embedding program installs a sink.
// Thread-safe; the sink is called with a fully formatted line (no trailing newline).
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>

namespace stele::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Sink = std::function<void(Level, std::string_view line)>;

// Replaces the sink (nullptr restores stderr). Not for use while engine threads are logging.
void SetSink(Sink sink);
void SetMinLevel(Level level);
bool Enabled(Level level);
void Write(Level level, std::string_view msg);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace stele::log
