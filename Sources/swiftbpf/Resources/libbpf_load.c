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
