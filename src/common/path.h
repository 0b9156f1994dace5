// Path helpers shared by the file-system backends and the engine ('/'-separated, no normalizing).
#pragma once

#include <string>

namespace stele {

// "a/b/c" -> "a/b"; "/c" -> "/"; "c" -> ".".
inline std::string ParentDir(const std::string& path) {
  size_t p = path.find_last_of('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}

// "a/b/c" -> "c".
inline std::string BaseName(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

}  // namespace stele
