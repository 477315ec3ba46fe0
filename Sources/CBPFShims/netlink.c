// Attaching XDP and tc programs through rtnetlink: the interface kernels had before bpf_link
// (XDP before 5.9, tcx before 6.6), and the fallback loaders use on them.
#define _GNU_SOURCE
#include "CBPFShims.h"
#include <errno.h>
#include <string.h>

#if defined(__linux__)
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

struct request {
    struct nlmsghdr header;
    char payload[512];
};

static void *tail(struct request *r) { return (char *)&r->header + NLMSG_ALIGN(r->header.nlmsg_len); }

static struct nlattr *put(struct request *r, uint16_t type, const void *data, uint16_t size) {
    struct nlattr *a = tail(r);
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + size);
    if (size) memcpy((char *)a + NLA_HDRLEN, data, size);
    r->header.nlmsg_len = NLMSG_ALIGN(r->header.nlmsg_len) + NLA_ALIGN(a->nla_len);
    return a;
}

static void put_u32(struct request *r, uint16_t type, uint32_t v) { put(r, type, &v, sizeof(v)); }

static struct nlattr *begin_nested(struct request *r, uint16_t type) { return put(r, type | NLA_F_NESTED, NULL, 0); }

static void end_nested(struct request *r, struct nlattr *a) { a->nla_len = (uint16_t)((char *)tail(r) - (char *)a); }

/// Copies the extended ack's message (NLMSGERR_ATTR_MSG) of an error reply into message.
static void ack_message(const struct nlmsghdr *h, char *message, uint32_t message_size) {
    if (!message || !message_size) return;
    message[0] = 0;
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    size_t skip = sizeof(*e) + ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : e->msg.nlmsg_len - sizeof(e->msg));
    const char *p = (const char *)e + NLMSG_ALIGN(skip), *end = (const char *)h + h->nlmsg_len;
    while (p + NLA_HDRLEN <= end) {
        const struct nlattr *a = (const struct nlattr *)p;
        if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end) return;
        if ((a->nla_type & NLA_TYPE_MASK) == 1 /* NLMSGERR_ATTR_MSG */) {
            size_t n = a->nla_len - NLA_HDRLEN;
            if (n >= message_size) n = message_size - 1;
            memcpy(message, p + NLA_HDRLEN, n);
            message[n] = 0;
            return;
        }
        p += NLA_ALIGN(a->nla_len);
    }
}

/// Sends the request on a new NETLINK_ROUTE socket and waits for its acknowledgement.
/// Returns 0 or -errno, with the kernel's explanation in message when it gave one.
static int transact(struct request *r, char *message, uint32_t message_size) {
    if (message && message_size) message[0] = 0;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    r->header.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    r->header.nlmsg_seq = 1;
    int result = -EPROTO;
    if (sendto(fd, r, r->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        result = -errno;
        goto done;
    }
    char reply[8192] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n = recv(fd, reply, sizeof(reply), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            goto done;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 1) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) goto done;
                result = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                if (result) ack_message(h, message, message_size);
                goto done;
            }
        }
    }
done:
    close(fd);
    return result;
}

int cbpf_netlink_xdp(uint32_t ifindex, int prog_fd, int expected_fd, uint32_t flags, char *message, uint32_t message_size) {
    struct request r;
    memset(&r, 0, sizeof(r));
    r.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.header.nlmsg_type = RTM_SETLINK;
    struct ifinfomsg *info = NLMSG_DATA(&r.header);
    info->ifi_family = AF_UNSPEC;
    info->ifi_index = (int)ifindex;
    struct nlattr *xdp = begin_nested(&r, IFLA_XDP);
    put(&r, IFLA_XDP_FD, &prog_fd, sizeof(prog_fd));
    if (expected_fd >= 0) {
        flags |= XDP_FLAGS_REPLACE;
        put(&r, IFLA_XDP_EXPECTED_FD, &expected_fd, sizeof(expected_fd));
    }
    if (flags) put_u32(&r, IFLA_XDP_FLAGS, flags);
    end_nested(&r, xdp);
    return transact(&r, message, message_size);
}

static struct tcmsg *tc_header(struct request *r, uint16_t type, uint16_t flags, uint32_t ifindex) {
    memset(r, 0, sizeof(*r));
    r->header.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    r->header.nlmsg_type = type;
    r->header.nlmsg_flags = flags;
    struct tcmsg *tc = NLMSG_DATA(&r->header);
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = (int)ifindex;
    return tc;
}

int cbpf_netlink_clsact(uint32_t ifindex, int create, char *message, uint32_t message_size) {
    struct request r;
    struct tcmsg *tc = tc_header(&r, create ? RTM_NEWQDISC : RTM_DELQDISC, create ? NLM_F_CREATE | NLM_F_EXCL : 0, ifindex);
    tc->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    tc->tcm_parent = TC_H_CLSACT;
    put(&r, TCA_KIND, "clsact", sizeof("clsact"));
    return transact(&r, message, message_size);
}

int cbpf_netlink_tc_filter(uint32_t ifindex, int egress, uint32_t handle, uint16_t priority, int prog_fd,
                           const char *name, char *message, uint32_t message_size) {
    struct request r;
    int add = prog_fd >= 0;
    struct tcmsg *tc = tc_header(&r, add ? RTM_NEWTFILTER : RTM_DELTFILTER, add ? NLM_F_CREATE | NLM_F_EXCL : 0, ifindex);
    tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
    tc->tcm_handle = handle;
    tc->tcm_info = TC_H_MAKE((uint32_t)priority << 16, htons(0x0003 /* ETH_P_ALL */));
    if (add) {
        put(&r, TCA_KIND, "bpf", sizeof("bpf"));
        struct nlattr *options = begin_nested(&r, TCA_OPTIONS);
        put_u32(&r, TCA_BPF_FD, (uint32_t)prog_fd);
        if (name) put(&r, TCA_BPF_NAME, name, (uint16_t)(strnlen(name, 255) + 1));
        put_u32(&r, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        end_nested(&r, options);
    }
    return transact(&r, message, message_size);
}

#else
int cbpf_netlink_xdp(uint32_t ifindex, int prog_fd, int expected_fd, uint32_t flags, char *message, uint32_t message_size) {
    (void)ifindex; (void)prog_fd; (void)expected_fd; (void)flags; (void)message; (void)message_size;
    return -ENOSYS;
}
int cbpf_netlink_clsact(uint32_t ifindex, int create, char *message, uint32_t message_size) {
    (void)ifindex; (void)create; (void)message; (void)message_size;
    return -ENOSYS;
}
int cbpf_netlink_tc_filter(uint32_t ifindex, int egress, uint32_t handle, uint16_t priority, int prog_fd,
                           const char *name, char *message, uint32_t message_size) {
    (void)ifindex; (void)egress; (void)handle; (void)priority; (void)prog_fd; (void)name; (void)message; (void)message_size;
    return -ENOSYS;
}
#endif
