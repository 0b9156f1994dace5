// mqstore: inspects a Stele (RocketMQ-format) store without modifying it.
//
//   mqstore verify DIR [-v] [--commitlog-dir D] [--segment-size N] [--cq-file-size N]
//   mqstore dump DIR [--offset N] [--count K] [--body-bytes B] [--commitlog-dir D] [--segment-size
//   N]
//   mqstore dump DIR --queue TOPIC/QID [--from N] [--count K] [--cq-file-size N]
//
// It never opens the store through the engine (which takes the lock and writes files): it lists
// and maps the commit-log segments and consume-queue files read-only, so it is safe to run while a
// broker has the store open. Exit status: 0 clean, 1 a problem was found (or an I/O error), 2 bad
// usage.
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include "stele/file_system.h"
#include "tools/dump.h"
#include "tools/text.h"
#include "tools/verify.h"

namespace stele::tools {
namespace {

constexpr int kExitUsage = 2;

constexpr std::string_view kUsage =
    "mqstore: inspect a Stele / RocketMQ commit log without modifying it (safe while a broker\n"
    "has the store open).\n"
    "\n"
    "Usage:\n"
    "  mqstore verify DIR [-v] [--commitlog-dir D] [--segment-size N] [--cq-file-size N]\n"
    "  mqstore dump DIR [--offset N] [--count K] [--body-bytes B] [--commitlog-dir D]\n"
    "               [--segment-size N]\n"
    "  mqstore dump DIR --queue TOPIC/QID [--from N] [--count K] [--cq-file-size N]\n"
    "  mqstore help [COMMAND]      (or: mqstore COMMAND --help)\n"
    "\n"
    "DIR is the store root (storePathRootDir); the commit log is DIR/commitlog unless\n"
    "--commitlog-dir is given.\n"
    "\n"
    "Exit status: 0 clean, 1 a problem was found (or an I/O error), 2 bad usage.\n";

constexpr std::string_view kVerifyHelp =
    "Usage: mqstore verify DIR [-v] [--commitlog-dir D] [--segment-size N] [--cq-file-size N]\n"
    "\n"
    "Checks the commit log from its first segment to its end and stops at the first problem,\n"
    "printing 'corrupt at offset N: <reason>' (exit 1). A sound log is then compared with the\n"
    "consume queues, listing every problem ('cq error: TOPIC/QID queue offset Q ...', up to 30\n"
    "lines, the rest counted) and ending with 'FAILED: ...' (exit 1); a clean store ends with one\n"
    "'OK:' summary line (exit 0). Checked in the commit log:\n"
    "  - segment files: all the same size, named by contiguous multiples of it (no gaps);\n"
    "  - every record: magic, TOTALSIZE against its fields, CRC, PHYSICALOFFSET == position,\n"
    "    queue offsets contiguous per topic/queue (non-transactional and COMMIT records);\n"
    "  - BLANK fillers reach exactly the end of their segment;\n"
    "  - the log ends at the first all-zero header and only zeros follow (else: unrecovered "
    "tail);\n"
    "  - the checkpoint, if present: its safe offset is a record boundary inside the log and its\n"
    "    queue table matches the log there.\n"
    "Checked in the consume queues (DIR/consumequeue/TOPIC/QID/):\n"
    "  - files: named by multiples of the file size, all that size, none missing in between;\n"
    "  - every record (non-transactional and COMMIT) before the checkpoint's dispatch offset has\n"
    "    its entry; later ones are reported as 'not yet dispatched' (the engine adds them when it\n"
    "    opens the store);\n"
    "  - every entry (except leading pre-blanks and entries below the log start, whose records\n"
    "    retention deleted) points at a record start whose TOTALSIZE, topic, queue id,\n"
    "    QUEUEOFFSET and tags hash (Java String.hashCode of TAGS) match it;\n"
    "  - a queue ends at its first zero entry: non-zero entries after it are torn.\n"
    "In a store that is open or was not shut down cleanly, problems after the dispatch offset\n"
    "are warnings: the engine rebuilds that part of the queues when it opens the store.\n"
    "Store timestamps going backwards and malformed properties are reported as warnings.\n"
    "\n"
    "Options:\n"
    "  -v, --verbose       a summary line per consume queue\n"
    "  --commitlog-dir D   commit-log directory (default DIR/commitlog)\n"
    "  --segment-size N    expected segment size in bytes (suffix k, m or g allowed; default:\n"
    "                      the size the segment files have)\n"
    "  --cq-file-size N    consume-queue file size in bytes (mappedFileSizeConsumeQueue; default:\n"
    "                      the size most consume-queue files have)\n";

constexpr std::string_view kDumpHelp =
    "Usage: mqstore dump DIR [--offset N] [--count K] [--body-bytes B] [--commitlog-dir D]\n"
    "                    [--segment-size N]\n"
    "       mqstore dump DIR --queue TOPIC/QID [--from N] [--count K] [--cq-file-size N]\n"
    "\n"
    "Prints K records starting at commit-log offset N: offset, size, topic, queue id and offset,\n"
    "sys flag, born/store timestamps (ms and ISO-8601 UTC) and hosts, reconsume times,\n"
    "properties, msgId and a body preview (non-printable bytes as \\xNN). BLANK fillers print one\n"
    "line each and are not counted. Exits 1 if N is not where a record starts or a damaged\n"
    "record is met.\n"
    "\n"
    "With --queue, prints K entries of that consume queue from queue offset N instead: commit-log\n"
    "offset, size and tags code, with the store time, TAGS, KEYS and msgId of the record there;\n"
    "exits 1 if an entry does not match its record.\n"
    "\n"
    "Options:\n"
    "  --offset N          commit-log offset of the first record (default: the first segment's)\n"
    "  --count K           number of records (default 20)\n"
    "  --body-bytes B      body bytes to show (default 64; 0 for none)\n"
    "  --commitlog-dir D   commit-log directory (default DIR/commitlog)\n"
    "  --segment-size N    expected segment size in bytes (default: detected)\n"
    "  --queue TOPIC/QID   dump that consume queue's entries\n"
    "  --from N            first queue offset (default: the queue's first file's first)\n"
    "  --cq-file-size N    consume-queue file size in bytes (default: detected)\n";

int UsageError(std::string_view msg, std::string_view help) {
  fmt::print(stderr, "mqstore: {}\n\n{}", msg, help);
  return kExitUsage;
}

struct Args {
  std::string dir;
  std::string commitlog_dir;
  uint64_t segment_size = 0;
  uint64_t cq_file_size = 0;
  bool verbose = false;
  std::optional<uint64_t> offset;
  std::optional<std::string> queue_topic;
  int32_t queue_id = 0;
  std::optional<uint64_t> from;
  uint64_t count = 20;
  uint64_t body_bytes = 64;
  bool help = false;
};

// Parses the arguments after the command name. Returns an error message, or "" on success.
std::string ParseArgs(const std::vector<std::string_view>& argv, bool dump, Args* a) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      a->help = true;
      continue;
    }
    if (!dump && (arg == "-v" || arg == "--verbose")) {
      a->verbose = true;
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && !arg.starts_with("--")) {
      return fmt::format("unknown option '{}'", arg);
    }
    if (!arg.starts_with("--")) {
      if (!a->dir.empty()) return fmt::format("unexpected argument '{}'", arg);
      if (arg.empty()) return "DIR must not be empty";
      a->dir = std::string(arg);
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool known =
        name == "--commitlog-dir" || name == "--segment-size" ||
        (dump && (name == "--offset" || name == "--count" || name == "--body-bytes" ||
                  name == "--queue" || name == "--from")) ||
        name == "--cq-file-size";
    if (!known) return fmt::format("unknown option '{}'", name);
    if (!value) {
      if (i + 1 >= argv.size()) return fmt::format("option {} needs a value", name);
      value = argv[++i];
    }
    auto number = [&](bool suffix, uint64_t* out) -> std::string {
      if (!ParseUint64(*value, suffix, out) ||
          *out > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return fmt::format("bad value '{}' for {}: expected a non-negative integer", *value, name);
      }
      return "";
    };
    std::string err;
    if (name == "--commitlog-dir") {
      if (value->empty()) return "--commitlog-dir must not be empty";
      a->commitlog_dir = std::string(*value);
    } else if (name == "--segment-size") {
      err = number(true, &a->segment_size);
      if (err.empty() && a->segment_size == 0) err = "--segment-size must be positive";
    } else if (name == "--cq-file-size") {
      err = number(true, &a->cq_file_size);
      if (err.empty() && (a->cq_file_size == 0 || a->cq_file_size % 20 != 0)) {
        err = "--cq-file-size must be a positive multiple of 20 (the entry size)";
      }
    } else if (name == "--offset") {
      uint64_t off = 0;
      err = number(false, &off);
      a->offset = off;
    } else if (name == "--from") {
      uint64_t from = 0;
      err = number(false, &from);
      a->from = from;
    } else if (name == "--queue") {
      const size_t slash = value->rfind('/');
      uint64_t qid = 0;
      if (slash == std::string_view::npos || slash == 0 ||
          !ParseUint64(value->substr(slash + 1), false, &qid) ||
          qid > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        return fmt::format("bad value '{}' for --queue: expected TOPIC/QUEUE_ID", *value);
      }
      a->queue_topic = std::string(value->substr(0, slash));
      a->queue_id = static_cast<int32_t>(qid);
    } else if (name == "--count") {
      err = number(false, &a->count);
    } else {
      err = number(false, &a->body_bytes);
    }
    if (!err.empty()) return err;
  }
  if (!a->help && a->dir.empty()) return "missing DIR (the store root)";
  if (a->queue_topic && a->offset) return "--offset and --queue exclude each other";
  if (a->from && !a->queue_topic) return "--from needs --queue";
  return "";
}

int Main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return UsageError("missing command", kUsage);
  const std::string_view cmd = args[0];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::string_view topic = args.size() > 1 ? args[1] : "";
    if (topic == "verify") {
      fmt::print("{}", kVerifyHelp);
    } else if (topic == "dump") {
      fmt::print("{}", kDumpHelp);
    } else if (topic.empty()) {
      fmt::print("{}", kUsage);
    } else {
      return UsageError(fmt::format("unknown command '{}'", topic), kUsage);
    }
    return 0;
  }
  const bool dump = cmd == "dump";
  if (cmd != "verify" && !dump) return UsageError(fmt::format("unknown command '{}'", cmd), kUsage);
  const std::string_view help = dump ? kDumpHelp : kVerifyHelp;
  Args a;
  std::vector<std::string_view> rest(args.begin() + 1, args.end());
  if (std::string err = ParseArgs(rest, dump, &a); !err.empty()) return UsageError(err, help);
  if (a.help) {
    fmt::print("{}", help);
    return 0;
  }
  auto fs = NewPosixFileSystem();
  int rc;
  if (dump) {
    DumpOptions o{.root = a.dir,
                  .commitlog_dir = a.commitlog_dir,
                  .segment_size = a.segment_size,
                  .count = a.count,
                  .body_bytes = a.body_bytes,
                  .queue_topic = a.queue_topic,
                  .queue_id = a.queue_id,
                  .cq_file_size = a.cq_file_size};
    if (a.offset) o.offset = static_cast<int64_t>(*a.offset);
    if (a.from) o.from = static_cast<int64_t>(*a.from);
    rc = RunDump(fs.get(), o, stdout);
  } else {
    VerifyOptions o{.root = a.dir,
                    .commitlog_dir = a.commitlog_dir,
                    .segment_size = a.segment_size,
                    .cq_file_size = a.cq_file_size,
                    .verbose = a.verbose};
    rc = RunVerify(fs.get(), o, stdout);
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace
}  // namespace stele::tools

int main(int argc, char** argv) { return stele::tools::Main(argc, argv); }
