/* Counts packets and bytes by IP protocol (0: not IPv4) in an array map, and passes them on. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct counter);
} by_protocol SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = 0;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == __builtin_bswap16(ETH_P_IP)) {
		__u8 *protocol = (__u8 *)(eth + 1) + 9;
		if ((void *)(protocol + 1) > end)
			return XDP_PASS;
		key = *protocol;
	}
	struct counter *c = bpf_map_lookup_elem(&by_protocol, &key);
	if (c) {
		c->packets++;
		c->bytes += end - data;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
