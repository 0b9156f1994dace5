// RocketMQ's request and response code names as its rpc_latency metric labels them: the Java
// field name in lower case (RemotingMetricsConstant builds its maps that way), e.g. 10 ->
// "send_message", 0 -> "success". A code without a known name is labelled with its number.
#pragma once

#include <cstdint>
#include <string>

namespace stele::broker::metrics {

std::string RequestCodeName(int32_t code);
std::string ResponseCodeName(int32_t code);

}  // namespace stele::broker::metrics
