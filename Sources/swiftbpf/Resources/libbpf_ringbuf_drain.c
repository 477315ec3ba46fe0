// The peer in `swiftbpf bench`'s ring buffer figure: libbpf's own consumer, ring_buffer__poll,
// draining the ring buffer pinned at argv[1] until it has seen argv[2] records. Prints the
// nanoseconds from its first poll to the last record, and the records' checksum.
// Build: clang -O2 libbpf_ringbuf_drain.c -lbpf
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long long records, checksum;

static int record(void *context, void *data, size_t size) {
    (void)context; (void)size;
    records++;
    checksum += *(unsigned long long *)data;
    return 0;
}

static unsigned long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s PINNED_RINGBUF RECORDS\n", argv[0]); return 2; }
    int fd = bpf_obj_get(argv[1]);
    if (fd < 0) { perror("bpf_obj_get"); return 1; }
    struct ring_buffer *ring = ring_buffer__new(fd, record, NULL, NULL);
    if (!ring) { perror("ring_buffer__new"); return 1; }
    unsigned long long want = strtoull(argv[2], NULL, 10), start = now();
    while (records < want) {
        if (ring_buffer__poll(ring, 1000) <= 0) break;
    }
    unsigned long long elapsed = now() - start;
    printf("%llu %llu %llu\n", records, elapsed, checksum);
    ring_buffer__free(ring);
    return records == want ? 0 : 1;
}
