// A subscription's filter, resolved from its expression type and text for PULL_MESSAGE and
// CHECK_CLIENT_CONFIG, with RocketMQ's refusals:
// * TAG (or empty type): "A || B" -> tags; "*" or "" -> everything.
// * SQL92: the compiled filter (from the broker's cache). A malformed expression is
//   SUBSCRIPTION_PARSE_FAILED (checked first, as RocketMQ); a valid one while enablePropertyFilter
//   is false is SYSTEM_ERROR "The broker does not support consumer to filter message by SQL92".
// * Any other type: SUBSCRIPTION_PARSE_FAILED.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/broker/filter/sql92_filter.h"
#include "stele/store.h"

namespace stele::broker {

class BrokerController;

struct SubscriptionFilter {
  std::vector<std::string> tags;                   // empty: every tag
  std::shared_ptr<const filter::Sql92Filter> sql;  // null: no property filter
  int32_t error_code = 0;                          // non-zero: refused, with `error` as remark
  std::string error;

  // Fills the store read options with this filter.
  void Apply(GetOptions* opts) const;
};

SubscriptionFilter ResolveSubscriptionFilter(BrokerController& b, std::string_view type,
                                             std::string_view expression);

}  // namespace stele::broker
