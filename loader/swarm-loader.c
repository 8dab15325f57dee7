/*
 * Entry point of the small swarm image (scripts/image.sh build --small): the real swarm executable
 * travels zstd-compressed at the end of this file. It is unpacked into an anonymous memory file
 * (memfd_create) and executed from there in place of this process (fexecve) with the same arguments
 * and environment, so the pid, signals and exit status are the real binary's own and no writable
 * filesystem is needed. The executed binary finds its embedded code through /proc/self/exe, which
 * then names the memory file.
 *
 * Layout: <this program> <payload: zstd frames> <trailer: payload size, 8 bytes little-endian, then
 * "SWARMZST">. Each frame records its decompressed size, so the frames are unpacked in parallel
 * (one thread per CPU), each straight into its place in the memory file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

#define MAGIC "SWARMZST"
#define TRAILER 16
#define MAX_FRAMES 256
#define MAX_THREADS 16
/* The payload is written with zstd --long=27 at most. */
#define WINDOW_LOG_MAX 27

extern char **environ;

struct frame {
  const uint8_t *src;
  size_t src_size;
  uint8_t *dst;
  size_t dst_size;
};

struct work {
  struct frame *frames;
  size_t count;
  size_t next; /* the next frame to unpack, taken by whichever thread is free */
  pthread_mutex_t lock;
};

static void die(const char *what, const char *detail) {
  fprintf(stderr, "swarm: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(127);
}

/* Unpacks frames until none is left; returns NULL or an error text. */
static void *unpack(void *arg) {
  struct work *work = arg;
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (!dctx) return (void *)"out of memory";
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
  const char *error = NULL;
  for (;;) {
    pthread_mutex_lock(&work->lock);
    size_t i = work->next++;
    pthread_mutex_unlock(&work->lock);
    if (i >= work->count) break;
    struct frame *f = &work->frames[i];
    size_t n = ZSTD_decompressDCtx(dctx, f->dst, f->dst_size, f->src, f->src_size);
    if (ZSTD_isError(n) || n != f->dst_size) {
      error = ZSTD_isError(n) ? ZSTD_getErrorName(n) : "frame size mismatch";
      break;
    }
  }
  ZSTD_freeDCtx(dctx);
  return (void *)error;
}

int main(int argc, char **argv) {
  (void)argc;
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) die("cannot open /proc/self/exe", strerror(errno));
  struct stat st;
  if (fstat(self, &st) < 0) die("cannot stat /proc/self/exe", strerror(errno));
  size_t file_size = (size_t)st.st_size;
  if (file_size < TRAILER) die("no payload in this executable", NULL);
  const uint8_t *file = mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, self, 0);
  if (file == MAP_FAILED) die("cannot map /proc/self/exe", strerror(errno));
  const uint8_t *trailer = file + file_size - TRAILER;
  if (memcmp(trailer + 8, MAGIC, 8) != 0) die("no payload in this executable", NULL);
  uint64_t payload_size = 0;
  for (int b = 7; b >= 0; b--) payload_size = (payload_size << 8) | trailer[b];
  if (payload_size > file_size - TRAILER) die("corrupt payload trailer", NULL);
  const uint8_t *payload = trailer - payload_size;

  static struct frame frames[MAX_FRAMES];
  size_t count = 0, total = 0;
  for (size_t off = 0; off < payload_size;) {
    if (count == MAX_FRAMES) die("too many frames in the payload", NULL);
    size_t csize = ZSTD_findFrameCompressedSize(payload + off, payload_size - off);
    unsigned long long dsize = ZSTD_getFrameContentSize(payload + off, payload_size - off);
    if (ZSTD_isError(csize) || dsize == ZSTD_CONTENTSIZE_UNKNOWN || dsize == ZSTD_CONTENTSIZE_ERROR) die("corrupt payload", NULL);
    frames[count++] = (struct frame){payload + off, csize, NULL, (size_t)dsize};
    off += csize;
    total += (size_t)dsize;
  }
  if (total == 0) die("empty payload", NULL);

  int mem = (int)syscall(SYS_memfd_create, "swarm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) die("memfd_create", strerror(errno));
  if (ftruncate(mem, (off_t)total) < 0) die("cannot size the memory file", strerror(errno));
  uint8_t *out = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0);
  if (out == MAP_FAILED) die("cannot map the memory file", strerror(errno));
  for (size_t i = 0, at = 0; i < count; at += frames[i].dst_size, i++) frames[i].dst = out + at;

  struct work work = {frames, count, 0, PTHREAD_MUTEX_INITIALIZER};
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (size_t)cpus;
  if (threads > count) threads = count;
  pthread_t helpers[MAX_THREADS];
  size_t started = 0;
  for (size_t t = 1; t < threads; t++)
    if (pthread_create(&helpers[started], NULL, unpack, &work) == 0) started++;
  const char *error = unpack(&work);
  for (size_t t = 0; t < started; t++) {
    void *result;
    pthread_join(helpers[t], &result);
    if (result && !error) error = result;
  }
  if (error) die("cannot unpack the swarm binary", error);
  munmap(out, total);
  munmap((void *)file, file_size);
  close(self);
  /* Nothing can change the executable from now on. */
  fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);

  fexecve(mem, argv, environ);
  /* Under binfmt_misc emulation (qemu-user) the kernel hands the file to the emulator after exec,
     so it must stay open across exec: the executed binary then inherits this one descriptor. */
  if (errno == ENOENT && fcntl(mem, F_SETFD, 0) == 0) fexecve(mem, argv, environ);
  die("cannot execute the unpacked swarm binary", strerror(errno));
  return 127;
}
