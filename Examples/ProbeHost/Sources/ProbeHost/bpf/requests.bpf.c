/* Counts the host's requests and their bytes, and samples every fourth into a ring buffer,
 * through libbpf's USDT conventions: the same object traced in process or by the kernel. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

// swiftbpf-types: request_sample
struct request_sample {
	__u64 id;
	__u64 size;
	char path[32];
};

/* Named by a global so that the object's BTF has it: the skeleton's RequestSample. */
struct request_sample *unused_request_sample __attribute__((unused));

struct totals {
	__u64 requests;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} samples SEC(".maps");

SEC("usdt")
int BPF_USDT(on_request, __u64 id, __u64 size, const char *path)
{
	__u32 zero = 0;
	struct totals *t = bpf_map_lookup_elem(&totals, &zero);
	if (t) {
		__sync_fetch_and_add(&t->requests, 1);
		__sync_fetch_and_add(&t->bytes, size);
	}
	if (id % 4 != 0)
		return 0;
	struct request_sample *s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s)
		return 0;
	s->id = id;
	s->size = size;
	bpf_probe_read_user_str(s->path, sizeof(s->path), path);
	bpf_ringbuf_submit(s, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
