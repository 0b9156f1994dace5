/* The durable-queue round trip of examples/durable_queue.cc, in C over the C API (stele/c.h).
 *
 *   durable_queue_c DATA_DIR [--messages N] [--topics T]
 *
 * A producer thread appends N numbered messages to queue 0 of each of T topics (DurableQueue0, ...)
 * with SYNC_FLUSH; a consumer thread reads them with stele_get and stele_wait and "processes" each
 * by appending "topic queue_id queue_offset seq" to DATA_DIR/consumed.log. Kill it at any moment
 * and run it again: it carries on, and consumed.log ends up with every message exactly once, in
 * order. As in the C++ example, the consumer's offset is its output (a line commits offset + 1; a
 * batch of lines is one write + fdatasync; a torn last line is cut off on restart), and the
 * producer resumes from stele_next_queue_offset: the commit log is its record of what was sent.
 * Build: cc durable_queue.c $(pkg-config --cflags --libs stele) -lpthread */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stele/c.h"

#define MAX_TOPICS 1000
#define BATCH 64

static stele_store* store;
static long long messages = 1000;
static int topics = 3;
static long long committed[MAX_TOPICS]; /* per topic: next queue offset to consume */
static int log_fd = -1;
static atomic_int stop;

static void topic_name(int t, char* buf, size_t n) { snprintf(buf, n, "DurableQueue%d", t); }

static int fail(const char* who, int rc) {
  fprintf(stderr, "%s: %s: %s\n", who, stele_status_name(rc), stele_last_error());
  atomic_store(&stop, 1);
  return 1;
}

/* Reads consumed.log back: committed[] from its lines; a torn tail is cut off. -1 if damaged. */
static int open_log(const char* dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/consumed.log", dir);
  log_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return perror(path), -1;
  FILE* f = fopen(path, "r");
  if (f == NULL) return perror(path), -1;
  char line[256];
  long good = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    int t, q;
    long long qo, seq;
    char tail;
    const size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n' ||
        sscanf(line, "DurableQueue%d %d %lld %lld%c", &t, &q, &qo, &seq, &tail) != 5 ||
        tail != '\n' || t < 0 || t >= MAX_TOPICS || q != 0) {
      break; /* torn or damaged: only acceptable as the tail (checked below) */
    }
    if (qo != committed[t] || seq != qo) {
      fprintf(stderr, "consumer: %s is out of sequence at byte %ld\n", path, good);
      fclose(f);
      return -1;
    }
    committed[t] = qo + 1;
    good = ftell(f);
  }
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "DurableQueue", 12) == 0 && strchr(line, '\n') != NULL) {
      fprintf(stderr, "consumer: damaged line in %s followed by valid ones\n", path);
      fclose(f);
      return -1;
    }
  }
  fseek(f, 0, SEEK_END);
  if (ftell(f) > good) {
    printf("consumer: cutting %ld bytes of torn tail off %s\n", ftell(f) - good, path);
    if (ftruncate(log_fd, good) != 0 || fdatasync(log_fd) != 0) return perror(path), fclose(f), -1;
  }
  fclose(f);
  return 0;
}

static void* produce(void* arg) {
  (void)arg;
  long long next[MAX_TOPICS];
  char topic[64], body[32];
  for (int t = 0; t < topics; ++t) {
    topic_name(t, topic, sizeof topic);
    int64_t n = 0;
    int rc = stele_next_queue_offset(store, topic, 0, &n);
    if (rc != STELE_OK) return (void*)(intptr_t)fail("producer", rc);
    next[t] = n;
    printf("producer: %s resumes at seq %lld\n", topic, next[t]);
  }
  while (!atomic_load(&stop)) {
    int t = 0; /* the topic furthest behind, which is where the consumer waits */
    for (int i = 1; i < topics; ++i)
      if (next[i] < next[t]) t = i;
    if (next[t] >= messages) break;
    topic_name(t, topic, sizeof topic);
    snprintf(body, sizeof body, "%lld", next[t]);
    char keys[96];
    snprintf(keys, sizeof keys, "order-%d-%lld", t, next[t]);
    stele_msg m = {.topic = topic,
                   .queue_id = 0,
                   .body = body,
                   .body_len = strlen(body),
                   .tags = next[t] % 2 == 0 ? "even" : "odd",
                   .keys = keys};
    stele_put_result r;
    int rc = stele_put(store, &m, &r);
    if (rc != STELE_OK) return (void*)(intptr_t)fail("producer", rc);
    if (r.put_status != STELE_PUT_OK || r.queue_offset != next[t]) {
      fprintf(stderr, "producer: %s seq %lld: %s at queue offset %lld\n", topic, next[t],
              stele_put_status_name(r.put_status), (long long)r.queue_offset);
      atomic_store(&stop, 1);
      return (void*)1;
    }
    ++next[t];
  }
  return NULL;
}

static void* consume(void* arg) {
  (void)arg;
  char topic[64], lines[BATCH * 80];
  while (!atomic_load(&stop)) {
    int done = 1, progressed = 0;
    for (int t = 0; t < topics; ++t) {
      if (committed[t] >= messages) continue;
      done = 0;
      topic_name(t, topic, sizeof topic);
      stele_get_result g;
      int rc = stele_get(store, topic, 0, committed[t], BATCH, NULL, &g);
      if (rc != STELE_OK) return (void*)(intptr_t)fail("consumer", rc);
      if (g.status == STELE_GET_OFFSET_TOO_SMALL || g.status == STELE_GET_MESSAGE_WAS_REMOVING) {
        fprintf(stderr, "consumer: %s: %s\n", topic, stele_get_status_name(g.status));
        atomic_store(&stop, 1);
        return (void*)1;
      }
      size_t len = 0;
      long long next = committed[t];
      for (size_t i = 0; i < g.count && next < messages; ++i, ++next) {
        const stele_message* m = &g.messages[i];
        char body[32] = {0};
        memcpy(body, m->body, m->body_len < 31 ? m->body_len : 31);
        if (m->queue_offset != next || atoll(body) != next) {
          fprintf(stderr, "consumer: %s: unexpected message at %lld\n", topic, next);
          atomic_store(&stop, 1);
          return (void*)1;
        }
        len += (size_t)snprintf(lines + len, sizeof lines - len, "%s 0 %lld %lld\n", topic, next,
                                next);
      }
      if (g.handle != NULL) stele_result_free(g.handle);
      if (len == 0) continue;
      /* Commit: the lines are the effect and the offsets at once. */
      if (write(log_fd, lines, len) != (ssize_t)len || fdatasync(log_fd) != 0) {
        perror("consumed.log");
        atomic_store(&stop, 1);
        return (void*)1;
      }
      committed[t] = next;
      progressed = 1;
    }
    if (done) return NULL;
    if (progressed) continue;
    int w = 0;
    for (int t = 1; t < topics; ++t)
      if (committed[t] < committed[w]) w = t;
    topic_name(w, topic, sizeof topic);
    int ready;
    stele_wait(store, topic, 0, committed[w], 1000, &ready);
  }
  return NULL;
}

int main(int argc, char** argv) {
  const char* dir = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
      messages = atoll(argv[++i]);
    } else if (strcmp(argv[i], "--topics") == 0 && i + 1 < argc) {
      topics = atoi(argv[++i]);
    } else if (dir == NULL && argv[i][0] != '-') {
      dir = argv[i];
    } else {
      dir = NULL;
      break;
    }
  }
  if (dir == NULL || messages < 1 || topics < 1 || topics > MAX_TOPICS) {
    fprintf(stderr, "usage: durable_queue_c DATA_DIR [--messages N] [--topics T]\n");
    return 2;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return perror(dir), 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char root[4096];
  snprintf(root, sizeof root, "%s/store", dir);
  const char* keys[] = {"storePathRootDir", "flushDiskType", "mappedFileSizeCommitLog",
                        "maxHashSlotNum", "maxIndexNum"};
  const char* vals[] = {root, "SYNC_FLUSH", "16777216", "100000", "400000"};
  int rc = stele_open(keys, vals, 5, &store);
  if (rc != STELE_OK) return fail("open", rc);
  printf("store: opened %s (libstele_c %s, ABI %d)\n", root, stele_version(), stele_abi_version());
  if (open_log(dir) != 0) return stele_free(store), 1;
  for (int t = 0; t < topics; ++t)
    printf("consumer: DurableQueue%d resumes at %lld\n", t, committed[t]);

  pthread_t producer, consumer;
  void *p_err, *c_err;
  pthread_create(&producer, NULL, produce, NULL);
  pthread_create(&consumer, NULL, consume, NULL);
  pthread_join(producer, &p_err);
  pthread_join(consumer, &c_err);
  rc = stele_free(store); /* closes: flush, checkpoint, threads stopped */
  close(log_fd);
  if (rc != STELE_OK) return fail("close", rc);
  if (p_err != NULL || c_err != NULL) return 1;
  printf("done: %lld messages x %d topics produced and consumed exactly once\n", messages, topics);
  return 0;
}
