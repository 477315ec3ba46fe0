#include "SwiftBPFProbes.h"

void swiftbpf_probe_bind(struct swiftbpf_probe_site *site, void *hook, swiftbpf_probe_handler handler) {
    if (hook) site->handler = handler;
    __atomic_store_n(&site->hook, hook, __ATOMIC_RELEASE);
}

void swiftbpf_probe_enable(struct swiftbpf_probe_site *site, int delta) {
    __atomic_fetch_add(site->semaphore, (unsigned short)delta, __ATOMIC_SEQ_CST);
}

SWIFTBPF_PROBE_DEFINE(swiftbpf, bench)

__attribute__((noinline)) void swiftbpf_bench_probe(uint64_t a, uint64_t b) { SWIFTBPF_PROBE2(swiftbpf, bench, a, b); }
