/// The C programs the benches build against libbpf to compare with: each is compiled with
/// `clang -O2 … -lbpf` for the run (``libbpfPeer(_:)``).
enum LibbpfPeers {
    /// `libbpf_load.c`: libbpf opening and loading an object in-process (the loading bench).
    static let load = #"""
        // The peer in `swiftbpf bench`'s loading figures: libbpf itself, in-process, opening and loading
        // the object at argv[1] (maps created, BTF loaded, every program loaded) argv[2] times, each
        // object closed after its timing. Prints the best time in nanoseconds.
        // Build: clang -O2 libbpf_load.c -lbpf
        #include <bpf/libbpf.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <time.h>

        static unsigned long long now(void) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
        }

        static int quiet(enum libbpf_print_level level, const char *format, va_list args) {
            (void)level; (void)format; (void)args;
            return 0;
        }

        int main(int argc, char **argv) {
            if (argc != 3) { fprintf(stderr, "usage: %s OBJECT ROUNDS\n", argv[0]); return 2; }
            libbpf_set_print(quiet);
            unsigned long long best = ~0ull;
            for (int round = 0; round < atoi(argv[2]); round++) {
                unsigned long long start = now();
                struct bpf_object *object = bpf_object__open_file(argv[1], NULL);
                if (!object || bpf_object__load(object) != 0) { fprintf(stderr, "%s: libbpf could not load it\n", argv[1]); return 1; }
                unsigned long long elapsed = now() - start;
                bpf_object__close(object);
                if (elapsed < best) best = elapsed;
            }
            printf("%llu\n", best);
            return 0;
        }
        """#

    /// `libbpf_ringbuf_drain.c`: `ring_buffer__poll` over a pinned ring (the ring buffer benches).
    static let ringbufDrain = #"""
        // The peer in `swiftbpf bench`'s ring buffer figures: libbpf's own consumer, ring_buffer__poll,
        // on the ring buffer pinned at argv[1]. Two modes:
        //   PIN RECORDS       drain until RECORDS records have been seen; prints the nanoseconds from
        //                     the first poll to the last record, and the records' checksum.
        //   PIN --live CPU    on CPU, print "ready", then consume while a producer runs, until a record
        //                     whose second word is 1; prints the records, the nanoseconds from the first
        //                     record to that one, the checksum and the CPU time this process used.
        // Build: clang -O2 libbpf_ringbuf_drain.c -lbpf
        #define _GNU_SOURCE
        #include <bpf/bpf.h>
        #include <errno.h>
        #include <bpf/libbpf.h>
        #include <sched.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <time.h>

        static unsigned long long records, checksum, first, last;
        static int ended;

        static unsigned long long clock_ns(clockid_t clock) {
            struct timespec t;
            clock_gettime(clock, &t);
            return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
        }

        static int record(void *context, void *data, size_t size) {
            (void)context; (void)size;
            const unsigned long long *words = data;
            if (records++ == 0) first = clock_ns(CLOCK_MONOTONIC);
            checksum += words[0];
            if (words[1] == 1) {
                ended = 1;
                last = clock_ns(CLOCK_MONOTONIC);
            }
            return 0;
        }

        int main(int argc, char **argv) {
            if (argc != 3 && !(argc == 4 && strcmp(argv[2], "--live") == 0)) {
                fprintf(stderr, "usage: %s PINNED_RINGBUF RECORDS | PINNED_RINGBUF --live CPU\n", argv[0]);
                return 2;
            }
            int fd = bpf_obj_get(argv[1]);
            if (fd < 0) { perror("bpf_obj_get"); return 1; }
            struct ring_buffer *ring = ring_buffer__new(fd, record, NULL, NULL);
            if (!ring) { perror("ring_buffer__new"); return 1; }
            if (argc == 4) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(atoi(argv[3]), &set);
                sched_setaffinity(0, sizeof(set), &set);
                printf("ready\n");
                fflush(stdout);
                unsigned long long cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID), idle_since = clock_ns(CLOCK_MONOTONIC);
                while (!ended && clock_ns(CLOCK_MONOTONIC) - idle_since < 5000000000ull) {
                    int n = ring_buffer__poll(ring, 1000);
                    if (n < 0 && n != -EINTR) break;
                    if (n > 0) idle_since = clock_ns(CLOCK_MONOTONIC);
                }
                cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu;
                printf("%llu %llu %llu %llu\n", records, last - first, checksum, cpu);
                ring_buffer__free(ring);
                return ended ? 0 : 1;
            }
            unsigned long long want = strtoull(argv[2], NULL, 10), start = clock_ns(CLOCK_MONOTONIC);
            while (records < want) {
                if (ring_buffer__poll(ring, 1000) <= 0) break;
            }
            unsigned long long elapsed = clock_ns(CLOCK_MONOTONIC) - start;
            printf("%llu %llu %llu\n", records, elapsed, checksum);
            ring_buffer__free(ring);
            return records == want ? 0 : 1;
        }
        """#
}
