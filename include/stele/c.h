/* stele/c.h — the stable C API of the Stele embedded store (libstele_c, pkg-config "stele").
 *
 *   stele_store* s;
 *   const char* keys[] = {"storePathRootDir", "flushDiskType"};
 *   const char* vals[] = {"/var/lib/app/store", "SYNC_FLUSH"};
 *   if (stele_open(keys, vals, 2, &s) != STELE_OK) fprintf(stderr, "%s\n", stele_last_error());
 *   stele_msg m = {.topic = "Orders", .queue_id = 0, .body = "hi", .body_len = 2};
 *   stele_put_result r;
 *   stele_put(s, &m, &r);                      // durable once it returns under SYNC_FLUSH
 *   stele_get_result g;
 *   stele_get(s, "Orders", 0, 0, 32, NULL, &g);   // g.messages[i].body points into the store
 *   stele_result_free(g.handle);
 *   stele_close(s);
 *   stele_free(s);
 *
 * Errors. Every call returns an int status: STELE_OK (0) or a negative STELE_E_* code. On
 * failure the message of the error is kept per thread: stele_last_error() returns it (valid until
 * the next stele_* call on the same thread); calls that succeed leave it alone. No C++ exception
 * crosses this boundary.
 *
 * Handles. stele_store and stele_result are opaque. Every handle is registered when created and
 * checked on each call: a pointer that is not a live handle (NULL, garbage, freed) returns
 * STELE_E_BAD_HANDLE without being dereferenced. (A freed handle's address may be reused by a new
 * one; do not keep using freed handles.)
 *
 * Threads. A stele_store may be used from any number of threads at once. stele_close waits for
 * calls in progress on that store (including stele_wait, up to its timeout) and then makes later
 * calls return STELE_E_CLOSED. A stele_result may be read from any thread but freed once.
 *
 * Strings are NUL-terminated UTF-8 unless a length is given. Nothing passed in is retained after a
 * call returns (the store copies what it keeps).
 *
 * ABI. Only functions are exported, versioned STELE_1; structs here only gain fields at their end
 * and only with a new STELE_ABI_VERSION. stele_abi_version() tells what the library implements.
 */
#ifndef STELE_C_H_
#define STELE_C_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define STELE_API __attribute__((visibility("default")))
#else
#define STELE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define STELE_ABI_VERSION 1

/* ---- Status codes (negative: the call failed and did nothing unless said otherwise) ---- */
enum {
  STELE_OK = 0,
  STELE_E_INVALID_ARGUMENT = -1,    /* NULL where a value is needed, bad option name or value */
  STELE_E_BAD_HANDLE = -2,          /* not a live stele_store / stele_result */
  STELE_E_CLOSED = -3,              /* the store was closed with stele_close */
  STELE_E_NOT_FOUND = -4,           /* no such message, queue, or committed offset */
  STELE_E_OUT_OF_RANGE = -5,        /* before the first readable message (deleted by retention) */
  STELE_E_DATA_LOSS = -6,           /* a record failed its CRC, or a state file is unusable */
  STELE_E_IO = -7,                  /* a read, write or fdatasync failed */
  STELE_E_FAILED_PRECONDITION = -8, /* the call does not fit the store's state */
  STELE_E_INTERNAL = -9,
  /* A put that was refused, by RocketMQ's PutMessageStatus: */
  STELE_E_SERVICE_NOT_AVAILABLE =
      -20, /* disk full, appends refused after a failure, store locked */
  STELE_E_CREATE_MAPPED_FILE_FAILED = -21, /* a new segment could not be created */
  STELE_E_MESSAGE_ILLEGAL = -22,           /* bad topic, too large, ... */
  STELE_E_PROPERTIES_SIZE_EXCEEDED = -23,
  STELE_E_OS_PAGE_CACHE_BUSY = -24,
  STELE_E_UNKNOWN_ERROR = -25,
};

/* Put outcomes that are not errors (stele_put_result.put_status). */
enum {
  STELE_PUT_OK = 0,
  STELE_PUT_FLUSH_DISK_TIMEOUT = 1, /* stored, but not confirmed durable within syncFlushTimeout */
};

/* RocketMQ's GetMessageStatus (stele_get_result.status). */
enum {
  STELE_GET_FOUND = 0,
  STELE_GET_NO_MATCHED_MESSAGE = 1,     /* entries there, none passed the tag filter */
  STELE_GET_MESSAGE_WAS_REMOVING = 2,   /* they point at commit-log data already deleted */
  STELE_GET_OFFSET_FOUND_NULL = 3,      /* entries could not be read */
  STELE_GET_OFFSET_OVERFLOW_BADLY = 4,  /* offset > max offset */
  STELE_GET_OFFSET_OVERFLOW_ONE = 5,    /* offset == max offset: nothing new yet */
  STELE_GET_OFFSET_TOO_SMALL = 6,       /* offset < min offset */
  STELE_GET_NO_MATCHED_LOGIC_QUEUE = 7, /* no such topic / queue */
  STELE_GET_NO_MESSAGE_IN_QUEUE = 8,
};

typedef struct stele_store stele_store;
typedef struct stele_result stele_result;

/* The ABI this library implements (STELE_ABI_VERSION when built). Never fails. */
STELE_API int stele_abi_version(void);
/* The library version, "MAJOR.MINOR.PATCH". Static storage. */
STELE_API const char* stele_version(void);
/* This thread's message for the last failed call ("" if none). Valid until this thread's next
 * stele_* call. */
STELE_API const char* stele_last_error(void);
/* Upper-case names: "OK", "INVALID_ARGUMENT", "SERVICE_NOT_AVAILABLE", "MESSAGE_ILLEGAL", ...;
 * "FLUSH_DISK_TIMEOUT" for put statuses; "FOUND", "OFFSET_OVERFLOW_ONE", ... for get statuses.
 * "UNKNOWN" for other numbers. Static storage. */
STELE_API const char* stele_status_name(int status);
STELE_API const char* stele_put_status_name(int put_status);
STELE_API const char* stele_get_status_name(int get_status);

/* ---- Open and close ----
 * Opens (creating if needed) and recovers the store. keys/values: n option pairs named as in
 * broker.conf and stele::StoreOptions::SetOption ("storePathRootDir" is required;
 * "flushDiskType" = "ASYNC_FLUSH" | "SYNC_FLUSH", "mappedFileSizeCommitLog", "maxMessageSize",
 * ...). An unknown key or a bad value is STELE_E_INVALID_ARGUMENT naming the key;
 * STELE_E_SERVICE_NOT_AVAILABLE if the store is open already (in this or another process). On
 * success *out is a new handle the caller frees with stele_free. */
STELE_API int stele_open(const char* const* keys, const char* const* values, size_t n,
                         stele_store** out);
/* Flushes, persists consumer offsets, writes the checkpoint and stops the store's threads, after
 * waiting for calls in progress and for stele_put_async callbacks still due. The handle stays
 * valid (calls return STELE_E_CLOSED) until stele_free. Closing again returns STELE_OK. */
STELE_API int stele_close(stele_store* s);
/* Closes if needed and frees the handle. Results obtained from it stay readable. */
STELE_API int stele_free(stele_store* s);

/* ---- Put ---- */
typedef struct stele_msg {
  const char* topic; /* required */
  int32_t queue_id;  /* >= 0 */
  const void* body;  /* body_len bytes; may be NULL when body_len is 0 */
  size_t body_len;
  const char* tags; /* TAGS property, or NULL */
  const char* keys; /* KEYS property (space-separated keys), or NULL */
  /* Other user properties: property_count names and values (no '\x01' or '\x02' in them). */
  const char* const* property_names;
  const char* const* property_values;
  size_t property_count;
} stele_msg;

typedef struct stele_put_result {
  int put_status;            /* STELE_PUT_OK or STELE_PUT_FLUSH_DISK_TIMEOUT */
  int32_t wrote_bytes;       /* record size */
  int64_t commit_log_offset; /* where the record starts in the commit log */
  int64_t queue_offset;      /* its position in (topic, queue_id) */
  int64_t store_timestamp;   /* ms since the epoch */
  char msg_id[40];           /* RocketMQ offset message id, NUL-terminated */
} stele_put_result;

/* Appends one message and waits for its acknowledgement: in the page cache under ASYNC_FLUSH,
 * fdatasync'ed under SYNC_FLUSH (concurrent puts share one fdatasync). `out` may be NULL. */
STELE_API int stele_put(stele_store* s, const stele_msg* msg, stele_put_result* out);
/* Appends n messages (each may name its own topic and queue) contiguously: all or none. `out`
 * holds n results, or is NULL. n == 0 is OK; more than 4096 is INVALID_ARGUMENT. */
STELE_API int stele_put_batch(stele_store* s, const stele_msg* msgs, size_t n,
                              stele_put_result* out);
/* Called once per stele_put_async, on an engine thread (or on the calling thread if the put is
 * refused at once): status is STELE_OK (r filled) or an error (r NULL, `error` its message).
 * Pointers are valid only during the call. Keep it short; it must not call stele_close/free. */
typedef void (*stele_put_callback)(void* user, int status, const stele_put_result* r,
                                   const char* error);
/* Appends without waiting for durability; `done` (required) runs once acknowledged or failed.
 * Returns STELE_OK once the put is handed to the engine (or already failed and `done` ran);
 * a non-OK return means `done` will not run. */
STELE_API int stele_put_async(stele_store* s, const stele_msg* msg, stele_put_callback done,
                              void* user);
/* Makes everything appended so far durable. */
STELE_API int stele_flush(stele_store* s);

/* ---- Read ----
 * Results are zero-copy: pointers in a stele_message point into the store's mapped records and stay
 * valid until stele_result_free(handle), even if the store is closed or freed first. */
typedef struct stele_message {
  const char* topic; /* not NUL-terminated: use the lengths */
  size_t topic_len;
  const void* body;
  size_t body_len;
  const char* tags; /* NULL if the message has no TAGS */
  size_t tags_len;
  const char* keys; /* NULL if the message has no KEYS */
  size_t keys_len;
  /* RocketMQ's serialized properties: name '\x01' value '\x02' ... (see stele_message_property). */
  const char* properties;
  size_t properties_len;
  int32_t queue_id;
  int32_t flag;
  int32_t sys_flag;
  int32_t reconsume_times;
  int64_t queue_offset;
  int64_t commit_log_offset;
  int64_t born_timestamp;
  int64_t store_timestamp;
  const char* msg_id; /* offset message id, NUL-terminated */
} stele_message;

typedef struct stele_get_result {
  int status;                /* STELE_GET_*; FOUND when count > 0 */
  int64_t next_begin_offset; /* queue offset to read from next */
  int64_t min_offset;
  int64_t max_offset;
  size_t count;
  const stele_message* messages; /* count entries, in queue order (newest first for key queries) */
  stele_result* handle;          /* free with stele_result_free; NULL when count == 0 */
} stele_get_result;

/* Reads up to max_messages (1..1024) from (topic, queue_id) at queue_offset. `tags`: NULL, "" or
 * "*" for all, else "TagA||TagB". A queue status that is not FOUND (nothing new, too small, ...)
 * is STELE_OK with that status and count 0. */
STELE_API int stele_get(stele_store* s, const char* topic, int32_t queue_id, int64_t queue_offset,
                        int32_t max_messages, const char* tags, stele_get_result* out);
/* Frees a result. STELE_E_BAD_HANDLE for NULL or one already freed. */
STELE_API int stele_result_free(stele_result* r);
/* Finds property `name` in m's properties: STELE_OK with *value and *len, or STELE_E_NOT_FOUND. */
STELE_API int stele_message_property(const stele_message* m, const char* name, const char** value,
                                     size_t* len);

/* Messages of `topic` with `key` in KEYS (or as UNIQ_KEY) stored within [begin_ms, end_ms],
 * newest first, at most max (1..maxMsgsNumBatch). STELE_OK with count 0 when none. */
STELE_API int stele_query_key(stele_store* s, const char* topic, const char* key, int32_t max,
                              int64_t begin_ms, int64_t end_ms, stele_get_result* out);
/* The message named by an offset message id: count 1, or STELE_E_NOT_FOUND. */
STELE_API int stele_query_msg_id(stele_store* s, const char* msg_id, stele_get_result* out);
/* The first queue offset stored at or after timestamp_ms (the max offset if none).
 * STELE_E_NOT_FOUND for an unknown queue. */
STELE_API int stele_search_offset(stele_store* s, const char* topic, int32_t queue_id,
                                  int64_t timestamp_ms, int64_t* out);
/* The queue's min and max offsets (max is one past the newest readable message); 0 if unknown. */
STELE_API int stele_min_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t* out);
STELE_API int stele_max_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t* out);
/* The queue offset the next put to (topic, queue_id) will get: past every put acknowledged so far,
 * even those not yet readable with stele_get. A producer resumes from it after a restart. */
STELE_API int stele_next_queue_offset(stele_store* s, const char* topic, int32_t queue_id,
                                      int64_t* out);
/* Blocks until (topic, queue_id) has a message at queue_offset or timeout_ms (0..3600000) passes;
 * *ready = 1 if it has, else 0. Woken by the dispatcher, no polling. */
STELE_API int stele_wait(stele_store* s, const char* topic, int32_t queue_id, int64_t queue_offset,
                         int64_t timeout_ms, int* ready);

/* ---- Consumer offsets for embedded consumers ----
 * Kept as RocketMQ's <storePathRootDir>/config/consumerOffset.json (the broker's file and format),
 * loaded on first use. `offset` is the next message to consume. Commit changes memory only;
 * stele_offsets_persist (and stele_close) write the file crash-safely. After a crash, offsets
 * committed since the last persist are lost: the consumer re-reads that window (at-least-once). */
STELE_API int stele_offset_commit(stele_store* s, const char* group, const char* topic,
                                  int32_t queue_id, int64_t offset);
/* The committed offset, or STELE_E_NOT_FOUND if the group never committed one for the queue. */
STELE_API int stele_offset_query(stele_store* s, const char* group, const char* topic,
                                 int32_t queue_id, int64_t* out);
STELE_API int stele_offsets_persist(stele_store* s);

#ifdef __cplusplus
}
#endif

#endif /* STELE_C_H_ */
