// Probe sites for C (and Swift) host programs, traced by both SwiftBPF backends from one place.
//
// A site is a `sys/sdt.h` USDT probe with a semaphore: the kernel's uprobe (attached at the
// address its `.note.stapsdt` note gives, with the semaphore as the uprobe's reference counter)
// and SwiftBPF's userspace runtime (a hook bound to the site) both find it. While nothing traces
// it, a firing costs a load of the semaphore and a branch.
//
//     SWIFTBPF_PROBE_DEFINE(app, request);            // once, at file scope
//     SWIFTBPF_PROBE2(app, request, id, size);        // wherever the event happens
//
// and from Swift, `runtime.declareProbe(app_request_probe_site(), ...)`.
#ifndef SWIFTBPF_PROBES_H
#define SWIFTBPF_PROBES_H

#include <stdint.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/sdt.h>)
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#define SWIFTBPF_HAS_SDT 1
#endif
#endif

#ifdef SWIFTBPF_HAS_SDT
/* sys/sdt.h wants semaphores in `.probes` (an ELF section name). */
#define SWIFTBPF_SEMAPHORE_ATTRIBUTES __attribute__((unused, section(".probes")))
#else
#define SWIFTBPF_SEMAPHORE_ATTRIBUTES __attribute__((unused))
#define STAP_PROBE(provider, name)
#define STAP_PROBE1(provider, name, a1)
#define STAP_PROBE2(provider, name, a1, a2)
#define STAP_PROBE3(provider, name, a1, a2, a3)
#define STAP_PROBE4(provider, name, a1, a2, a3, a4)
#define STAP_PROBE5(provider, name, a1, a2, a3, a4, a5)
#endif

/// What a bound hook runs: hook is the runtime's, arguments the probe's values.
typedef void (*swiftbpf_probe_handler)(void *hook, const uint64_t *arguments, unsigned int count);

/// One probe site: its names, its semaphore, and the userspace runtime's hook when one is bound.
struct swiftbpf_probe_site {
    const char *provider;
    const char *name;
    /// The USDT semaphore: nonzero while anything (the kernel, a bound hook) traces the site.
    volatile unsigned short *semaphore;
    void *hook;
    swiftbpf_probe_handler handler;
};

/// Binds (hook non-NULL) or unbinds the userspace runtime's hook.
void swiftbpf_probe_bind(struct swiftbpf_probe_site *site, void *hook, swiftbpf_probe_handler handler);

/// Adds delta to the site's semaphore (the runtime enables a site it runs programs for).
void swiftbpf_probe_enable(struct swiftbpf_probe_site *site, int delta);

/// Runs the bound hook, if any, with the probe's arguments.
static inline void swiftbpf_probe_dispatch(struct swiftbpf_probe_site *site, const uint64_t *arguments, unsigned int count) {
    void *hook = __atomic_load_n(&site->hook, __ATOMIC_ACQUIRE);
    if (hook) site->handler(hook, arguments, count);
}

/// Defines the site `provider`:`name`: its semaphore (in `.probes`, where sys/sdt.h wants it),
/// its site record, and `provider_name_probe_site()` returning it.
#define SWIFTBPF_PROBE_DEFINE(provider, name)                                                                     \
    __extension__ volatile unsigned short provider##_##name##_semaphore SWIFTBPF_SEMAPHORE_ATTRIBUTES;                 \
    static struct swiftbpf_probe_site provider##_##name##_site = {#provider, #name, &provider##_##name##_semaphore, 0, 0}; \
    struct swiftbpf_probe_site *provider##_##name##_probe_site(void) { return &provider##_##name##_site; }

/// Declares what SWIFTBPF_PROBE_DEFINE defines, for other files (and Swift) to use.
#define SWIFTBPF_PROBE_DECLARE(provider, name)                        \
    extern volatile unsigned short provider##_##name##_semaphore;   \
    struct swiftbpf_probe_site *provider##_##name##_probe_site(void)

/// Whether anything traces the site: one load, one branch.
#define SWIFTBPF_PROBE_ENABLED(provider, name) __builtin_expect(provider##_##name##_semaphore != 0, 0)

#define SWIFTBPF_PROBE_FIRE_(provider, name, count, ...)                                  \
    do {                                                                                  \
        uint64_t swiftbpf_arguments_[count > 0 ? count : 1] = {__VA_ARGS__};              \
        swiftbpf_probe_dispatch(provider##_##name##_probe_site(), swiftbpf_arguments_, count); \
    } while (0)

#define SWIFTBPF_PROBE0(provider, name)                   \
    do {                                                  \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {     \
            SWIFTBPF_PROBE_FIRE_(provider, name, 0, 0);   \
            STAP_PROBE(provider, name);                   \
        }                                                 \
    } while (0)
#define SWIFTBPF_PROBE1(provider, name, a1)                                     \
    do {                                                                        \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {                           \
            SWIFTBPF_PROBE_FIRE_(provider, name, 1, (uint64_t)(a1));            \
            STAP_PROBE1(provider, name, a1);                                    \
        }                                                                       \
    } while (0)
#define SWIFTBPF_PROBE2(provider, name, a1, a2)                                           \
    do {                                                                                  \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {                                     \
            SWIFTBPF_PROBE_FIRE_(provider, name, 2, (uint64_t)(a1), (uint64_t)(a2));      \
            STAP_PROBE2(provider, name, a1, a2);                                          \
        }                                                                                 \
    } while (0)
#define SWIFTBPF_PROBE3(provider, name, a1, a2, a3)                                                       \
    do {                                                                                                  \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {                                                     \
            SWIFTBPF_PROBE_FIRE_(provider, name, 3, (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3));      \
            STAP_PROBE3(provider, name, a1, a2, a3);                                                      \
        }                                                                                                 \
    } while (0)
#define SWIFTBPF_PROBE4(provider, name, a1, a2, a3, a4)                                                                   \
    do {                                                                                                                  \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {                                                                     \
            SWIFTBPF_PROBE_FIRE_(provider, name, 4, (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3), (uint64_t)(a4));      \
            STAP_PROBE4(provider, name, a1, a2, a3, a4);                                                                  \
        }                                                                                                                 \
    } while (0)
#define SWIFTBPF_PROBE5(provider, name, a1, a2, a3, a4, a5)                                                                               \
    do {                                                                                                                                  \
        if (SWIFTBPF_PROBE_ENABLED(provider, name)) {                                                                                     \
            SWIFTBPF_PROBE_FIRE_(provider, name, 5, (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3), (uint64_t)(a4), (uint64_t)(a5));      \
            STAP_PROBE5(provider, name, a1, a2, a3, a4, a5);                                                                              \
        }                                                                                                                                 \
    } while (0)

/// SwiftBPF's own site, swiftbpf:bench(a, b): what `swiftbpf bench --only probes` and the tests
/// trace. Fires once per call.
void swiftbpf_bench_probe(uint64_t a, uint64_t b);
SWIFTBPF_PROBE_DECLARE(swiftbpf, bench);

#endif
