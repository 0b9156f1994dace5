/* Tests of the C API, in C: every call, with good arguments, NULL pointers, bad and freed handles,
 * and closed stores. Run as `stele_c_api_test CASE` (one ctest per case; no argument runs all). */
#define _GNU_SOURCE
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stele/c.h"

static int failures;
#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond, \
              stele_last_error());                                                             \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)
#define CHECK_RC(expr, want)                                                                   \
  do {                                                                                         \
    int rc_ = (expr);                                                                          \
    if (rc_ != (want)) {                                                                       \
      fprintf(stderr, "%s:%d: %s = %s, want %s (last error: %s)\n", __FILE__, __LINE__, #expr, \
              stele_status_name(rc_), stele_status_name(want), stele_last_error());            \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)

/* ---- helpers ---- */
static char dir[256];

static void make_dir(void) {
  const char* tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/stele_c_test.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
}
static int rm_one(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}
static void remove_dir(void) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Opens the test store with small files; `sync` picks SYNC_FLUSH. */
static stele_store* open_store(int sync) {
  const char* keys[] = {"storePathRootDir",           "flushDiskType",  "mappedFileSizeCommitLog",
                        "mappedFileSizeConsumeQueue", "maxHashSlotNum", "maxIndexNum"};
  const char* vals[] = {dir,   sync ? "SYNC_FLUSH" : "ASYNC_FLUSH", "4194304", "60000", "1000",
                        "4000"};
  stele_store* s = NULL;
  CHECK_RC(stele_open(keys, vals, 6, &s), STELE_OK);
  CHECK(s != NULL);
  return s;
}

static stele_msg msg(const char* topic, int32_t queue, const char* body) {
  stele_msg m;
  memset(&m, 0, sizeof m);
  m.topic = topic;
  m.queue_id = queue;
  m.body = body;
  m.body_len = strlen(body);
  return m;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Puts n messages "0".."n-1" to (topic, queue) one by one. */
static void put_n(stele_store* s, const char* topic, int32_t queue, int n) {
  for (int i = 0; i < n; ++i) {
    char body[32];
    snprintf(body, sizeof body, "%d", i);
    stele_msg m = msg(topic, queue, body);
    CHECK_RC(stele_put(s, &m, NULL), STELE_OK);
  }
}

/* Waits until (topic, queue) has n readable messages (the dispatcher runs in the background). */
static void wait_readable(stele_store* s, const char* topic, int32_t queue, int64_t n) {
  int ready = 0;
  CHECK_RC(stele_wait(s, topic, queue, n - 1, 5000, &ready), STELE_OK);
  CHECK(ready == 1);
}

/* ---- cases ---- */
static void test_versions(void) {
  CHECK(stele_abi_version() == STELE_ABI_VERSION);
  CHECK(strlen(stele_version()) >= 5);
  CHECK(strcmp(stele_status_name(STELE_OK), "OK") == 0);
  CHECK(strcmp(stele_status_name(STELE_E_MESSAGE_ILLEGAL), "MESSAGE_ILLEGAL") == 0);
  CHECK(strcmp(stele_status_name(STELE_E_SERVICE_NOT_AVAILABLE), "SERVICE_NOT_AVAILABLE") == 0);
  CHECK(strcmp(stele_status_name(12345), "UNKNOWN") == 0);
  CHECK(strcmp(stele_put_status_name(STELE_PUT_FLUSH_DISK_TIMEOUT), "FLUSH_DISK_TIMEOUT") == 0);
  CHECK(strcmp(stele_put_status_name(-7), "UNKNOWN") == 0);
  CHECK(strcmp(stele_get_status_name(STELE_GET_FOUND), "FOUND") == 0);
  CHECK(strcmp(stele_get_status_name(STELE_GET_OFFSET_OVERFLOW_ONE), "OFFSET_OVERFLOW_ONE") == 0);
  CHECK(strcmp(stele_get_status_name(STELE_GET_NO_MESSAGE_IN_QUEUE), "NO_MESSAGE_IN_QUEUE") == 0);
  CHECK(strcmp(stele_get_status_name(99), "UNKNOWN") == 0);
  CHECK(strcmp(stele_last_error(), "") == 0);
}

static void test_open_errors(void) {
  stele_store* s = (stele_store*)1;
  const char* k1[] = {"storePathRootDir"};
  const char* v1[] = {dir};
  CHECK_RC(stele_open(k1, v1, 1, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_open(NULL, NULL, 0, &s), STELE_E_INVALID_ARGUMENT); /* no storePathRootDir */
  CHECK(s == NULL);
  CHECK(strstr(stele_last_error(), "storePathRootDir") != NULL);
  CHECK_RC(stele_open(NULL, v1, 1, &s), STELE_E_INVALID_ARGUMENT);
  const char* k2[] = {"storePathRootDir", "noSuchOption"};
  const char* v2[] = {dir, "1"};
  CHECK_RC(stele_open(k2, v2, 2, &s), STELE_E_INVALID_ARGUMENT);
  CHECK(strstr(stele_last_error(), "noSuchOption") != NULL);
  const char* k3[] = {"storePathRootDir", "flushDiskType"};
  const char* v3[] = {dir, "SOMETIMES_FLUSH"};
  CHECK_RC(stele_open(k3, v3, 2, &s), STELE_E_INVALID_ARGUMENT);
  CHECK(strstr(stele_last_error(), "flushDiskType") != NULL);
  const char* v4[] = {dir, NULL};
  CHECK_RC(stele_open(k3, v4, 2, &s), STELE_E_INVALID_ARGUMENT);
  /* A second open of a store that is open fails cleanly. */
  stele_store* a = open_store(0);
  stele_store* b = NULL;
  CHECK_RC(stele_open(k1, v1, 1, &b), STELE_E_SERVICE_NOT_AVAILABLE);
  CHECK(b == NULL);
  CHECK_RC(stele_free(a), STELE_OK);
  /* Closed and freed: it opens again. */
  a = open_store(0);
  CHECK_RC(stele_close(a), STELE_OK);
  CHECK_RC(stele_close(a), STELE_OK); /* idempotent */
  CHECK_RC(stele_free(a), STELE_OK);
}

static void test_put_get(void) {
  stele_store* s = open_store(0);
  const char* names[] = {"origin", "priority"};
  const char* values[] = {"c-test", "high"};
  stele_msg m = msg("TopicC", 1, "hello");
  m.tags = "TagA";
  m.keys = "k1 k2";
  m.property_names = names;
  m.property_values = values;
  m.property_count = 2;
  stele_put_result r;
  CHECK_RC(stele_put(s, &m, &r), STELE_OK);
  CHECK(r.put_status == STELE_PUT_OK);
  CHECK(r.queue_offset == 0);
  CHECK(r.wrote_bytes > 0);
  CHECK(strlen(r.msg_id) == 32);
  m.tags = "TagB";
  m.body = "world";
  CHECK_RC(stele_put(s, &m, &r), STELE_OK);
  CHECK(r.queue_offset == 1);
  /* A batch: three messages, two topics. */
  stele_msg batch[3] = {msg("TopicC", 1, "b0"), msg("TopicC", 1, "b1"), msg("TopicD", 0, "d0")};
  batch[1].tags = "TagA";
  stele_put_result br[3];
  CHECK_RC(stele_put_batch(s, batch, 3, br), STELE_OK);
  CHECK(br[0].queue_offset == 2 && br[1].queue_offset == 3 && br[2].queue_offset == 0);
  CHECK(br[1].commit_log_offset > br[0].commit_log_offset);
  CHECK_RC(stele_put_batch(s, batch, 0, NULL), STELE_OK);
  CHECK_RC(stele_put_batch(s, batch, 3, NULL), STELE_OK);
  wait_readable(s, "TopicC", 1, 6);
  wait_readable(s, "TopicD", 0, 2);

  stele_get_result g;
  CHECK_RC(stele_get(s, "TopicC", 1, 0, 32, NULL, &g), STELE_OK);
  CHECK(g.status == STELE_GET_FOUND);
  CHECK(g.count == 6);
  CHECK(g.next_begin_offset == 6);
  CHECK(g.min_offset == 0 && g.max_offset == 6);
  CHECK(g.handle != NULL);
  if (g.count == 6) {
    const stele_message* x = &g.messages[0];
    CHECK(x->topic_len == 6 && memcmp(x->topic, "TopicC", 6) == 0);
    CHECK(x->body_len == 5 && memcmp(x->body, "hello", 5) == 0);
    CHECK(x->tags_len == 4 && memcmp(x->tags, "TagA", 4) == 0);
    CHECK(x->keys_len == 5 && memcmp(x->keys, "k1 k2", 5) == 0);
    CHECK(x->queue_id == 1 && x->queue_offset == 0);
    CHECK(x->store_timestamp > 0 && x->born_timestamp > 0);
    CHECK(strlen(x->msg_id) == 32);
    const char* v = NULL;
    size_t len = 0;
    CHECK_RC(stele_message_property(x, "priority", &v, &len), STELE_OK);
    CHECK(len == 4 && memcmp(v, "high", 4) == 0);
    CHECK_RC(stele_message_property(x, "absent", &v, &len), STELE_E_NOT_FOUND);
    CHECK_RC(stele_message_property(NULL, "a", &v, &len), STELE_E_INVALID_ARGUMENT);
    CHECK_RC(stele_message_property(x, NULL, &v, &len), STELE_E_INVALID_ARGUMENT);
    CHECK_RC(stele_message_property(x, "a", NULL, &len), STELE_E_INVALID_ARGUMENT);
    CHECK_RC(stele_message_property(x, "a", &v, NULL), STELE_E_INVALID_ARGUMENT);
    CHECK(g.messages[2].tags == NULL && g.messages[2].keys == NULL);
    CHECK(g.messages[5].queue_offset == 5);
  }
  CHECK_RC(stele_result_free(g.handle), STELE_OK);
  CHECK_RC(stele_result_free(g.handle), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_result_free(NULL), STELE_E_BAD_HANDLE);

  /* Tag filter, batch limit, statuses. */
  CHECK_RC(stele_get(s, "TopicC", 1, 0, 32, "TagA || TagZ", &g), STELE_OK);
  CHECK(g.count == 3); /* hello (TagA), b1 (TagA) twice */
  CHECK(g.next_begin_offset == 6);
  stele_result_free(g.handle);
  CHECK_RC(stele_get(s, "TopicC", 1, 1, 2, "*", &g), STELE_OK);
  CHECK(g.count == 2 && g.next_begin_offset == 3);
  stele_result_free(g.handle);
  CHECK_RC(stele_get(s, "TopicC", 1, 6, 32, NULL, &g), STELE_OK);
  CHECK(g.status == STELE_GET_OFFSET_OVERFLOW_ONE && g.count == 0 && g.handle == NULL);
  CHECK_RC(stele_get(s, "TopicC", 1, 60, 32, NULL, &g), STELE_OK);
  CHECK(g.status == STELE_GET_OFFSET_OVERFLOW_BADLY);
  CHECK_RC(stele_get(s, "NoTopic", 0, 0, 32, NULL, &g), STELE_OK);
  CHECK(g.status == STELE_GET_NO_MATCHED_LOGIC_QUEUE);
  CHECK_RC(stele_get(s, "TopicC", 1, 0, 0, NULL, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_get(s, "TopicC", 1, 0, 1025, NULL, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_get(s, "TopicC", -1, 0, 1, NULL, &g), STELE_E_INVALID_ARGUMENT);

  /* Illegal messages are refused with RocketMQ's status. */
  stele_msg bad = msg("", 0, "x");
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_MESSAGE_ILLEGAL);
  bad = msg("TopicC", -2, "x");
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_INVALID_ARGUMENT);
  const char* ctl[] = {"bad\x01name"};
  bad = msg("TopicC", 0, "x");
  bad.property_names = ctl;
  bad.property_values = values;
  bad.property_count = 1;
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_INVALID_ARGUMENT);
  bad.property_names = NULL;
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_INVALID_ARGUMENT);
  bad = msg("TopicC", 0, "x");
  bad.body = NULL;
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_INVALID_ARGUMENT);
  bad.body_len = 0; /* an empty body is fine */
  CHECK_RC(stele_put(s, &bad, NULL), STELE_OK);
  static char big[5 << 20];
  bad = msg("TopicC", 0, "");
  bad.body = big;
  bad.body_len = sizeof big; /* over maxMessageSize */
  CHECK_RC(stele_put(s, &bad, NULL), STELE_E_MESSAGE_ILLEGAL);
  stele_msg two[2] = {msg("TopicC", 0, "ok"), msg(NULL, 0, "no topic")};
  CHECK_RC(stele_put_batch(s, two, 2, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_put_batch(s, NULL, 2, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_put_batch(s, two, 5000, NULL), STELE_E_INVALID_ARGUMENT);
  int64_t max = -1;
  CHECK_RC(stele_max_offset(s, "TopicC", 0, &max), STELE_OK);
  CHECK(max <= 1);
  int64_t next = -1;
  CHECK_RC(stele_next_queue_offset(s, "TopicC", 0, &next), STELE_OK);
  CHECK(next == 1);
  CHECK_RC(stele_next_queue_offset(s, "TopicC", 1, &next), STELE_OK);
  CHECK(next == 6);
  CHECK_RC(stele_next_queue_offset(s, NULL, 1, &next), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_next_queue_offset(s, "TopicC", 1, NULL),
           STELE_E_INVALID_ARGUMENT); /* only the empty-body put landed in queue 0 */
  CHECK_RC(stele_flush(s), STELE_OK);
  CHECK_RC(stele_free(s), STELE_OK);
}

static void test_durable_reopen(void) {
  stele_store* s = open_store(1);
  put_n(s, "Durable", 0, 10);
  CHECK_RC(stele_free(s), STELE_OK);
  s = open_store(1);
  int64_t max = 0;
  CHECK_RC(stele_max_offset(s, "Durable", 0, &max), STELE_OK);
  CHECK(max == 10);
  stele_get_result g;
  CHECK_RC(stele_get(s, "Durable", 0, 9, 32, NULL, &g), STELE_OK);
  CHECK(g.count == 1 && g.messages[0].body_len == 1 && memcmp(g.messages[0].body, "9", 1) == 0);
  CHECK_RC(stele_free(s), STELE_OK);
  /* The views outlive the store. */
  if (g.count == 1) CHECK(((const char*)g.messages[0].body)[0] == '9');
  CHECK_RC(stele_result_free(g.handle), STELE_OK);
}

struct async_state {
  pthread_mutex_t mu;
  int ok, failed;
  int64_t last_queue_offset;
};
static void on_put(void* user, int status, const stele_put_result* r, const char* error) {
  struct async_state* a = user;
  pthread_mutex_lock(&a->mu);
  if (status == STELE_OK && r != NULL && error == NULL) {
    ++a->ok;
    if (r->queue_offset > a->last_queue_offset) a->last_queue_offset = r->queue_offset;
  } else {
    ++a->failed;
  }
  pthread_mutex_unlock(&a->mu);
}

static void test_put_async(void) {
  struct async_state a = {PTHREAD_MUTEX_INITIALIZER, 0, 0, -1};
  stele_store* s = open_store(1);
  stele_msg m = msg("Async", 0, "payload");
  for (int i = 0; i < 200; ++i) CHECK_RC(stele_put_async(s, &m, on_put, &a), STELE_OK);
  CHECK_RC(stele_put_async(s, &m, NULL, &a), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_put_async(s, NULL, on_put, &a), STELE_E_INVALID_ARGUMENT);
  stele_msg bad = msg("", 0, "x"); /* refused by the engine: the callback reports it */
  CHECK_RC(stele_put_async(s, &bad, on_put, &a), STELE_OK);
  /* Close waits for every callback. */
  CHECK_RC(stele_close(s), STELE_OK);
  CHECK(a.ok + a.failed == 201);
  CHECK(a.ok == 200);
  CHECK(a.last_queue_offset == 199);
  CHECK_RC(stele_put_async(s, &m, on_put, &a), STELE_E_CLOSED);
  CHECK_RC(stele_free(s), STELE_OK);
}

static void test_queries(void) {
  stele_store* s = open_store(0);
  const int64_t t0 = now_ms();
  stele_msg m = msg("Query", 0, "first");
  m.keys = "order-1 shared";
  stele_put_result r1, r2;
  CHECK_RC(stele_put(s, &m, &r1), STELE_OK);
  usleep(20 * 1000);
  const int64_t t1 = now_ms();
  m = msg("Query", 0, "second");
  m.keys = "order-2 shared";
  CHECK_RC(stele_put(s, &m, &r2), STELE_OK);
  wait_readable(s, "Query", 0, 2);

  stele_get_result g;
  CHECK_RC(stele_query_key(s, "Query", "shared", 10, 0, INT64_MAX, &g), STELE_OK);
  CHECK(g.status == STELE_GET_FOUND && g.count == 2);
  if (g.count == 2) {
    CHECK(g.messages[0].body_len == 6); /* newest first */
    CHECK(g.messages[1].body_len == 5);
  }
  stele_result_free(g.handle);
  CHECK_RC(stele_query_key(s, "Query", "order-1", 10, 0, INT64_MAX, &g), STELE_OK);
  CHECK(g.count == 1 && strcmp(g.messages[0].msg_id, r1.msg_id) == 0);
  stele_result_free(g.handle);
  CHECK_RC(stele_query_key(s, "Query", "nothing", 10, 0, INT64_MAX, &g), STELE_OK);
  CHECK(g.count == 0 && g.status == STELE_GET_NO_MATCHED_MESSAGE && g.handle == NULL);
  CHECK_RC(stele_query_key(s, "Query", "shared", 0, 0, INT64_MAX, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_query_key(s, NULL, "shared", 1, 0, INT64_MAX, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_query_key(s, "Query", NULL, 1, 0, INT64_MAX, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_query_key(s, "Query", "x", 1, 0, INT64_MAX, NULL), STELE_E_INVALID_ARGUMENT);

  CHECK_RC(stele_query_msg_id(s, r2.msg_id, &g), STELE_OK);
  CHECK(g.count == 1 && g.messages[0].queue_offset == 1);
  CHECK(g.count == 1 && g.messages[0].commit_log_offset == r2.commit_log_offset);
  stele_result_free(g.handle);
  CHECK_RC(stele_query_msg_id(s, "not-a-message-id", &g), STELE_E_NOT_FOUND);
  CHECK(g.count == 0);
  CHECK_RC(stele_query_msg_id(s, NULL, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_query_msg_id(s, r2.msg_id, NULL), STELE_E_INVALID_ARGUMENT);

  int64_t off = -1;
  CHECK_RC(stele_search_offset(s, "Query", 0, t0 - 1000, &off), STELE_OK);
  CHECK(off == 0);
  CHECK_RC(stele_search_offset(s, "Query", 0, t1, &off), STELE_OK);
  CHECK(off == 1);
  CHECK_RC(stele_search_offset(s, "Query", 0, now_ms() + 60000, &off), STELE_OK);
  CHECK(off == 2);
  CHECK_RC(stele_search_offset(s, "NoSuch", 0, t0, &off), STELE_E_NOT_FOUND);
  CHECK_RC(stele_search_offset(s, "Query", 0, t0, NULL), STELE_E_INVALID_ARGUMENT);

  int64_t min = -1, max = -1;
  CHECK_RC(stele_min_offset(s, "Query", 0, &min), STELE_OK);
  CHECK_RC(stele_max_offset(s, "Query", 0, &max), STELE_OK);
  CHECK(min == 0 && max == 2);
  CHECK_RC(stele_max_offset(s, "NoSuch", 3, &max), STELE_OK);
  CHECK(max == 0);
  CHECK_RC(stele_min_offset(s, "Query", 0, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_max_offset(s, NULL, 0, &max), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_free(s), STELE_OK);
}

struct late_put {
  stele_store* s;
};
static void* put_later(void* arg) {
  struct late_put* p = arg;
  usleep(100 * 1000);
  stele_msg m = msg("Wait", 0, "late");
  CHECK_RC(stele_put(p->s, &m, NULL), STELE_OK);
  return NULL;
}

static void test_wait(void) {
  stele_store* s = open_store(0);
  int ready = -1;
  const int64_t t0 = now_ms();
  CHECK_RC(stele_wait(s, "Wait", 0, 0, 100, &ready), STELE_OK);
  CHECK(ready == 0);
  CHECK(now_ms() - t0 >= 90);
  struct late_put p = {s};
  pthread_t th;
  pthread_create(&th, NULL, put_later, &p);
  CHECK_RC(stele_wait(s, "Wait", 0, 0, 10000, &ready), STELE_OK);
  CHECK(ready == 1);
  pthread_join(th, NULL);
  CHECK_RC(stele_wait(s, "Wait", 0, 0, 0, &ready), STELE_OK);
  CHECK(ready == 1);
  CHECK_RC(stele_wait(s, "Wait", 0, 0, -1, &ready), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_wait(s, "Wait", 0, 0, 3600001, &ready), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_wait(s, "Wait", 0, 0, 10, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_wait(s, NULL, 0, 0, 10, &ready), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_free(s), STELE_OK);
}

static void test_offsets(void) {
  stele_store* s = open_store(0);
  int64_t off = -1;
  CHECK_RC(stele_offset_query(s, "GroupA", "TopicO", 0, &off), STELE_E_NOT_FOUND);
  CHECK_RC(stele_offset_commit(s, "GroupA", "TopicO", 0, 5), STELE_OK);
  CHECK_RC(stele_offset_commit(s, "GroupA", "TopicO", 1, 7), STELE_OK);
  CHECK_RC(stele_offset_commit(s, "GroupB", "TopicO", 0, 1), STELE_OK);
  CHECK_RC(stele_offset_query(s, "GroupA", "TopicO", 0, &off), STELE_OK);
  CHECK(off == 5);
  CHECK_RC(stele_offset_commit(s, "GroupA", "TopicO", 0, -1), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offset_commit(s, "Bad Group!", "TopicO", 0, 1), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offset_commit(s, NULL, "TopicO", 0, 1), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offset_commit(s, "GroupA", NULL, 0, 1), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offset_query(s, "GroupA", "TopicO", 0, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offsets_persist(s), STELE_OK);
  CHECK_RC(stele_offset_commit(s, "GroupA", "TopicO", 0, 6), STELE_OK);
  CHECK_RC(stele_free(s), STELE_OK); /* close persists too */
  /* RocketMQ's file, at RocketMQ's path. */
  char path[512];
  snprintf(path, sizeof path, "%s/config/consumerOffset.json", dir);
  CHECK(access(path, R_OK) == 0);
  s = open_store(0);
  CHECK_RC(stele_offset_query(s, "GroupA", "TopicO", 0, &off), STELE_OK);
  CHECK(off == 6);
  CHECK_RC(stele_offset_query(s, "GroupA", "TopicO", 1, &off), STELE_OK);
  CHECK(off == 7);
  CHECK_RC(stele_free(s), STELE_OK);
}

/* Every store call on `s`, which must fail with `want`. */
static void all_calls_fail(stele_store* s, int want) {
  stele_msg m = msg("T", 0, "x");
  stele_put_result r;
  stele_get_result g;
  int64_t v = 0;
  int ready = 0;
  struct async_state a = {PTHREAD_MUTEX_INITIALIZER, 0, 0, -1};
  CHECK_RC(stele_put(s, &m, &r), want);
  CHECK_RC(stele_put_batch(s, &m, 1, &r), want);
  CHECK_RC(stele_put_async(s, &m, on_put, &a), want);
  CHECK(a.ok == 0 && a.failed == 0); /* no callback after a failed call */
  CHECK_RC(stele_flush(s), want);
  CHECK_RC(stele_get(s, "T", 0, 0, 1, NULL, &g), want);
  CHECK(g.count == 0 && g.handle == NULL);
  CHECK_RC(stele_query_key(s, "T", "k", 1, 0, 1, &g), want);
  CHECK_RC(stele_query_msg_id(s, "00", &g), want);
  CHECK_RC(stele_search_offset(s, "T", 0, 0, &v), want);
  CHECK_RC(stele_min_offset(s, "T", 0, &v), want);
  CHECK_RC(stele_max_offset(s, "T", 0, &v), want);
  CHECK_RC(stele_next_queue_offset(s, "T", 0, &v), want);
  CHECK_RC(stele_wait(s, "T", 0, 0, 1, &ready), want);
  CHECK_RC(stele_offset_commit(s, "G", "T", 0, 1), want);
  CHECK_RC(stele_offset_query(s, "G", "T", 0, &v), want);
  CHECK_RC(stele_offsets_persist(s), want);
}

static void test_bad_handles(void) {
  all_calls_fail(NULL, STELE_E_BAD_HANDLE);
  CHECK(strstr(stele_last_error(), "handle") != NULL);
  /* Never dereferenced: an unmapped address is as good as any. */
  stele_store* garbage = (stele_store*)(uintptr_t)0xdeadbeef0ULL;
  all_calls_fail(garbage, STELE_E_BAD_HANDLE);
  CHECK_RC(stele_close(NULL), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_close(garbage), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_free(NULL), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_free(garbage), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_result_free((stele_result*)garbage), STELE_E_BAD_HANDLE);
  /* A store handle is not a result handle. */
  stele_store* s = open_store(0);
  CHECK_RC(stele_result_free((stele_result*)s), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_free(s), STELE_OK);
  /* Freed handles. */
  all_calls_fail(s, STELE_E_BAD_HANDLE);
  CHECK_RC(stele_close(s), STELE_E_BAD_HANDLE);
  CHECK_RC(stele_free(s), STELE_E_BAD_HANDLE);
}

static void test_closed_store(void) {
  stele_store* s = open_store(0);
  put_n(s, "Closed", 0, 3);
  wait_readable(s, "Closed", 0, 3);
  stele_get_result g;
  CHECK_RC(stele_get(s, "Closed", 0, 0, 32, NULL, &g), STELE_OK);
  CHECK_RC(stele_close(s), STELE_OK);
  all_calls_fail(s, STELE_E_CLOSED);
  CHECK(strstr(stele_last_error(), "closed") != NULL);
  CHECK_RC(stele_close(s), STELE_OK);
  /* Results taken before the close stay readable after it and after free. */
  CHECK(g.count == 3);
  if (g.count == 3) CHECK(memcmp(g.messages[2].body, "2", 1) == 0);
  CHECK_RC(stele_free(s), STELE_OK);
  if (g.count == 3) CHECK(memcmp(g.messages[1].body, "1", 1) == 0);
  CHECK_RC(stele_result_free(g.handle), STELE_OK);
}

static void test_null_pointers(void) {
  stele_store* s = open_store(0);
  stele_get_result g;
  int64_t v;
  CHECK_RC(stele_put(s, NULL, NULL), STELE_E_INVALID_ARGUMENT);
  stele_msg m = msg(NULL, 0, "x");
  CHECK_RC(stele_put(s, &m, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_get(s, NULL, 0, 0, 1, NULL, &g), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_get(s, "T", 0, 0, 1, NULL, NULL), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_min_offset(s, NULL, 0, &v), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_offset_query(s, NULL, "T", 0, &v), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_search_offset(s, NULL, 0, 0, &v), STELE_E_INVALID_ARGUMENT);
  CHECK_RC(stele_free(s), STELE_OK);
}

struct test_case {
  const char* name;
  void (*fn)(void);
};
static const struct test_case cases[] = {
    {"versions", test_versions},
    {"open_errors", test_open_errors},
    {"put_get", test_put_get},
    {"durable_reopen", test_durable_reopen},
    {"put_async", test_put_async},
    {"queries", test_queries},
    {"wait", test_wait},
    {"offsets", test_offsets},
    {"bad_handles", test_bad_handles},
    {"closed_store", test_closed_store},
    {"null_pointers", test_null_pointers},
};

int main(int argc, char** argv) {
  int ran = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
    make_dir();
    const int before = failures;
    cases[i].fn();
    remove_dir();
    printf("%s %s\n", failures == before ? "PASS" : "FAIL", cases[i].name);
    ++ran;
  }
  if (ran == 0) {
    fprintf(stderr, "no test case named %s\n", argv[1]);
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
