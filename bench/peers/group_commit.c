/* The plain C reference points of bench/compare: what a program with no engine gets from the same
 * file system.
 *
 *   group_commit append FILE RECORDS SIZE G   RECORDS write()s of SIZE bytes each into FILE, an
 *       fdatasync after every G of them (G = 0: none, one at the end). The file is zero-filled to
 * its final size first and made durable, so that the timed loop overwrites written blocks, as a
 *       recycled commit-log segment is (a fallocate'd file pays an extent conversion per sync).
 *   group_commit memcpy MIB ROUNDS            copies MIB MiB from one buffer to another ROUNDS
 *       times: the DRAM copy ceiling (no disk).
 *
 * Prints "RESULT key=value ..." on stdout. Commit latencies (write of G records + fdatasync) are
 * kept in a fixed array and reported as nearest-rank percentiles. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double pct(const double* sorted, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p / 100.0 * (double)n + 0.999999) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return sorted[i];
}

static int die(const char* what) {
  fprintf(stderr, "group_commit: %s: %s\n", what, strerror(errno));
  return 1;
}

static long parse(const char* s, const char* name, long min) {
  char* end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < min) {
    fprintf(stderr, "group_commit: %s must be an integer >= %ld (not '%s')\n", name, min, s);
    exit(2);
  }
  return v;
}

static int run_append(const char* path, long records, long size, long g) {
  char* rec = malloc((size_t)size);
  if (rec == NULL) return die("malloc");
  memset(rec, 'x', (size_t)size);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return die(path);
  /* Zero-fill (1 MiB writes) and sync, so that the timed loop overwrites allocated blocks. */
  const long total = records * size;
  char* zeros = calloc(1, 1 << 20);
  if (zeros == NULL) return die("calloc");
  for (long done = 0; done < total;) {
    long n = total - done < (1 << 20) ? total - done : (1 << 20);
    if (write(fd, zeros, (size_t)n) != n) return die("zero-fill");
    done += n;
  }
  free(zeros);
  if (fdatasync(fd) != 0 || lseek(fd, 0, SEEK_SET) != 0) return die("fdatasync");
  const long commits = g > 0 ? (records + g - 1) / g : 1;
  double* lat = malloc(sizeof(double) * (size_t)commits);
  if (lat == NULL) return die("malloc");
  long ncommit = 0;
  const double t0 = now_s();
  double c0 = t0;
  for (long i = 0; i < records; i++) {
    if (write(fd, rec, (size_t)size) != size) return die("write");
    if ((g > 0 && (i + 1) % g == 0) || i + 1 == records) {
      if (fdatasync(fd) != 0) return die("fdatasync");
      const double c1 = now_s();
      lat[ncommit++] = (c1 - c0) * 1e6;
      c0 = c1;
    }
  }
  const double secs = now_s() - t0;
  qsort(lat, (size_t)ncommit, sizeof(double), cmp_double);
  printf(
      "RESULT mode=append records=%ld size=%ld group=%ld secs=%.3f tps=%.0f mbps=%.1f "
      "commits=%ld p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
      records, size, g, secs, (double)records / secs, (double)total / secs / 1e6, ncommit,
      pct(lat, ncommit, 50), pct(lat, ncommit, 99), pct(lat, ncommit, 99.9),
      pct(lat, ncommit, 100));
  close(fd);
  unlink(path);
  free(lat);
  free(rec);
  return 0;
}

static int run_memcpy(long mib, long rounds) {
  const size_t n = (size_t)mib << 20;
  char* a = malloc(n);
  char* b = malloc(n);
  if (a == NULL || b == NULL) return die("malloc");
  memset(a, 1, n);
  memset(b, 2, n); /* fault both in before timing */
  double best = 0;
  for (long r = 0; r < rounds; r++) {
    const double t0 = now_s();
    memcpy(r % 2 ? a : b, r % 2 ? b : a, n);
    const double gbps = (double)n / (now_s() - t0) / 1e9;
    if (gbps > best) best = gbps;
  }
  /* Read a byte so the copies cannot be optimized away. */
  printf("RESULT mode=memcpy mib=%ld rounds=%ld best_gbps=%.2f check=%d\n", mib, rounds, best,
         a[n / 2] + b[n / 3]);
  free(a);
  free(b);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 6 && strcmp(argv[1], "append") == 0) {
    return run_append(argv[2], parse(argv[3], "RECORDS", 1), parse(argv[4], "SIZE", 1),
                      parse(argv[5], "G", 0));
  }
  if (argc == 4 && strcmp(argv[1], "memcpy") == 0) {
    return run_memcpy(parse(argv[2], "MIB", 1), parse(argv[3], "ROUNDS", 1));
  }
  fprintf(stderr,
          "usage: group_commit append FILE RECORDS SIZE G | group_commit memcpy MIB ROUNDS\n");
  return 2;
}
