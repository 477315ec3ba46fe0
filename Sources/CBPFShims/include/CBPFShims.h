// Small C shims for SwiftBPF: what Swift cannot express directly.
//  - sequentially consistent atomics on raw addresses (BPF atomic instructions act on
//    arbitrary program memory: stack, map values, packet data);
//  - the bpf(2) system call (syscall() is variadic and not importable into Swift).
#ifndef CBPF_SHIMS_H
#define CBPF_SHIMS_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t cbpf_fetch_add64(void *p, uint64_t v) { return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cbpf_fetch_or64(void *p, uint64_t v) { return __atomic_fetch_or((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cbpf_fetch_and64(void *p, uint64_t v) { return __atomic_fetch_and((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cbpf_fetch_xor64(void *p, uint64_t v) { return __atomic_fetch_xor((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cbpf_xchg64(void *p, uint64_t v) { return __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cbpf_cmpxchg64(void *p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n((uint64_t *)p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

static inline uint32_t cbpf_fetch_add32(void *p, uint32_t v) { return __atomic_fetch_add((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_fetch_or32(void *p, uint32_t v) { return __atomic_fetch_or((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_fetch_and32(void *p, uint32_t v) { return __atomic_fetch_and((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_fetch_xor32(void *p, uint32_t v) { return __atomic_fetch_xor((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_xchg32(void *p, uint32_t v) { return __atomic_exchange_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_cmpxchg32(void *p, uint32_t expected, uint32_t desired) {
    __atomic_compare_exchange_n((uint32_t *)p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

/// The CPU the calling thread runs on (0 where the platform cannot tell).
unsigned int cbpf_current_cpu(void);

/// Binds the calling thread to one CPU, or with -1 lets it run on any. Returns 0 or -errno.
int cbpf_bind_thread_to_cpu(int cpu);

/// Takes one of count execution slots (the userspace runtime's CPUs) for the calling thread,
/// waiting while all are taken; a thread that holds one already gets it again with *nested set.
/// cbpf_current_cpu returns the slot while it is held. Returns the slot.
int cbpf_slot_acquire(unsigned int count, int *nested);

/// Gives back the slot cbpf_slot_acquire took (not one it returned as nested).
void cbpf_slot_release(int slot);

/// Adds delta to the 16-bit counter at address, atomically (a USDT semaphore).
void cbpf_atomic_add16(void *address, int delta);

/// Acquire loads and release stores, for memory shared with the kernel (some of it read-only,
/// where a read-modify-write would fault) and for lock-free readers of map chains.
static inline uint64_t cbpf_load_acquire64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE); }
static inline uint64_t cbpf_load_seq_cst64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST); }
static inline uint32_t cbpf_load_acquire32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE); }
static inline void cbpf_store_release64(void *p, uint64_t v) { __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE); }
static inline void cbpf_store_release32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE); }

/// The calling thread's id (gettid), as bpf_get_current_pid_tgid's low half reports it.
int cbpf_gettid(void);

/// bpf(2): returns the syscall's result, or -errno on failure. Always -ENOSYS off Linux.
long cbpf_sys_bpf(int cmd, void *attr, unsigned int size);


/// A program's type information for BPF_PROG_LOAD: the loaded BTF's fd, and func info (8-byte
/// records) and line info (16-byte records) indexed by instruction.
struct cbpf_prog_btf {
    int btf_fd;
    const void *func_info;
    uint32_t func_info_cnt;
    const void *line_info;
    uint32_t line_info_cnt;
};

/// BPF_PROG_LOAD of raw instructions, with type information when btf is not NULL, the expected
/// attach type, prog_flags and the vmlinux BTF id of what the program attaches to (fentry,
/// tp_btf, lsm; 0 for none). Returns the program fd or -errno. The verifier's log,
/// NUL-terminated, goes to log (log_size bytes) when log_level > 0.
int cbpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt, const char *license,
                   uint32_t log_level, char *log, uint32_t log_size, const char *name,
                   const struct cbpf_prog_btf *btf, uint32_t expected_attach_type, uint32_t prog_flags,
                   uint32_t attach_btf_id);

/// BPF_MAP_CREATE, with the key's and value's BTF types when btf_fd >= 0 (and for struct_ops maps
/// the vmlinux type of the struct implemented, else 0). Returns the map fd or -errno.
int cbpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                    uint32_t map_flags, const char *name, int btf_fd, uint32_t btf_key_type_id,
                    uint32_t btf_value_type_id, int inner_map_fd, uint32_t btf_vmlinux_value_type_id);

/// BPF_BTF_LOAD. Returns the BTF fd or -errno; the kernel's log as for cbpf_prog_load.
int cbpf_btf_load(const void *data, uint32_t size, uint32_t log_level, char *log, uint32_t log_size);

/// BPF_MAP_FREEZE: no more writes from user space. Returns 0 or -errno.
int cbpf_map_freeze(int fd);

/// The raw data of the kernel's BTF object `id` (BPF_BTF_GET_FD_BY_ID, then its info). size is
/// in/out: the buffer's capacity, then the data's size (which may exceed the capacity: call
/// again with a buffer that large). Returns 0 or -errno.
int cbpf_btf_data_by_id(uint32_t id, void *data, uint32_t *size);

/// BPF_MAP_LOOKUP_ELEM (1), BPF_MAP_UPDATE_ELEM (2), BPF_MAP_DELETE_ELEM (3),
/// BPF_MAP_GET_NEXT_KEY (4, with the next key written to value) and
/// BPF_MAP_LOOKUP_AND_DELETE_ELEM (21). Returns 0 or -errno.
int cbpf_map_elem(int cmd, int map_fd, const void *key, void *value, uint64_t flags);

/// BPF_MAP_LOOKUP_BATCH (24), BPF_MAP_LOOKUP_AND_DELETE_BATCH (25), BPF_MAP_UPDATE_BATCH (26) or
/// BPF_MAP_DELETE_BATCH (27) over *count packed keys and values; the kernel writes back how many
/// it did in *count, and for lookups the position to go on from in out_batch (pass it as
/// in_batch, NULL to start). Returns 0, -ENOENT after the last entry, or another -errno.
int cbpf_map_batch(int cmd, int map_fd, const void *in_batch, void *out_batch, void *keys, void *values,
                   uint32_t *count, uint64_t elem_flags);

/// BPF_PROG_TEST_RUN. Returns 0 or -errno; the program's r0, the mean ns per run, and the
/// output data's size (in/out: the capacity of data_out) are written back.
int cbpf_prog_test_run(int prog_fd, const void *data_in, uint32_t data_size, void *data_out,
                       uint32_t *data_size_out, uint32_t repeat, uint32_t *retval, uint32_t *duration);

/// perf_event_open(2) for a tracepoint id, on CPU 0 for every process (a BPF program attached to
/// it runs for every CPU). Returns the perf event fd or -errno.
int cbpf_perf_event_open_tracepoint(uint64_t tracepoint_id);

/// epoll_create1(EPOLL_CLOEXEC). Returns the epoll fd or -errno.
int cbpf_epoll_create(void);

/// Watches fd for input on epoll_fd; epoll_wait reports it as token. Returns 0 or -errno.
int cbpf_epoll_add(int epoll_fd, int fd, uint64_t token);

/// epoll_wait for up to timeout_ms (-1: no limit): writes the tokens of up to capacity (at most
/// 64) ready descriptors. Returns their number (0 on timeout or a signal) or -errno.
int cbpf_epoll_wait(int epoll_fd, uint64_t *tokens, int capacity, int timeout_ms);

/// perf_event_open(2) of a PERF_COUNT_SW_BPF_OUTPUT event on cpu for every process, enabled,
/// sampling raw records: what a BPF_MAP_TYPE_PERF_EVENT_ARRAY slot holds for
/// bpf_perf_event_output. Returns the perf event fd or -errno.
int cbpf_perf_event_open_bpf_output(int cpu);

/// perf_event_open(2) for a kprobe or uprobe through its dynamic PMU (pmu_type, from
/// /sys/bus/event_source/devices/{kprobe,uprobe}/type): name is the kernel function or the
/// binary's path, offset the offset into the function or the file; is_return sets the PMU's
/// retprobe bit (retprobe_bit). pid -1 probes every process. Returns the perf event fd or -errno.
int cbpf_perf_event_open_probe(uint32_t pmu_type, int retprobe_bit, int is_return, const char *name, uint64_t offset, int pid);

/// BPF_LINK_CREATE attaching prog_fd to the perf event perf_fd (BPF_PERF_EVENT). Returns the
/// link fd or -errno.
int cbpf_link_create_perf_event(int prog_fd, int perf_fd);

/// perf_event_open(2) of a uprobe at offset in the file at path, through the uprobe PMU
/// (pmu_type), with the kernel incrementing the 16-bit counter at file offset ref_ctr_offset
/// while it is attached (a USDT semaphore; 0: none), placed at bit ref_ctr_shift of config as
/// the PMU's format says. pid -1 probes every process. Returns the perf event fd or -errno.
int cbpf_perf_event_open_uprobe(uint32_t pmu_type, const char *path, uint64_t offset, uint64_t ref_ctr_offset, int ref_ctr_shift, int pid);

/// BPF_LINK_CREATE attaching prog_fd to the perf event perf_fd with a BPF cookie (what
/// bpf_get_attach_cookie returns in the program). Returns the link fd or -errno.
int cbpf_link_create_perf_event_cookie(int prog_fd, int perf_fd, uint64_t cookie);

/// BPF_LINK_UPDATE: the link runs new_prog_fd from now on, atomically; with old_prog_fd >= 0 only
/// if that is the program it runs now (BPF_F_REPLACE). Returns 0 or -errno.
int cbpf_link_update(int link_fd, int new_prog_fd, int old_prog_fd);

/// PERF_EVENT_IOC_SET_BPF then PERF_EVENT_IOC_ENABLE: runs prog_fd on the perf event's hits
/// until the perf event is closed (how programs were attached before perf_event bpf_links,
/// Linux 5.15). Returns 0 or -errno.
int cbpf_perf_event_set_bpf(int perf_fd, int prog_fd);

/// BPF_RAW_TRACEPOINT_OPEN: attaches prog_fd to the raw tracepoint `name`. Returns the fd or -errno.
int cbpf_raw_tracepoint_open(const char *name, int prog_fd);

/// BPF_LINK_CREATE attaching a program to interface ifindex with attach_type (BPF_XDP = 37,
/// BPF_TCX_INGRESS = 46, BPF_TCX_EGRESS = 47). Returns the link fd or -errno.
int cbpf_link_create_ifindex(int prog_fd, uint32_t ifindex, uint32_t attach_type);

/// rtnetlink RTM_SETLINK IFLA_XDP: attaches prog_fd (or detaches, with -1) as interface ifindex's
/// XDP program, with XDP_FLAGS_* flags; expected_fd >= 0 replaces only that program
/// (XDP_FLAGS_REPLACE). Returns 0 or -errno, with the kernel's extended-ack text in message.
int cbpf_netlink_xdp(uint32_t ifindex, int prog_fd, int expected_fd, uint32_t flags, char *message, uint32_t message_size);

/// rtnetlink RTM_NEWQDISC (create != 0, exclusive: -EEXIST when there is one) or RTM_DELQDISC of
/// interface ifindex's clsact qdisc. Returns 0 or -errno, with the kernel's text in message.
int cbpf_netlink_clsact(uint32_t ifindex, int create, char *message, uint32_t message_size);

/// rtnetlink RTM_NEWTFILTER (prog_fd >= 0: a direct-action `bpf` classifier named name) or
/// RTM_DELTFILTER (prog_fd < 0) at handle and priority under clsact's ingress or egress hook.
/// Returns 0 or -errno, with the kernel's text in message.
int cbpf_netlink_tc_filter(uint32_t ifindex, int egress, uint32_t handle, uint16_t priority, int prog_fd,
                           const char *name, char *message, uint32_t message_size);

/// mount -t tracefs nodev /sys/kernel/tracing. Returns 0 or -errno.
int cbpf_mount_tracefs(void);

/// BPF_OBJ_PIN: pins the map, program or link fd at path (in bpffs). Returns 0 or -errno.
int cbpf_obj_pin(int fd, const char *path);

/// BPF_OBJ_GET: opens what is pinned at path. Returns the fd or -errno.
int cbpf_obj_get(const char *path);

/// mount -t bpf bpf /sys/fs/bpf, unless bpffs is mounted there already. Returns 0 or -errno.
int cbpf_mount_bpffs(void);

/// The parts of struct bpf_map_info the CLI and loaders use.
struct cbpf_map_summary {
    uint32_t type, id, key_size, value_size, max_entries, flags;
    uint32_t btf_id, btf_key_type_id, btf_value_type_id;
    char name[16];
};

/// BPF_OBJ_GET_INFO_BY_FD for a map. Returns 0 or -errno.
int cbpf_map_info(int fd, struct cbpf_map_summary *summary);

/// BPF_PROG_GET_NEXT_ID (kind 0), BPF_MAP_GET_NEXT_ID (kind 1), BPF_LINK_GET_NEXT_ID (kind 2) or
/// BPF_BTF_GET_NEXT_ID (kind 3): the id after start_id, in next_id. Returns 0, or -ENOENT after
/// the last.
int cbpf_next_id(int kind, uint32_t start_id, uint32_t *next_id);

/// BPF_PROG_GET_FD_BY_ID (kind 0), BPF_MAP_GET_FD_BY_ID (kind 1), BPF_LINK_GET_FD_BY_ID (kind 2)
/// or BPF_BTF_GET_FD_BY_ID (kind 3). Returns the fd or -errno.
int cbpf_fd_by_id(int kind, uint32_t id);

/// BPF_OBJ_GET_INFO_BY_FD for a link: its type, id and program's id. Returns 0 or -errno.
/// The parts of struct bpf_link_info bpftool shows: the common fields, then by link type the
/// hook (raw tracepoint name; tracing, cgroup and netns attach type; cgroup id; netns inode;
/// XDP interface; tracing target).
struct cbpf_link_summary {
    uint32_t type, id, prog_id, attach_type, ifindex, netns_ino, target_obj_id, target_btf_id;
    uint64_t cgroup_id;
    char tp_name[128];
};

/// BPF_OBJ_GET_INFO_BY_FD for a link. Returns 0 or -errno.
int cbpf_link_info(int fd, struct cbpf_link_summary *summary);

/// BPF_OBJ_GET_INFO_BY_FD for a BTF object: its id, size, whether the kernel's own (vmlinux, a
/// module), and its name (into name, name_size bytes). Returns 0 or -errno.
int cbpf_btf_info(int fd, uint32_t *id, uint32_t *size, uint32_t *kernel, char *name, uint32_t name_size);

/// BPF_LINK_DETACH. Returns 0 or -errno.
int cbpf_link_detach(int fd);

/// The parts of struct bpf_prog_info the CLI shows.
struct cbpf_prog_summary {
    uint32_t type, id, xlated_len, jited_len, created_by_uid, nr_map_ids;
    uint32_t btf_id, nr_func_info, nr_line_info, gpl_compatible;
    uint32_t nr_jited_ksyms, nr_jited_func_lens, nr_jited_line_info;
    uint64_t load_time, run_time_ns, run_cnt;
    uint8_t tag[8];
    char name[16];
};

/// BPF_OBJ_GET_INFO_BY_FD for a program. Returns 0 or -errno.
int cbpf_prog_info(int fd, struct cbpf_prog_summary *summary);

/// BPF_OBJ_GET_INFO_BY_FD for a program's translated instructions (xlated_size bytes, as the
/// summary gave) and its map ids (map_count of them). Returns 0 or -errno.
int cbpf_prog_contents(int fd, void *xlated, uint32_t xlated_size, uint32_t *map_ids, uint32_t map_count);

/// BPF_OBJ_GET_INFO_BY_FD for a program's JIT image (image_size bytes), the kernel address of each
/// of its functions (nr_functions of them) with their lengths in bytes, and the address each BTF
/// line record starts at (nr_lines). Returns 0 or -errno.
int cbpf_prog_jited(int fd, uint8_t *image, uint32_t image_size, uint64_t *addresses, uint32_t *lengths, uint32_t nr_functions,
                    uint64_t *line_addresses, uint32_t nr_lines);

/// BPF_OBJ_GET_INFO_BY_FD for a program's BTF records, count of them: function records (lines
/// 0: 8 bytes each, instruction offset and FUNC type id) or line records (lines 1: 16 bytes
/// each, instruction offset, file name offset, line offset, line << 10 | column). Returns 0 or -errno.
int cbpf_prog_btf_records(int fd, int lines, uint32_t *records, uint32_t count);

/// BPF_PROG_TEST_RUN with a context (ctx_in) and no data, as raw tracepoints take it.
int cbpf_prog_test_run_context(int prog_fd, const void *ctx, uint32_t ctx_size, uint32_t *retval);

/// Pages for JIT-compiled code, mapped writable (on Apple arm64: MAP_JIT, written between
/// cbpf_jit_write_begin and cbpf_jit_write_end). NULL when the system refuses.
void *cbpf_jit_map(size_t size);

/// Makes this thread's JIT pages writable (Apple arm64: pthread_jit_write_protect_np(0)); no-op
/// elsewhere.
void cbpf_jit_write_begin(void);

/// Ends writing: the pages become executable and not writable (mprotect to read-execute, or on
/// Apple arm64 the thread's write protection back on), and the instruction cache is cleaned
/// over [start, start + length). Returns 0 or -errno.
int cbpf_jit_seal(void *start, size_t size, size_t length);

#endif
