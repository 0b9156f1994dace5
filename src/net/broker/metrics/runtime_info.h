// GET_BROKER_RUNTIME_INFO's table: RocketMQ's keys and value formats (BrokerController's
// runtime info plus DefaultMessageStore/StoreStatsService.getRuntimeInfo), e.g. putTps "a b c"
// for the last 10 s, 1 min and 10 min, msgPutTotalTodayMorning as a plain number,
// commitLogDiskRatio as a fraction; plus Stele's own keys (commitLogFlushedOffset, sendInflight,
// pullHeld, and the commit-log flush latency, flush*Micros).
#pragma once

#include <map>
#include <string>

namespace stele::broker {
class BrokerController;
}

namespace stele::broker::metrics {

std::map<std::string, std::string> RuntimeInfo(BrokerController& b);

}  // namespace stele::broker::metrics
