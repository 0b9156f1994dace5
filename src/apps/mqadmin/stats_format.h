// Formatting shared by the statistics, offset and query subcommands (stats_commands.cc,
// offset_commands.cc, query_commands.cc): RocketMQ's time formats and version names, so that the
// output reads like Java mqadmin's.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "stele/client/message.h"

namespace stele::mqadmin {

// Local time as "yyyy-MM-dd HH:mm:ss,SSS" (Java UtilAll.timeMillisToHumanString2).
std::string HumanTimeMillis(int64_t ms);
// Local time as "yyyy-MM-dd HH:mm:ss" (UtilAll.YYYY_MM_DD_HH_MM_SS).
std::string HumanTimeSeconds(int64_t ms);
// A time argument as Java's resetOffsetByTime/printMsg take it: "now", epoch milliseconds, or
// local "yyyy-MM-dd#HH:mm:ss:SSS". InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseTimeArg(const std::string& s, int64_t now_ms);
// MQVersion.getVersionDesc: the release name of a version ordinal ("V4_9_4" for 401), or the
// number itself when it is outside the 4.x/5.x releases.
std::string VersionDesc(int32_t version);
// Java's detailed message print (QueryMsgByIdSubCommand.printMsg), the body inline instead of in
// a temporary file.
void PrintMessageDetail(const client::MessageExt& m);

}  // namespace stele::mqadmin
