// Topic and group names as RocketMQ's TopicValidator checks them, the reserved system names, and
// the permission bits of a topic (PermName).
//
// Topic and group names become directory and file names (consume queues, config keys), so the
// validators are also the broker's guard against path traversal: the only characters accepted are
// [%|a-zA-Z0-9_-], which excludes '.', '/', '\\' and NUL. Every name that reaches the disk must
// pass one of them first.
//
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace stele::broker {

// RocketMQ's limits: TopicValidator.TOPIC_MAX_LENGTH and Validators.CHARACTER_MAX_LENGTH.
inline constexpr size_t kMaxTopicLength = 127;
inline constexpr size_t kMaxGroupLength = 255;
// Retry and DLQ topics are derived from group names ("%RETRY%" + group), so they may exceed
// kMaxTopicLength; they are still bounded by the longest file name Linux file systems accept.
inline constexpr size_t kMaxInternalTopicLength = 255;

inline constexpr std::string_view kAutoCreateTopicKeyTopic = "TBW102";
inline constexpr std::string_view kScheduleTopic = "SCHEDULE_TOPIC_XXXX";
inline constexpr std::string_view kScheduleTopicV2 = "SCHEDULE_TOPIC_XXXX_V2";
inline constexpr std::string_view kBenchmarkTopic = "BenchmarkTest";
inline constexpr std::string_view kTransHalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC";
// RocketMQ 5's TimerMessageStore.TIMER_TOPIC: where timer messages wait (queue 0).
inline constexpr std::string_view kTimerTopic = "rmq_sys_wheel_timer";
inline constexpr std::string_view kTransOpHalfTopic = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
inline constexpr std::string_view kTransCheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC";
inline constexpr std::string_view kTraceTopic = "RMQ_SYS_TRACE_TOPIC";
inline constexpr std::string_view kSelfTestTopic = "SELF_TEST_TOPIC";
inline constexpr std::string_view kOffsetMovedEventTopic = "OFFSET_MOVED_EVENT";
inline constexpr std::string_view kSystemTopicPrefix = "rmq_sys_";
inline constexpr std::string_view kRetryGroupTopicPrefix = "%RETRY%";
inline constexpr std::string_view kDlqGroupTopicPrefix = "%DLQ%";
inline constexpr std::string_view kReplyTopicPostfix = "REPLY_TOPIC";

// PermName: bits of a topic's (and the broker's) permission.
inline constexpr int kPermPriority = 8;
inline constexpr int kPermRead = 4;
inline constexpr int kPermWrite = 2;
inline constexpr int kPermInherit = 1;
inline constexpr int kPermAll = kPermPriority | kPermRead | kPermWrite | kPermInherit;
inline bool IsReadable(int perm) { return (perm & kPermRead) != 0; }
inline bool IsWriteable(int perm) { return (perm & kPermWrite) != 0; }
inline bool IsInherited(int perm) { return (perm & kPermInherit) != 0; }

// True if every character is in [%|a-zA-Z0-9_-] (an empty name passes; the validators below
// check length separately).
bool HasOnlyValidNameChars(std::string_view name);

// A topic a client may name: 1..127 valid characters. InvalidArgument names the value.
absl::Status ValidateTopic(std::string_view topic);
// A producer or consumer group: 1..255 valid characters.
absl::Status ValidateGroup(std::string_view group);
// A topic the broker derives itself (retry, DLQ): valid characters, 1..255 long.
absl::Status ValidateInternalTopic(std::string_view topic);

// TopicValidator's fixed system topics (the broker adds its cluster and broker names at run time:
// see TopicConfigManager::IsSystemTopic).
const std::vector<std::string_view>& SystemTopics();
// A fixed system topic, or one starting with "rmq_sys_".
bool IsSystemTopic(std::string_view topic);
// Topics a client may not send to directly (the broker writes them itself).
bool IsNotAllowedSendTopic(std::string_view topic);

std::string RetryTopic(std::string_view group);  // "%RETRY%" + group
std::string DlqTopic(std::string_view group);    // "%DLQ%" + group
bool IsRetryTopic(std::string_view topic);
bool IsDlqTopic(std::string_view topic);

// A name for error and log messages: cut to 64 characters (then "...(N chars)"), bytes outside
// printable ASCII escaped as \xNN. Names come from the network; a 10 MB or binary name in a request
// must not become a 10 MB or terminal-corrupting log line.
std::string ShortForMessage(std::string_view name);

// absl::Status::message() as a std::string_view: Debian's Abseil has its own string_view type,
// which fmt cannot format.
inline std::string_view StatusMessage(const absl::Status& s) {
  return std::string_view(s.message().data(), s.message().size());
}

}  // namespace stele::broker
