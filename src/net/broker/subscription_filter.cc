#include "net/broker/subscription_filter.h"

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"

namespace stele::broker {
namespace {

// "TagA || TagB" -> {"TagA", "TagB"}; "*" or empty -> {} (everything).
std::vector<std::string> TagsOf(std::string_view expr) {
  std::vector<std::string> tags;
  for (absl::string_view t : absl::StrSplit(absl::string_view(expr.data(), expr.size()), "||")) {
    t = absl::StripAsciiWhitespace(t);
    if (t.empty()) continue;
    if (t == "*") return {};
    tags.emplace_back(t);
  }
  return tags;
}

}  // namespace

void SubscriptionFilter::Apply(GetOptions* opts) const {
  opts->tags = tags;
  if (sql != nullptr) {
    opts->record_filter = [f = sql](const MessageView& m) {
      return f->Matches([&m](std::string_view name) { return m.Property(name); });
    };
  }
}

SubscriptionFilter ResolveSubscriptionFilter(BrokerController& b, std::string_view type,
                                             std::string_view expression) {
  namespace rc = remoting::response;
  SubscriptionFilter f;
  if (type.empty() || type == "TAG") {
    f.tags = TagsOf(expression);
    return f;
  }
  if (type != "SQL92") {
    f.error_code = rc::kSubscriptionParseFailed;
    f.error =
        fmt::format("expression type {} is not supported (TAG or SQL92)", ShortForMessage(type));
    return f;
  }
  auto compiled = b.sql_filters().Get(expression);
  if (!compiled.ok()) {
    f.error_code = rc::kSubscriptionParseFailed;
    f.error = fmt::format("parse the consumer's subscription failed: {}",
                          std::string(compiled.status().message()));
    return f;
  }
  if (!b.config().enable_property_filter) {
    f.error_code = rc::kSystemError;
    f.error = "The broker does not support consumer to filter message by SQL92";
    return f;
  }
  f.sql = *std::move(compiled);
  return f;
}

}  // namespace stele::broker
