// RocketMQ's stored-message record (commit log), byte-compatible with RocketMQ 5.x.
// All integers big-endian. Layout (IPv4 hosts; IPv6 hosts widen 10 and 12 to 20 bytes each):
//
//   off  len  field
//     0    4  TOTALSIZE            whole record, this field included
//     4    4  MAGICCODE            v1 0xDAA320A7 (1-byte topic length), v2 0xDAA320AB (2-byte)
//     8    4  BODYCRC              CRC-32/IEEE of the body, masked & 0x7FFFFFFF
//    12    4  QUEUEID
//    16    4  FLAG
//    20    8  QUEUEOFFSET          per topic-queue sequence number
//    28    8  PHYSICALOFFSET       commit-log byte offset of this record
//    36    4  SYSFLAG
//    40    8  BORNTIMESTAMP
//    48    8  BORNHOST             4-byte address + 4-byte port
//    56    8  STORETIMESTAMP
//    64    8  STOREHOST
//    72    4  RECONSUMETIMES
//    76    8  PREPAREDTRANSACTIONOFFSET
//    84  4+n  BODY                 length, bytes
//       1/2+n TOPIC                length (1 byte in v1, 2 in v2), bytes
//       2+n   PROPERTIES           length, "k\x01v\x02..." ending (when enabled) in the 20-byte
//                                  "__CRC32#\x01" + 10 digits + "\x02": the masked CRC-32 of every
//                                  record byte before those 20, its decimal digits least
//                                  significant first (RocketMQ's createCrc32).
//
// End of a segment: an 8-byte BLANK record (TOTALSIZE = bytes left in the segment, MAGIC
// 0xCBD43194); the rest of the segment stays zero. Zero TOTALSIZE/MAGIC means "never written".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "stele/message.h"

namespace stele::engine {

constexpr uint32_t kMagicV1 = 0xDAA320A7u;
constexpr uint32_t kMagicV2 = 0xDAA320ABu;
constexpr uint32_t kBlankMagic = 0xCBD43194u;
constexpr uint32_t kBlankRecordSize = 8;  // END_FILE_MIN_BLANK_LENGTH
constexpr uint32_t kCrcReservedLen = 20;  // "__CRC32#" + 1 + 10 + 1
constexpr int kMaxPropertiesLen = 32767;
constexpr int kQueueOffsetPos = 20;
constexpr int kPhysicalOffsetPos = 28;
// Smallest possible record: IPv4 header, empty body, 1-byte topic length, empty properties.
constexpr uint32_t kMinRecordSize = 84 + 4 + 1 + 2;

struct EncodeParams {
  uint32_t max_body_size = 4 * 1024 * 1024;
  bool prop_crc = true;
  HostAddress store_host;
};

// A record encoded outside the append lock; FinalizeRecord patches in what is only known under it.
struct PreparedRecord {
  std::string buf;
  uint32_t header_len = 0;      // [0, header_len) contains every offset-dependent field
  uint32_t store_ts_pos = 0;    // where STORETIMESTAMP lives
  uint32_t crc_rest = 0;        // unmasked CRC of [header_len, size - 20) (prop CRC only)
  uint32_t crc_combine_op = 0;  // Crc32CombineOp(size - 20 - header_len), made outside the lock
  bool prop_crc = false;
  bool assigns_queue_offset = true;  // false for prepared/rollback transaction records
  int32_t queue_id = 0;
  std::string_view topic() const;
  uint32_t size() const { return static_cast<uint32_t>(buf.size()); }
};

// Validates (topic, sizes) and encodes. Statuses carry RocketMQ's put status as a payload (see
// store.h): MESSAGE_ILLEGAL, PROPERTIES_SIZE_EXCEEDED.
absl::Status PrepareRecord(const Message& m, const EncodeParams& p, int64_t now_ms,
                           PreparedRecord* out);
// Writes QUEUEOFFSET, PHYSICALOFFSET, STORETIMESTAMP and the record CRC into rec->buf.
void FinalizeRecord(PreparedRecord* rec, int64_t queue_offset, int64_t physical_offset,
                    int64_t store_timestamp);

enum class DecodeResult {
  kOk,
  kBlank,    // end-of-segment filler; view.total_size = its TOTALSIZE
  kEmpty,    // zeros: never written
  kCorrupt,  // anything else; `reason` says what
};

// Decodes the record at p (avail bytes readable). With check_crc, verifies the whole-record CRC
// when present, else the body CRC; with require_record_crc as well, a record without the
// whole-record CRC is corrupt (used where every record is known to carry one, so that a torn
// properties tail cannot pass on the body CRC alone). Non-empty properties must end with \x02, as
// RocketMQ writes them. Never reads outside [p, p + avail).
DecodeResult DecodeRecord(const char* p, size_t avail, bool check_crc, MessageView* out,
                          std::string* reason, bool require_record_crc = false);

// RocketMQ's topic rules: non-empty, ^[%|a-zA-Z0-9_-]+$, at most 127 bytes (255 for %RETRY% and
// %DLQ% topics). Also what keeps topic names safe to use as directory names.
absl::Status ValidateTopic(std::string_view topic);

}  // namespace stele::engine
