// Helpers shared by the services that move parked messages back to their real topic (the delay
// service from SCHEDULE_TOPIC_XXXX, the timer service from rmq_sys_wheel_timer).
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/broker/message_writer.h"
#include "stele/message.h"

namespace stele::broker {

// The message a parked record stands for: its real topic and queue (REAL_TOPIC / REAL_QID, kept
// as RocketMQ keeps them), without the old record's CRC property (the store appends a fresh one).
// InvalidArgument when there is nowhere to deliver it (no valid REAL_TOPIC / REAL_QID, or the
// REAL_TOPIC is `parked_topic` itself).
absl::StatusOr<OutgoingMessage> Unpark(const MessageView& v, std::string_view parked_topic);

// Put failures that no retry can fix: the record is skipped rather than retried forever.
bool IsPermanentPutFailure(const absl::Status& s);

// Puts every message at once (they share the disk flush) and waits for all results; result i is
// message i's. Messages are moved from.
std::vector<absl::Status> PutAllAndWait(MessageWriter& writer, std::vector<OutgoingMessage> msgs);

}  // namespace stele::broker
