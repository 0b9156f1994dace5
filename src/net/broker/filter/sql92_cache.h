// Compiled SQL92 filters by expression text, so that a pull does not parse its subscription
// again. Failures are cached too (a client repeating a malformed expression costs a lookup).
//
// Bounded: past `capacity` entries or `capacity_bytes` of expression text (a compiled tree takes
// memory in proportion to its text) the cache starts over. Compiling is cheap next to a pull,
// and a client cycling through distinct expressions cannot grow it.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "net/broker/filter/sql92_filter.h"

namespace stele::filter {

class Sql92Cache {
 public:
  explicit Sql92Cache(size_t capacity = 1024, size_t capacity_bytes = 1 << 20)
      : capacity_(capacity), capacity_bytes_(capacity_bytes) {}

  // CompileSql92(expr), compiled at most once while cached.
  absl::StatusOr<std::shared_ptr<const Sql92Filter>> Get(std::string_view expr);
  size_t size() const;

 private:
  const size_t capacity_;
  const size_t capacity_bytes_;
  size_t bytes_ = 0;  // expression text held, guarded by mu_
  mutable std::mutex mu_;
  std::unordered_map<std::string, absl::StatusOr<std::shared_ptr<const Sql92Filter>>> map_;
};

}  // namespace stele::filter
