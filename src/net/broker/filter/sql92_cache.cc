#include "net/broker/filter/sql92_cache.h"

namespace stele::filter {

absl::StatusOr<std::shared_ptr<const Sql92Filter>> Sql92Cache::Get(std::string_view expr) {
  {
    std::lock_guard l(mu_);
    if (auto it = map_.find(std::string(expr)); it != map_.end()) return it->second;
  }
  // Compiled outside the lock; two threads may both compile a new expression, harmlessly.
  auto compiled = CompileSql92(expr);
  std::lock_guard l(mu_);
  if (map_.size() >= capacity_ || bytes_ + expr.size() > capacity_bytes_) {
    map_.clear();
    bytes_ = 0;
  }
  if (map_.emplace(std::string(expr), compiled).second) bytes_ += expr.size();
  return compiled;
}

size_t Sql92Cache::size() const {
  std::lock_guard l(mu_);
  return map_.size();
}

}  // namespace stele::filter
