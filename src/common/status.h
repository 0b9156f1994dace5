// Status helpers missing from Debian 12's Abseil (20220623 has no ABSL_RETURN_IF_ERROR).
#pragma once

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STELE_CONCAT_INNER(a, b) a##b
#define STELE_CONCAT(a, b) STELE_CONCAT_INNER(a, b)

#define STELE_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status stele_status_ = (expr);         \
    if (!stele_status_.ok()) return stele_status_; \
  } while (0)

#define STELE_ASSIGN_OR_RETURN(lhs, expr) \
  STELE_ASSIGN_OR_RETURN_IMPL(STELE_CONCAT(stele_statusor_, __LINE__), lhs, expr)
#define STELE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

namespace stele {

// Maps an errno value to a canonical status, keeping the errno name and text in the message so
// that logs say exactly what the kernel said (ENOSPC -> ResourceExhausted, and so on).
inline absl::Status ErrnoStatus(int err, std::string_view context) {
  std::string msg = fmt::format("{}: {} (errno {})", context, std::strerror(err), err);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    case EWOULDBLOCK:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace stele
