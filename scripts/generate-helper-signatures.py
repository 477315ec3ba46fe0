#!/usr/bin/env python3
"""Writes Sources/BPFCore/Kernel/HelperSignatures.swift: every helper's argument and return types
as the kernel declares them (`struct bpf_func_proto`), read from a kernel source tree.

Usage: scripts/generate-helper-signatures.py KERNEL_SOURCE_TREE
(for example the tree of Debian's linux-source package, unpacked). Helper ids and names come from
the tree's include/uapi/linux/bpf.h; a helper's prototype is the `bpf_func_proto` named
`bpf_<name>_proto` (the one most program types get), else the one whose `.func` is `bpf_<name>`.
"""
import re, sys, pathlib, subprocess

tree = pathlib.Path(sys.argv[1])
out = pathlib.Path(__file__).resolve().parent.parent / "Sources/BPFCore/Kernel/HelperSignatures.swift"

uapi = (tree / "include/uapi/linux/bpf.h").read_text()
mapper = re.search(r"#define ___BPF_FUNC_MAPPER\(FN, ctx\.\.\.\)(.*?)\n\n", uapi, re.S).group(1)
helpers = [(name, int(num)) for name, num in re.findall(r"FN\((\w+), (\d+), ##ctx\)", mapper)]

# The struct each BTF id list entry names: BTF_ID_LIST(name) with its BTF_ID(struct, x) lines,
# BTF_ID_LIST_SINGLE(name, struct, x), and the kernel's fixed lists (btf_tracing_ids,
# btf_sock_ids) by their enumerators.
btf_lists = {}
ids_header = (tree / "include/linux/btf_ids.h").read_text()
enum_structs = dict(re.findall(r"BTF_(?:TRACING|SOCK)_TYPE\((BTF_\w+), (\w+)\)", ids_header))
protos = {}
for path in sorted(tree.rglob("*.c")):
    text = path.read_text(errors="replace")
    for m in re.finditer(r"BTF_ID_LIST_SINGLE\((\w+), struct, (\w+)\)", text):
        btf_lists[m.group(1)] = [m.group(2)]
    for m in re.finditer(r"BTF_ID_LIST(?:_GLOBAL)?\((\w+)(?:, \d+)?\)\n((?:BTF_ID\(\w+, \w+\)\n)+)", text):
        btf_lists[m.group(1)] = [x if kind == "struct" else None for kind, x in re.findall(r"BTF_ID\((\w+), (\w+)\)", m.group(2))]
    for m in re.finditer(r"struct bpf_func_proto\s+(\w+)\s*=\s*\{(.*?)\n\};", text, re.S):
        fields = {}
        for f in re.finditer(r"\.(\w+)\s*=\s*([^,\n]+(?:\n\s*\|[^,\n]+)*)\s*,?", m.group(2)):
            fields[f.group(1)] = " ".join(f.group(2).split())
        protos.setdefault(m.group(1), (fields, path.relative_to(tree)))

BASES_ARG = ["DONTCARE", "CONST_MAP_PTR", "PTR_TO_MAP_KEY", "PTR_TO_MAP_VALUE", "PTR_TO_MEM", "PTR_TO_ARENA",
             "CONST_SIZE", "CONST_SIZE_OR_ZERO", "PTR_TO_CTX", "ANYTHING", "SCALAR", "PTR_TO_SPIN_LOCK",
             "PTR_TO_SOCK_COMMON", "PTR_TO_SOCKET", "PTR_TO_BTF_ID", "PTR_TO_RINGBUF_MEM",
             "CONST_ALLOC_SIZE_OR_ZERO", "PTR_TO_BTF_ID_SOCK_COMMON", "PTR_TO_PERCPU_BTF_ID", "PTR_TO_FUNC",
             "PTR_TO_STACK", "PTR_TO_CONST_STR", "PTR_TO_TIMER", "KPTR_XCHG_DEST", "PTR_TO_DYNPTR"]
ARG_ALIASES = {"PTR_TO_MAP_VALUE_OR_NULL": "MAYBE_NULL|PTR_TO_MAP_VALUE", "PTR_TO_MEM_OR_NULL": "MAYBE_NULL|PTR_TO_MEM",
               "PTR_TO_CTX_OR_NULL": "MAYBE_NULL|PTR_TO_CTX", "PTR_TO_SOCKET_OR_NULL": "MAYBE_NULL|PTR_TO_SOCKET",
               "PTR_TO_STACK_OR_NULL": "MAYBE_NULL|PTR_TO_STACK", "PTR_TO_BTF_ID_OR_NULL": "MAYBE_NULL|PTR_TO_BTF_ID",
               "PTR_TO_UNINIT_MEM": "MEM_UNINIT|MEM_WRITE|PTR_TO_MEM", "PTR_TO_FIXED_SIZE_MEM": "MEM_FIXED_SIZE|PTR_TO_MEM"}
BASES_RET = ["INTEGER", "VOID", "PTR_TO_MAP_VALUE", "PTR_TO_SOCKET", "PTR_TO_TCP_SOCK", "PTR_TO_SOCK_COMMON",
             "PTR_TO_MEM", "PTR_TO_MEM_OR_BTF_ID", "PTR_TO_BTF_ID"]
RET_ALIASES = {"PTR_TO_MAP_VALUE_OR_NULL": "MAYBE_NULL|PTR_TO_MAP_VALUE", "PTR_TO_SOCKET_OR_NULL": "MAYBE_NULL|PTR_TO_SOCKET",
               "PTR_TO_TCP_SOCK_OR_NULL": "MAYBE_NULL|PTR_TO_TCP_SOCK", "PTR_TO_SOCK_COMMON_OR_NULL": "MAYBE_NULL|PTR_TO_SOCK_COMMON",
               "PTR_TO_RINGBUF_MEM_OR_NULL": "MAYBE_NULL|MEM_RINGBUF|PTR_TO_MEM",
               "PTR_TO_DYNPTR_MEM_OR_NULL": "MAYBE_NULL|PTR_TO_MEM", "PTR_TO_BTF_ID_OR_NULL": "MAYBE_NULL|PTR_TO_BTF_ID",
               "PTR_TO_BTF_ID_TRUSTED": "PTR_TRUSTED|PTR_TO_BTF_ID"}
FLAGS = {"PTR_MAYBE_NULL": "maybeNull", "MAYBE_NULL": "maybeNull", "MEM_RDONLY": "readOnly", "MEM_RINGBUF": "ringBuffer",
         "MEM_USER": "user", "MEM_PERCPU": "perCPU", "OBJ_RELEASE": "release", "PTR_UNTRUSTED": "untrusted",
         "MEM_UNINIT": "uninitialized", "DYNPTR_TYPE_LOCAL": "dynptrLocal", "DYNPTR_TYPE_RINGBUF": "dynptrRingBuffer",
         "MEM_FIXED_SIZE": "fixedSize", "MEM_ALLOC": "allocated", "PTR_TRUSTED": "trusted", "MEM_RCU": "rcu",
         "DYNPTR_TYPE_SKB": "dynptrSKB", "DYNPTR_TYPE_XDP": "dynptrXDP", "MEM_ALIGNED": "aligned", "MEM_WRITE": "write"}

# Helpers whose prototypes all carry another name: the variant the table takes.
FALLBACK = {"probe_read": "bpf_probe_read_compat_proto", "probe_read_str": "bpf_probe_read_compat_str_proto",
            "setsockopt": "bpf_sock_ops_setsockopt_proto", "getsockopt": "bpf_sock_ops_getsockopt_proto",
            "redirect_map": "bpf_xdp_redirect_map_proto", "fib_lookup": "bpf_skb_fib_lookup_proto",
            "lwt_push_encap": "bpf_lwt_in_push_encap_proto", "sk_select_reuseport": "sk_select_reuseport_proto",
            "get_netns_cookie": "bpf_get_netns_cookie_sock_proto", "load_hdr_opt": "bpf_sock_ops_load_hdr_opt_proto",
            "store_hdr_opt": "bpf_sock_ops_store_hdr_opt_proto", "reserve_hdr_opt": "bpf_sock_ops_reserve_hdr_opt_proto",
            "check_mtu": "bpf_skb_check_mtu_proto", "get_func_ip": "bpf_get_func_ip_proto_tracing"}

def camel(snake):
    parts = snake.lower().split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])

def swift_type(expr, prefix, bases, aliases):
    base, flags = None, []
    for term in [t.strip() for t in expr.split("|")]:
        if term.startswith(prefix) and term[len(prefix):] in aliases:
            term = aliases[term[len(prefix):]]
            for t in term.split("|"):
                if t in FLAGS: flags.append(FLAGS[t])
                else: base = t
            continue
        if term in FLAGS:
            flags.append(FLAGS[term])
        elif term.startswith(prefix) and term[len(prefix):] in bases:
            base = term[len(prefix):]
        else:
            raise SystemExit("unknown type term %r in %r" % (term, expr))
    flagtext = "[" + ", ".join("." + f for f in sorted(set(flags))) + "]"
    return ".%s" % camel(base.replace("PTR_TO_", "POINTER_TO_").replace("CONST_", "CONSTANT_")), flagtext

def size_of(expr):
    sizes = {"u64": 8, "s64": 8, "u32": 4, "s32": 4, "long": 8, "int": 4, "u16": 2, "u8": 1, "struct bpf_timer": 16, "struct iphdr": 20, "struct ipv6hdr": 40, "struct tcphdr": 20}
    m = re.fullmatch(r"sizeof\((.+)\)", expr.strip())
    if not m: raise SystemExit("size %r" % expr)
    inner = m.group(1).strip()
    if inner not in sizes: raise SystemExit("size %r" % expr)
    return sizes[inner]

def btf_struct(expr):
    """The struct an `argN_btf_id` names, or None where it names none this script resolves."""
    m = re.fullmatch(r"&(\w+)\[(\w+)\]", expr.strip()) or re.fullmatch(r"&(\w+)()", expr.strip())
    if not m: return None
    name, index = m.group(1), m.group(2) or "0"
    if index in enum_structs: return enum_structs[index]
    entries = btf_lists.get(name)
    return entries[int(index)] if entries and index.isdigit() and int(index) < len(entries) else None

def entry(f):
    args = []
    for i in range(1, 6):
        expr = f.get("arg%d_type" % i)
        if expr is None: break
        base, flags = swift_type(expr, "ARG_", BASES_ARG, ARG_ALIASES)
        size = f.get("arg%d_size" % i)
        struct = btf_struct(f["arg%d_btf_id" % i]) if "arg%d_btf_id" % i in f else None
        args.append(".init(%s, %s%s%s)" % (base, flags, ", size: %d" % size_of(size) if size else "",
                                          ', btfStruct: "%s"' % struct if struct else ""))
    ret, rflags = swift_type(f.get("ret_type", "RET_INTEGER"), "RET_", BASES_RET, RET_ALIASES)
    flag = lambda key: "true" if f.get(key, "false") == "true" else "false"
    return (".init(result: .init(%s, %s), arguments: [%s], gplOnly: %s, packetAccess: %s, mightSleep: %s),"
            % (ret, rflags, ", ".join(args), flag("gpl_only"), flag("pkt_access"), flag("might_sleep")))

# Helpers whose prototype for tracing (and LSM) programs differs in its types from the one the
# table takes (tracing_prog_func_proto's choices).
TRACING_VARIANTS = {"get_socket_cookie": "bpf_get_socket_ptr_cookie_proto"}

lines = ["// Generated by scripts/generate-helper-signatures.py from a Linux source tree's bpf_func_proto",
         "// definitions; do not edit.", "",
         "extension HelperSignature {",
         "    /// Every helper's signature, indexed by helper id; nil where the tree defines no prototype.",
         "    static let kernel: [HelperSignature?] = ["]
missing = []
for name, num in helpers:
    if num == 0:
        lines.append("        // 0 unspec"); lines.append("        nil,"); continue
    chosen = protos.get(FALLBACK.get(name, "bpf_%s_proto" % name))
    if chosen is None:
        chosen = next((p for p in protos.values() if p[0].get("func") == "bpf_%s" % name), None)
    if chosen is None:
        lines.append("        // %d %s: no prototype in this tree" % (num, name)); lines.append("        nil,"); missing.append(name); continue
    f, path = chosen
    lines.append("        // %d %s (%s)" % (num, name, path))
    lines.append("        " + entry(f))
lines += ["    ]", ""]
lines += ["    /// Tracing and LSM programs' signatures where they differ from the table's, by helper id.",
          "    static let tracingVariants: [Int32: HelperSignature] = ["]
for name, proto in TRACING_VARIANTS.items():
    num = dict(helpers)[name]
    lines.append("        // %s (%s)" % (name, proto))
    lines.append("        %d: %s" % (num, entry(protos[proto][0])))
lines += ["    ]", "}", ""]
out.write_text("\n".join(lines))
subprocess.run(["swift", "format", "format", "-i", str(out)], check=True)
print("wrote %s: %d helpers, %d without a prototype (%s)" % (out, len(helpers) - 1, len(missing), ", ".join(missing)))
