#define _GNU_SOURCE
#include "CBPFShims.h"
#include <errno.h>

/* Execution slots: the userspace runtime's CPUs. A thread holds one while it runs programs, as
 * a kernel program holds its CPU; per-CPU maps index by it. */
#include <stdatomic.h>
#include <sched.h>

#define CBPF_SLOT_LIMIT 4096
static struct { _Alignas(64) atomic_uint busy; } cbpf_slots[CBPF_SLOT_LIMIT];
static atomic_uint cbpf_next_preferred;
static _Thread_local int cbpf_slot_held = -1;
static _Thread_local int cbpf_slot_preferred = -1;

static int cbpf_held_slot(void) { return cbpf_slot_held; }

int cbpf_slot_acquire(unsigned int count, int *nested) {
    if (cbpf_slot_held >= 0) {
        *nested = 1;
        return cbpf_slot_held;
    }
    *nested = 0;
    if (count == 0) count = 1;
    if (count > CBPF_SLOT_LIMIT) count = CBPF_SLOT_LIMIT;
    if (cbpf_slot_preferred < 0 || (unsigned int)cbpf_slot_preferred >= count)
        cbpf_slot_preferred = (int)(atomic_fetch_add(&cbpf_next_preferred, 1) % count);
    unsigned int start = (unsigned int)cbpf_slot_preferred;
    unsigned int expected = 0;
    /* The slot this thread had last: free unless another thread runs there now. */
    if (atomic_compare_exchange_strong_explicit(&cbpf_slots[start].busy, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
        cbpf_slot_held = (int)start;
        return (int)start;
    }
    for (;;) {
        for (unsigned int i = 0, s = start; i < count; i++, s = s + 1 == count ? 0 : s + 1) {
            expected = 0;
            if (atomic_load_explicit(&cbpf_slots[s].busy, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong_explicit(&cbpf_slots[s].busy, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
                cbpf_slot_held = (int)s;
                cbpf_slot_preferred = (int)s;
                return (int)s;
            }
        }
        sched_yield();
    }
}

void cbpf_slot_release(int slot) {
    cbpf_slot_held = -1;
    atomic_store_explicit(&cbpf_slots[slot].busy, 0, memory_order_release);
}

void cbpf_atomic_add16(void *address, int delta) { __atomic_fetch_add((uint16_t *)address, (uint16_t)delta, __ATOMIC_SEQ_CST); }


#if defined(__linux__)
#include <sched.h>

unsigned int cbpf_current_cpu(void) {
    int held = cbpf_held_slot();
    if (held >= 0) return (unsigned int)held;
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : (unsigned int)cpu;
}

int cbpf_bind_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0) {
        if (cpu >= CPU_SETSIZE) return -EINVAL;
        CPU_SET(cpu, &set);
    } else {
        for (int i = 0; i < CPU_SETSIZE; i++) CPU_SET(i, &set);
    }
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}
#else
unsigned int cbpf_current_cpu(void) {
    int held = cbpf_held_slot();
    return held >= 0 ? (unsigned int)held : 0;
}
int cbpf_bind_thread_to_cpu(int cpu) { (void)cpu; return -ENOSYS; }
#endif

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

long cbpf_sys_bpf(int cmd, void *attr, unsigned int size) {
    long r = syscall(__NR_bpf, cmd, attr, size);
    return r < 0 ? -(long)errno : r;
}
#else
long cbpf_sys_bpf(int cmd, void *attr, unsigned int size) {
    (void)cmd; (void)attr; (void)size;
    return -ENOSYS;
}
#endif

#if defined(__linux__)
#include <linux/bpf.h>
#include <string.h>

int cbpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt, const char *license,
                   uint32_t log_level, char *log, uint32_t log_size, const char *name,
                   const struct cbpf_prog_btf *btf, uint32_t expected_attach_type, uint32_t prog_flags,
                   uint32_t attach_btf_id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = prog_type;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = insn_cnt;
    attr.license = (uint64_t)(uintptr_t)license;
    attr.expected_attach_type = expected_attach_type;
    attr.prog_flags = prog_flags;
    attr.attach_btf_id = attach_btf_id;
    if (log && log_size) {
        attr.log_level = log_level;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
    }
    if (name) strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
    if (btf && btf->btf_fd >= 0) {
        attr.prog_btf_fd = (uint32_t)btf->btf_fd;
        attr.func_info_rec_size = 8;
        attr.func_info = (uint64_t)(uintptr_t)btf->func_info;
        attr.func_info_cnt = btf->func_info_cnt;
        attr.line_info_rec_size = 16;
        attr.line_info = (uint64_t)(uintptr_t)btf->line_info;
        attr.line_info_cnt = btf->line_info_cnt;
    }
    return (int)cbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
}

int cbpf_btf_load(const void *data, uint32_t size, uint32_t log_level, char *log, uint32_t log_size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.btf = (uint64_t)(uintptr_t)data;
    attr.btf_size = size;
    if (log && log_size) {
        attr.btf_log_level = log_level;
        attr.btf_log_buf = (uint64_t)(uintptr_t)log;
        attr.btf_log_size = log_size;
    }
    return (int)cbpf_sys_bpf(BPF_BTF_LOAD, &attr, sizeof(attr));
}

int cbpf_map_freeze(int fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = (uint32_t)fd;
    return (int)cbpf_sys_bpf(BPF_MAP_FREEZE, &attr, sizeof(attr));
}

int cbpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                    uint32_t map_flags, const char *name, int btf_fd, uint32_t btf_key_type_id,
                    uint32_t btf_value_type_id, int inner_map_fd, uint32_t btf_vmlinux_value_type_id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = map_type;
    attr.key_size = key_size;
    attr.value_size = value_size;
    attr.max_entries = max_entries;
    attr.map_flags = map_flags;
    if (name) strncpy(attr.map_name, name, sizeof(attr.map_name) - 1);
    if (btf_fd >= 0) {
        attr.btf_fd = (uint32_t)btf_fd;
        attr.btf_key_type_id = btf_key_type_id;
        attr.btf_value_type_id = btf_value_type_id;
    }
    if (inner_map_fd >= 0) attr.inner_map_fd = (uint32_t)inner_map_fd;
    attr.btf_vmlinux_value_type_id = btf_vmlinux_value_type_id;
    return (int)cbpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
}

int cbpf_gettid(void) { return (int)syscall(SYS_gettid); }

int cbpf_map_batch(int cmd, int map_fd, const void *in_batch, void *out_batch, void *keys, void *values,
                   uint32_t *count, uint64_t elem_flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.batch.map_fd = (uint32_t)map_fd;
    attr.batch.in_batch = (uint64_t)(uintptr_t)in_batch;
    attr.batch.out_batch = (uint64_t)(uintptr_t)out_batch;
    attr.batch.keys = (uint64_t)(uintptr_t)keys;
    attr.batch.values = (uint64_t)(uintptr_t)values;
    attr.batch.count = *count;
    attr.batch.elem_flags = elem_flags;
    int r = (int)cbpf_sys_bpf(cmd, &attr, sizeof(attr));
    *count = attr.batch.count;
    return r;
}

int cbpf_map_elem(int cmd, int map_fd, const void *key, void *value, uint64_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)key;
    attr.value = (uint64_t)(uintptr_t)value;
    attr.flags = flags;
    return (int)cbpf_sys_bpf(cmd, &attr, sizeof(attr));
}

int cbpf_prog_test_run(int prog_fd, const void *data_in, uint32_t data_size, void *data_out,
                       uint32_t *data_size_out, uint32_t repeat, uint32_t *retval, uint32_t *duration) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.test.prog_fd = prog_fd;
    attr.test.data_in = (uint64_t)(uintptr_t)data_in;
    attr.test.data_size_in = data_size;
    attr.test.data_out = (uint64_t)(uintptr_t)data_out;
    attr.test.data_size_out = data_size_out ? *data_size_out : 0;
    attr.test.repeat = repeat;
    long r = cbpf_sys_bpf(BPF_PROG_TEST_RUN, &attr, sizeof(attr));
    if (r < 0) return (int)r;
    if (retval) *retval = attr.test.retval;
    if (duration) *duration = attr.test.duration;
    if (data_size_out) *data_size_out = attr.test.data_size_out;
    return 0;
}
int cbpf_prog_test_run_context(int prog_fd, const void *ctx, uint32_t ctx_size, uint32_t *retval) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.test.prog_fd = prog_fd;
    attr.test.ctx_in = (uint64_t)(uintptr_t)ctx;
    attr.test.ctx_size_in = ctx_size;
    long r = cbpf_sys_bpf(BPF_PROG_TEST_RUN, &attr, sizeof(attr));
    if (r < 0) return (int)r;
    if (retval) *retval = attr.test.retval;
    return 0;
}
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/vfs.h>

/// perf_event_open(2) of attr (its size filled in) for pid on cpu. Returns the fd or -errno.
static int open_perf_event(struct perf_event_attr *attr, int pid, int cpu) {
    attr->size = sizeof(*attr);
    long r = syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    return r < 0 ? -errno : (int)r;
}

int cbpf_perf_event_open_tracepoint(uint64_t tracepoint_id) {
    struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .config = tracepoint_id, .sample_period = 1, .wakeup_events = 1 };
    return open_perf_event(&attr, -1 /* any process */, 0 /* cpu */);
}

int cbpf_perf_event_open_bpf_output(int cpu) {
    struct perf_event_attr attr = {
        .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_BPF_OUTPUT, .sample_type = PERF_SAMPLE_RAW,
        .sample_period = 1, .wakeup_events = 1,
    };
    return open_perf_event(&attr, -1 /* any process */, cpu);
}

int cbpf_perf_event_open_probe(uint32_t pmu_type, int retprobe_bit, int is_return, const char *name, uint64_t offset, int pid) {
    struct perf_event_attr attr = {
        .type = pmu_type,
        .config = is_return && retprobe_bit >= 0 ? 1ull << retprobe_bit : 0,
        .config1 = (uint64_t)(uintptr_t)name,  /* kprobe_func or uprobe_path */
        .config2 = offset,                      /* probe_offset */
    };
    return open_perf_event(&attr, pid < 0 ? -1 : pid, pid < 0 ? 0 : -1);
}

int cbpf_perf_event_open_uprobe(uint32_t pmu_type, const char *path, uint64_t offset, uint64_t ref_ctr_offset, int ref_ctr_shift, int pid) {
    struct perf_event_attr attr = {
        .type = pmu_type,
        .config = ref_ctr_offset << ref_ctr_shift,
        .config1 = (uint64_t)(uintptr_t)path,
        .config2 = offset,
    };
    return open_perf_event(&attr, pid < 0 ? -1 : pid, pid < 0 ? 0 : -1);
}

int cbpf_link_create_perf_event_cookie(int prog_fd, int perf_fd, uint64_t cookie) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (uint32_t)prog_fd;
    attr.link_create.target_fd = (uint32_t)perf_fd;
    attr.link_create.attach_type = BPF_PERF_EVENT;
    attr.link_create.perf_event.bpf_cookie = cookie;
    return (int)cbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
}

int cbpf_link_update(int link_fd, int new_prog_fd, int old_prog_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_update.link_fd = (uint32_t)link_fd;
    attr.link_update.new_prog_fd = (uint32_t)new_prog_fd;
    if (old_prog_fd >= 0) {
        attr.link_update.old_prog_fd = (uint32_t)old_prog_fd;
        attr.link_update.flags = BPF_F_REPLACE;
    }
    return (int)cbpf_sys_bpf(BPF_LINK_UPDATE, &attr, sizeof(attr));
}

#include <sys/epoll.h>

int cbpf_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cbpf_epoll_add(int epoll_fd, int fd, uint64_t token) {
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int cbpf_epoll_wait(int epoll_fd, uint64_t *tokens, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int n = epoll_wait(epoll_fd, events, capacity, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

int cbpf_link_create_perf_event(int prog_fd, int perf_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (uint32_t)prog_fd;
    attr.link_create.target_fd = (uint32_t)perf_fd;
    attr.link_create.attach_type = BPF_PERF_EVENT;
    return (int)cbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
}

int cbpf_perf_event_set_bpf(int perf_fd, int prog_fd) {
    if (ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0) return -errno;
    return ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0) == 0 ? 0 : -errno;
}

int cbpf_raw_tracepoint_open(const char *name, int prog_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.raw_tracepoint.name = (uint64_t)(uintptr_t)name;
    attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
    return (int)cbpf_sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
}

int cbpf_link_create_ifindex(int prog_fd, uint32_t ifindex, uint32_t attach_type) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (uint32_t)prog_fd;
    attr.link_create.target_ifindex = ifindex;
    attr.link_create.attach_type = attach_type;  /* numbers, as older headers lack the tcx ones */
    return (int)cbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
}

int cbpf_mount_tracefs(void) {
    return mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 ? 0 : -errno;
}

int cbpf_obj_pin(int fd, const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.pathname = (uint64_t)(uintptr_t)path;
    attr.bpf_fd = (uint32_t)fd;
    return (int)cbpf_sys_bpf(BPF_OBJ_PIN, &attr, sizeof(attr));
}

int cbpf_obj_get(const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.pathname = (uint64_t)(uintptr_t)path;
    return (int)cbpf_sys_bpf(BPF_OBJ_GET, &attr, sizeof(attr));
}

int cbpf_mount_bpffs(void) {
    struct statfs info;
    if (statfs("/sys/fs/bpf", &info) == 0 && info.f_type == BPF_FS_MAGIC) return 0;
    return mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) == 0 ? 0 : -errno;
}

int cbpf_next_id(int kind, uint32_t start_id, uint32_t *next_id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.start_id = start_id;
    static const int commands[] = {BPF_PROG_GET_NEXT_ID, BPF_MAP_GET_NEXT_ID, BPF_LINK_GET_NEXT_ID, BPF_BTF_GET_NEXT_ID};
    if (kind < 0 || kind > 3) return -EINVAL;
    long r = cbpf_sys_bpf(commands[kind], &attr, sizeof(attr));
    if (r < 0) return (int)r;
    *next_id = attr.next_id;
    return 0;
}

int cbpf_fd_by_id(int kind, uint32_t id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    static const int commands[] = {BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID, BPF_LINK_GET_FD_BY_ID, BPF_BTF_GET_FD_BY_ID};
    if (kind < 0 || kind > 3) return -EINVAL;
    if (kind == 0) attr.prog_id = id; else if (kind == 1) attr.map_id = id; else if (kind == 2) attr.link_id = id; else attr.btf_id = id;
    return (int)cbpf_sys_bpf(commands[kind], &attr, sizeof(attr));
}

int cbpf_link_detach(int fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_detach.link_fd = (uint32_t)fd;
    return (int)cbpf_sys_bpf(BPF_LINK_DETACH, &attr, sizeof(attr));
}

/* BPF_OBJ_GET_INFO_BY_FD into an info struct the caller prepared (pointers to fill). */
static long obj_info_keep(int fd, void *info, uint32_t size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)fd;
    attr.info.info_len = size;
    attr.info.info = (uint64_t)(uintptr_t)info;
    return cbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
}

/* The same into a zeroed info struct of `size` bytes. */
static long obj_info(int fd, void *info, uint32_t size) {
    memset(info, 0, size);
    return obj_info_keep(fd, info, size);
}

int cbpf_prog_info(int fd, struct cbpf_prog_summary *summary) {
    struct bpf_prog_info info;
    long r = obj_info(fd, &info, sizeof(info));
    if (r < 0) return (int)r;
    summary->type = info.type; summary->id = info.id; summary->xlated_len = info.xlated_prog_len;
    summary->jited_len = info.jited_prog_len; summary->created_by_uid = info.created_by_uid;
    summary->nr_map_ids = info.nr_map_ids; summary->load_time = info.load_time;
    summary->btf_id = info.btf_id; summary->nr_func_info = info.nr_func_info; summary->nr_line_info = info.nr_line_info;
    summary->nr_jited_ksyms = info.nr_jited_ksyms; summary->nr_jited_func_lens = info.nr_jited_func_lens;
    summary->nr_jited_line_info = info.nr_jited_line_info;
    summary->gpl_compatible = info.gpl_compatible; summary->run_time_ns = info.run_time_ns; summary->run_cnt = info.run_cnt;
    memcpy(summary->tag, info.tag, 8);
    memcpy(summary->name, info.name, 16);
    return 0;
}

int cbpf_prog_contents(int fd, void *xlated, uint32_t xlated_size, uint32_t *map_ids, uint32_t map_count) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    info.xlated_prog_insns = (uint64_t)(uintptr_t)xlated;
    info.xlated_prog_len = xlated_size;
    info.map_ids = (uint64_t)(uintptr_t)map_ids;
    info.nr_map_ids = map_count;
    long r = obj_info_keep(fd, &info, sizeof(info));
    return r < 0 ? (int)r : 0;
}

int cbpf_prog_jited(int fd, uint8_t *image, uint32_t image_size, uint64_t *addresses, uint32_t *lengths, uint32_t nr_functions,
                    uint64_t *line_addresses, uint32_t nr_lines) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    info.jited_prog_insns = (uint64_t)(uintptr_t)image;
    info.jited_prog_len = image_size;
    info.jited_ksyms = (uint64_t)(uintptr_t)addresses;
    info.nr_jited_ksyms = nr_functions;
    info.jited_func_lens = (uint64_t)(uintptr_t)lengths;
    info.nr_jited_func_lens = nr_functions;
    info.jited_line_info = (uint64_t)(uintptr_t)line_addresses;
    info.nr_jited_line_info = nr_lines;
    info.jited_line_info_rec_size = sizeof(uint64_t);
    long r = obj_info_keep(fd, &info, sizeof(info));
    return r < 0 ? (int)r : 0;
}

int cbpf_prog_btf_records(int fd, int lines, uint32_t *records, uint32_t count) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    if (lines) {
        info.line_info = (uint64_t)(uintptr_t)records;
        info.nr_line_info = count;
        info.line_info_rec_size = 16;
    } else {
        info.func_info = (uint64_t)(uintptr_t)records;
        info.nr_func_info = count;
        info.func_info_rec_size = 8;
    }
    long r = obj_info_keep(fd, &info, sizeof(info));
    return r < 0 ? (int)r : 0;
}

int cbpf_link_info(int fd, struct cbpf_link_summary *summary) {
    struct bpf_link_info info;
    memset(summary, 0, sizeof(*summary));
    /* The union's fields are inputs too (buffers for names) for some link types: asked zeroed
       first, then again with a buffer for a raw tracepoint's name. */
    long r = obj_info(fd, &info, sizeof(info));
    if (r < 0) return (int)r;
    if (info.type == BPF_LINK_TYPE_RAW_TRACEPOINT) {
        memset(&info, 0, sizeof(info));
        info.raw_tracepoint.tp_name = (uint64_t)(uintptr_t)summary->tp_name;
        info.raw_tracepoint.tp_name_len = sizeof(summary->tp_name);
        r = obj_info_keep(fd, &info, sizeof(info));
        if (r < 0) return (int)r;
    }
    summary->type = info.type; summary->id = info.id; summary->prog_id = info.prog_id;
    switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT: break; /* the name is in tp_name already */
    case BPF_LINK_TYPE_TRACING:
        summary->attach_type = info.tracing.attach_type;
        summary->target_obj_id = info.tracing.target_obj_id;
        summary->target_btf_id = info.tracing.target_btf_id;
        break;
    case BPF_LINK_TYPE_CGROUP:
        summary->cgroup_id = info.cgroup.cgroup_id;
        summary->attach_type = info.cgroup.attach_type;
        break;
    case BPF_LINK_TYPE_NETNS:
        summary->netns_ino = info.netns.netns_ino;
        summary->attach_type = info.netns.attach_type;
        break;
    case BPF_LINK_TYPE_XDP: summary->ifindex = info.xdp.ifindex; break;
    default: break;
    }
    return 0;
}

int cbpf_btf_info(int fd, uint32_t *id, uint32_t *size, uint32_t *kernel, char *name, uint32_t name_size) {
    struct bpf_btf_info info;
    memset(&info, 0, sizeof(info));
    info.name = (uint64_t)(uintptr_t)name;
    info.name_len = name_size;
    long r = obj_info_keep(fd, &info, sizeof(info));
    if (r < 0) return (int)r;
    *id = info.id; *size = info.btf_size; *kernel = info.kernel_btf;
    return 0;
}

int cbpf_map_info(int fd, struct cbpf_map_summary *summary) {
    struct bpf_map_info info;
    long r = obj_info(fd, &info, sizeof(info));
    if (r < 0) return (int)r;
    summary->type = info.type; summary->id = info.id; summary->key_size = info.key_size;
    summary->value_size = info.value_size; summary->max_entries = info.max_entries; summary->flags = info.map_flags;
    summary->btf_id = info.btf_id; summary->btf_key_type_id = info.btf_key_type_id;
    summary->btf_value_type_id = info.btf_value_type_id;
    memcpy(summary->name, info.name, sizeof(info.name));
    return 0;
}

int cbpf_btf_data_by_id(uint32_t id, void *data, uint32_t *size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.btf_id = id;
    int fd = (int)cbpf_sys_bpf(BPF_BTF_GET_FD_BY_ID, &attr, sizeof(attr));
    if (fd < 0) return fd;
    struct bpf_btf_info info;
    memset(&info, 0, sizeof(info));
    info.btf = (uint64_t)(uintptr_t)data;
    info.btf_size = *size;
    long r = obj_info_keep(fd, &info, sizeof(info));
    close(fd);
    if (r < 0) return (int)r;
    *size = info.btf_size;
    return 0;
}
#else
int cbpf_perf_event_open_tracepoint(uint64_t tracepoint_id) { (void)tracepoint_id; return -ENOSYS; }
int cbpf_perf_event_open_probe(uint32_t pmu_type, int retprobe_bit, int is_return, const char *name, uint64_t offset, int pid) {
    (void)pmu_type; (void)retprobe_bit; (void)is_return; (void)name; (void)offset; (void)pid;
    return -ENOSYS;
}
int cbpf_link_create_perf_event(int prog_fd, int perf_fd) { (void)prog_fd; (void)perf_fd; return -ENOSYS; }
int cbpf_perf_event_open_uprobe(uint32_t pmu_type, const char *path, uint64_t offset, uint64_t ref_ctr_offset, int ref_ctr_shift, int pid) {
    (void)pmu_type; (void)path; (void)offset; (void)ref_ctr_offset; (void)ref_ctr_shift; (void)pid;
    return -ENOSYS;
}
int cbpf_link_create_perf_event_cookie(int prog_fd, int perf_fd, uint64_t cookie) { (void)prog_fd; (void)perf_fd; (void)cookie; return -ENOSYS; }
int cbpf_link_update(int link_fd, int new_prog_fd, int old_prog_fd) { (void)link_fd; (void)new_prog_fd; (void)old_prog_fd; return -ENOSYS; }
int cbpf_perf_event_set_bpf(int perf_fd, int prog_fd) { (void)perf_fd; (void)prog_fd; return -ENOSYS; }
int cbpf_mount_tracefs(void) { return -ENOSYS; }
int cbpf_perf_event_open_bpf_output(int cpu) { (void)cpu; return -ENOSYS; }
int cbpf_epoll_create(void) { return -ENOSYS; }
int cbpf_epoll_add(int epoll_fd, int fd, uint64_t token) { (void)epoll_fd; (void)fd; (void)token; return -ENOSYS; }
int cbpf_epoll_wait(int epoll_fd, uint64_t *tokens, int capacity, int timeout_ms) {
    (void)epoll_fd; (void)tokens; (void)capacity; (void)timeout_ms;
    return -ENOSYS;
}
int cbpf_link_create_ifindex(int prog_fd, uint32_t ifindex, uint32_t attach_type) { (void)prog_fd; (void)ifindex; (void)attach_type; return -ENOSYS; }
int cbpf_raw_tracepoint_open(const char *name, int prog_fd) { (void)name; (void)prog_fd; return -ENOSYS; }
int cbpf_obj_pin(int fd, const char *path) { (void)fd; (void)path; return -ENOSYS; }

int cbpf_mount_bpffs(void) { return -ENOSYS; }
int cbpf_next_id(int kind, uint32_t start_id, uint32_t *next_id) { (void)kind; (void)start_id; (void)next_id; return -ENOSYS; }
int cbpf_fd_by_id(int kind, uint32_t id) { (void)kind; (void)id; return -ENOSYS; }
int cbpf_prog_info(int fd, struct cbpf_prog_summary *summary) { (void)fd; (void)summary; return -ENOSYS; }
int cbpf_prog_contents(int fd, void *xlated, uint32_t xlated_size, uint32_t *map_ids, uint32_t map_count) {
    (void)fd; (void)xlated; (void)xlated_size; (void)map_ids; (void)map_count;
    return -ENOSYS;
}
int cbpf_prog_btf_records(int fd, int lines, uint32_t *records, uint32_t count) {
    (void)fd; (void)lines; (void)records; (void)count;
    return -ENOSYS;
}
int cbpf_prog_jited(int fd, uint8_t *image, uint32_t image_size, uint64_t *addresses, uint32_t *lengths, uint32_t nr_functions,
                    uint64_t *line_addresses, uint32_t nr_lines) {
    (void)fd; (void)image; (void)image_size; (void)addresses; (void)lengths; (void)nr_functions; (void)line_addresses; (void)nr_lines;
    return -ENOSYS;
}
int cbpf_link_info(int fd, struct cbpf_link_summary *summary) { (void)fd; (void)summary; return -ENOSYS; }
int cbpf_link_detach(int fd) { (void)fd; return -ENOSYS; }
int cbpf_btf_info(int fd, uint32_t *id, uint32_t *size, uint32_t *kernel, char *name, uint32_t name_size) {
    (void)fd; (void)id; (void)size; (void)kernel; (void)name; (void)name_size;
    return -ENOSYS;
}
int cbpf_obj_get(const char *path) { (void)path; return -ENOSYS; }
int cbpf_map_info(int fd, struct cbpf_map_summary *summary) { (void)fd; (void)summary; return -ENOSYS; }

int cbpf_prog_test_run_context(int prog_fd, const void *ctx, uint32_t ctx_size, uint32_t *retval) {
    (void)prog_fd; (void)ctx; (void)ctx_size; (void)retval;
    return -ENOSYS;
}

int cbpf_gettid(void) { return 0; }
int cbpf_map_batch(int cmd, int map_fd, const void *in_batch, void *out_batch, void *keys, void *values,
                   uint32_t *count, uint64_t elem_flags) {
    (void)cmd; (void)map_fd; (void)in_batch; (void)out_batch; (void)keys; (void)values; (void)elem_flags;
    *count = 0;
    return -ENOSYS;
}

int cbpf_map_elem(int cmd, int map_fd, const void *key, void *value, uint64_t flags) {
    (void)cmd; (void)map_fd; (void)key; (void)value; (void)flags;
    return -ENOSYS;
}

int cbpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                    uint32_t map_flags, const char *name, int btf_fd, uint32_t btf_key_type_id,
                    uint32_t btf_value_type_id, int inner_map_fd, uint32_t btf_vmlinux_value_type_id) {
    (void)map_type; (void)key_size; (void)value_size; (void)max_entries; (void)map_flags; (void)name;
    (void)btf_fd; (void)btf_key_type_id; (void)btf_value_type_id; (void)inner_map_fd; (void)btf_vmlinux_value_type_id;
    return -ENOSYS;
}

int cbpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt, const char *license,
                   uint32_t log_level, char *log, uint32_t log_size, const char *name,
                   const struct cbpf_prog_btf *btf, uint32_t expected_attach_type, uint32_t prog_flags,
                   uint32_t attach_btf_id) {
    (void)prog_type; (void)insns; (void)insn_cnt; (void)license; (void)log_level; (void)log; (void)log_size; (void)name; (void)btf;
    (void)expected_attach_type; (void)prog_flags; (void)attach_btf_id;
    return -ENOSYS;
}

int cbpf_btf_load(const void *data, uint32_t size, uint32_t log_level, char *log, uint32_t log_size) {
    (void)data; (void)size; (void)log_level; (void)log; (void)log_size;
    return -ENOSYS;
}
int cbpf_map_freeze(int fd) { (void)fd; return -ENOSYS; }
int cbpf_btf_data_by_id(uint32_t id, void *data, uint32_t *size) { (void)id; (void)data; (void)size; return -ENOSYS; }

int cbpf_prog_test_run(int prog_fd, const void *data_in, uint32_t data_size, void *data_out,
                       uint32_t *data_size_out, uint32_t repeat, uint32_t *retval, uint32_t *duration) {
    (void)prog_fd; (void)data_in; (void)data_size; (void)data_out; (void)data_size_out; (void)repeat; (void)retval; (void)duration;
    return -ENOSYS;
}
#endif

/* JIT pages, W^X on every system: Linux (and other systems) map read-write, then mprotect
   read-execute; Apple arm64 maps MAP_JIT pages, writable per thread between the toggles. The
   instruction cache is cleaned before the code runs (a no-op on x86-64). */
#include <sys/mman.h>
#if defined(__APPLE__) && defined(__aarch64__)
#include <libkern/OSCacheControl.h>
#include <pthread.h>

void *cbpf_jit_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANON | MAP_JIT, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
void cbpf_jit_write_begin(void) { pthread_jit_write_protect_np(0); }
int cbpf_jit_seal(void *start, size_t size, size_t length) {
    (void)size;
    pthread_jit_write_protect_np(1);
    sys_icache_invalidate(start, length);
    return 0;
}
#else
void *cbpf_jit_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
void cbpf_jit_write_begin(void) {}
int cbpf_jit_seal(void *start, size_t size, size_t length) {
    if (mprotect(start, size, PROT_READ | PROT_EXEC) != 0) return -errno;
    __builtin___clear_cache((char *)start, (char *)start + length);
    return 0;
}
#endif
