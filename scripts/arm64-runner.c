/* Runs code from SwiftBPF's arm64 JIT on an AArch64 machine, or under user-mode QEMU on another
   (scripts/test-arm64 builds it with aarch64-linux-gnu-gcc and runs it with qemu-aarch64).

   argv[1] is a batch: u32 count, u64 the address to place each program's memory at (0: anywhere),
   a 32-byte bitmap of the helper ids the programs may call, then per program u32 code size, u32
   memory size, the code, the memory. Each program's code is
   mapped read-write, filled, made read-execute (W^X) with the instruction cache cleaned, and
   called as the JIT's entry point (r1 = memory, r2 = its size, runtime block). One line per
   program on standard output: "r0 ERRORKIND MEMORY-HEX"; a program that runs past a second, or
   faults, gets ERRORKIND 100 + the signal (SIGALRM, SIGSEGV…) and the batch goes on. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The JIT's runtime block (Sources/BPFVM/JIT/JITRuntime.swift). */
enum { HELPER_CONTEXT = 0, ERROR_KIND = 32, TAIL_CALL_FUNCTION = 56, LOAD_PACKET_FUNCTION = 64, HELPERS = 72, HELPER_COUNT = 256 };

static uint64_t helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, void *context) {
    (void)b; (void)c; (void)d; (void)e; (void)context;
    return a; /* any helper: its result is not what the conformance programs check */
}

static uint64_t no_tail_call(uint64_t map, uint64_t index, void *runtime) {
    (void)map; (void)index; (void)runtime;
    return 0;
}

static uint64_t packet_end(uint64_t skb, int64_t offset, uint64_t size, void *runtime) {
    (void)skb; (void)offset; (void)size;
    *(uint64_t *)((char *)runtime + ERROR_KIND) = 3;
    return 0;
}

static sigjmp_buf recovery;

static void interrupted(int signal) { siglongjmp(recovery, signal); }

static uint32_t u32(const uint8_t **p) {
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s BATCH\n", argv[0]); return 64; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *batch = malloc((size_t)size);
    if (!batch || fread(batch, 1, (size_t)size, f) != (size_t)size) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    fclose(f);
    const uint8_t *p = batch;
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint32_t count = u32(&p);
    uint64_t fixed;
    memcpy(&fixed, p, 8);
    p += 8;
    const uint8_t *helpers = p;
    p += 32;
    static uint8_t runtime[HELPERS + 8 * HELPER_COUNT] __attribute__((aligned(64)));
    long page = sysconf(_SC_PAGESIZE);
    /* Programs that compute with their memory's address give the interpreter's results only at
       the address it ran them at. */
    uint8_t *placed = NULL;
    if (fixed) {
        placed = mmap((void *)(uintptr_t)fixed, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (placed != (uint8_t *)(uintptr_t)fixed) { fprintf(stderr, "cannot map memory at 0x%llx\n", (unsigned long long)fixed); return 1; }
    }
    static uint8_t alternate[65536];
    stack_t signal_stack = {.ss_sp = alternate, .ss_size = sizeof(alternate)};
    sigaltstack(&signal_stack, NULL);
    struct sigaction action = {.sa_handler = interrupted, .sa_flags = SA_ONSTACK | SA_NODEFER};
    int signals[] = {SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE};
    sigset_t unblocked;
    sigemptyset(&unblocked);
    for (unsigned s = 0; s < sizeof(signals) / sizeof(signals[0]); s++) {
        sigaction(signals[s], &action, NULL);
        sigaddset(&unblocked, signals[s]);
    }
    /* A parent's threads may block these; the spawned runner inherits the mask. */
    sigprocmask(SIG_UNBLOCK, &unblocked, NULL);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t code_size = u32(&p), memory_size = u32(&p);
        size_t mapped = ((size_t)code_size + (size_t)page - 1) / (size_t)page * (size_t)page;
        void *code = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code == MAP_FAILED) { perror("mmap"); return 1; }
        memcpy(code, p, code_size);
        p += code_size;
        if (mprotect(code, mapped, PROT_READ | PROT_EXEC) != 0) { perror("mprotect"); return 1; }
        __builtin___clear_cache((char *)code, (char *)code + code_size);
        if (placed && memory_size > (1 << 20)) { fprintf(stderr, "memory past the placed megabyte\n"); return 1; }
        uint8_t *volatile memory = placed ? placed : malloc(memory_size + 1);
        memcpy(memory, p, memory_size);
        p += memory_size;
        memset(runtime, 0, sizeof(runtime));
        uint64_t *table = (uint64_t *)(runtime + HELPERS);
        for (int id = 0; id < HELPER_COUNT; id++) {
            if (helpers[id / 8] & (1 << (id % 8))) table[id] = (uint64_t)(uintptr_t)helper;
        }
        *(uint64_t *)(runtime + TAIL_CALL_FUNCTION) = (uint64_t)(uintptr_t)no_tail_call;
        *(uint64_t *)(runtime + LOAD_PACKET_FUNCTION) = (uint64_t)(uintptr_t)packet_end;
        uint64_t (*entry)(uint64_t, uint64_t, void *) = (uint64_t (*)(uint64_t, uint64_t, void *))code;
        volatile uint64_t r0 = 0;
        uint64_t kind;
        int signal = sigsetjmp(recovery, 1);
        if (signal == 0) {
            alarm(1);
            r0 = entry((uint64_t)(uintptr_t)memory, memory_size, runtime);
            alarm(0);
            kind = *(uint64_t *)(runtime + ERROR_KIND);
        } else {
            alarm(0);
            kind = 100 + (uint64_t)signal;
        }
        printf("%llx %llu ", (unsigned long long)r0, (unsigned long long)kind);
        for (uint32_t b = 0; b < memory_size; b++) printf("%02x", memory[b]);
        printf("\n");
        if (!placed) free(memory);
        munmap(code, mapped);
    }
    free(batch);
    return 0;
}
