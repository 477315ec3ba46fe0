#!/usr/bin/env python3
"""Writes Sources/BPFCore/Kernel/KernelFunctionRules.swift: for every kernel function programs
may call (kfunc), its flags (`BTF_ID_FLAGS(func, name, KF_...)`) and the kfunc hooks its sets are
registered for (`register_btf_kfunc_id_set(BPF_PROG_TYPE_..., &set)`), read from a kernel source
tree. Neither is in the kernel's BTF: the prototypes are, and the verifier reads them there.

Usage: scripts/generate-kernel-function-rules.py KERNEL_SOURCE_TREE
(for example the tree of Debian's linux-source package, unpacked). Sets registered through a
variable program type, and kfuncs of sets with a `.filter` (which narrows them further at load
time), are written as such so that the verifier does not claim what it cannot know.
"""
import re, sys, pathlib, subprocess

tree = pathlib.Path(sys.argv[1])
out = pathlib.Path(__file__).resolve().parent.parent / "Sources/BPFCore/Kernel/KernelFunctionRules.swift"

# bpf_prog_type_to_kfunc_hook (kernel/bpf/btf.c): which hook a program type's registration fills.
btf_c = (tree / "kernel/bpf/btf.c").read_text()
body = re.search(r"static int bpf_prog_type_to_kfunc_hook\(enum bpf_prog_type prog_type\)\n\{(.*?)\n\}", btf_c, re.S).group(1)
hook_of = {}
pending = []
for line in body.splitlines():
    m = re.match(r"\s*case BPF_PROG_TYPE_(\w+):", line)
    if m:
        pending.append(m.group(1))
    m = re.match(r"\s*return BTF_KFUNC_HOOK_(\w+);", line)
    if m:
        for p in pending:
            hook_of[p] = m.group(1)
        pending = []

FLAGS = {"KF_ACQUIRE": "acquire", "KF_RELEASE": "release", "KF_RET_NULL": "returnsNull", "KF_TRUSTED_ARGS": "trustedArguments",
         "KF_SLEEPABLE": "sleepable", "KF_DESTRUCTIVE": "destructive", "KF_RCU": "rcu", "KF_ITER_NEW": "iteratorNew",
         "KF_ITER_NEXT": "iteratorNext", "KF_ITER_DESTROY": "iteratorDestroy", "KF_RCU_PROTECTED": "rcuProtected",
         "KF_FASTCALL": "fastCall"}

kfuncs = {}      # name -> set of flag names (union over the sets that list it)
members = {}     # set list name -> [kfunc names]
kfunc_sets = {}  # btf_kfunc_id_set name -> (list name, filtered)
hooks = {}       # list name -> set of hooks
for path in sorted(tree.rglob("*.c")):
    if any(part in ("tools", "samples") for part in path.relative_to(tree).parts):
        continue
    text = path.read_text(errors="replace")
    if "BTF_KFUNCS_START" not in text and "register_btf_kfunc_id_set" not in text:
        continue
    for m in re.finditer(r"BTF_(?:KFUNCS|SET8)_START\((\w+)\)(.*?)BTF_(?:KFUNCS|SET8)_END\(\1\)", text, re.S):
        names = members.setdefault(m.group(1), [])
        for f in re.finditer(r"BTF_ID_FLAGS\(func,\s*(\w+)(?:,\s*([^)]*))?\)", m.group(2)):
            flags = {FLAGS[x.strip()] for x in (f.group(2) or "").split("|") if x.strip() in FLAGS}
            kfuncs.setdefault(f.group(1), set()).update(flags)
            names.append(f.group(1))
    for m in re.finditer(r"struct btf_kfunc_id_set\s+(\w+)\s*=\s*\{(.*?)\};", text, re.S):
        s = re.search(r"\.set\s*=\s*&(\w+)", m.group(2))
        if s:
            kfunc_sets[m.group(1)] = (s.group(1), ".filter" in m.group(2))
    for m in re.finditer(r"register_btf_kfunc_id_set\(\s*BPF_PROG_TYPE_(\w+),\s*&(\w+)\)", text):
        hooks.setdefault(m.group(2), set()).add(hook_of.get(m.group(1), "MAX"))

# The kfuncs verifier.c treats specially (special_kfunc_list): their rules are the verifier's own.
verifier_c = (tree / "kernel/bpf/verifier.c").read_text()
special_list = re.search(r"BTF_ID_LIST\(special_kfunc_list\)\n(.*?)\n\n", verifier_c, re.S).group(1)
special = set(re.findall(r"BTF_ID\(func, (\w+)\)", special_list))

available = {}  # kfunc -> set of hooks
filtered = set()
for set_name, registered in hooks.items():
    if set_name not in kfunc_sets:
        continue
    list_name, has_filter = kfunc_sets[set_name]
    for name in members.get(list_name, []):
        if has_filter:
            filtered.add(name)
        else:
            available.setdefault(name, set()).update(h for h in registered if h != "MAX")

HOOK_CASE = {"COMMON": "common", "XDP": "xdp", "TC": "tc", "STRUCT_OPS": "structOps", "TRACING": "tracing", "SYSCALL": "syscall",
             "FMODRET": "fmodRet", "CGROUP": "cgroup", "SCHED_ACT": "schedAct", "SK_SKB": "skSKB", "SOCKET_FILTER": "socketFilter",
             "LWT": "lwt", "NETFILTER": "netfilter", "KPROBE": "kprobe"}
PROG_CASE = {"UNSPEC": "unspec", "SOCKET_FILTER": "socketFilter", "KPROBE": "kprobe", "SCHED_CLS": "schedCLS", "SCHED_ACT": "schedACT",
             "TRACEPOINT": "tracepoint", "XDP": "xdp", "PERF_EVENT": "perfEvent", "CGROUP_SKB": "cgroupSKB", "CGROUP_SOCK": "cgroupSock",
             "LWT_IN": "lwtIn", "LWT_OUT": "lwtOut", "LWT_XMIT": "lwtXmit", "SOCK_OPS": "sockOps", "SK_SKB": "skSKB",
             "CGROUP_DEVICE": "cgroupDevice", "SK_MSG": "skMsg", "RAW_TRACEPOINT": "rawTracepoint", "CGROUP_SOCK_ADDR": "cgroupSockAddr",
             "LWT_SEG6LOCAL": "lwtSeg6Local", "LIRC_MODE2": "lircMode2", "SK_REUSEPORT": "skReuseport", "FLOW_DISSECTOR": "flowDissector",
             "CGROUP_SYSCTL": "cgroupSysctl", "RAW_TRACEPOINT_WRITABLE": "rawTracepointWritable", "CGROUP_SOCKOPT": "cgroupSockopt",
             "TRACING": "tracing", "STRUCT_OPS": "structOps", "EXT": "ext", "LSM": "lsm", "SK_LOOKUP": "skLookup", "SYSCALL": "syscall",
             "NETFILTER": None}

lines = [
    "// Generated by scripts/generate-kernel-function-rules.py from a kernel source tree; do not edit.",
    "// Each kernel function's BTF_ID_FLAGS and the kfunc hooks its sets are registered for.",
    "",
    "extension KernelFunctionRule {",
    "    /// The kfunc hook each program type's calls are checked against (`bpf_prog_type_to_kfunc_hook`).",
    "    static let hookOfProgramType: [ProgramType: KernelFunctionHooks] = [",
]
for prog, hook in sorted(hook_of.items()):
    if PROG_CASE.get(prog) and hook in HOOK_CASE:
        lines.append(f"        .{PROG_CASE[prog]}: .{HOOK_CASE[hook]},")
lines += ["    ]", "", "    /// By kfunc name.", "    static let table: [String: KernelFunctionRule] = ["]
for name in sorted(kfuncs):
    flags = ", ".join("." + f for f in sorted(kfuncs[name]))
    hook_list = ", ".join("." + HOOK_CASE[h] for h in sorted(available.get(name, ())))
    extra = (", filtered: true" if name in filtered else "") + (", special: true" if name in special else "")
    lines.append(f"        \"{name}\": .init(flags: [{flags}], hooks: [{hook_list}]{extra}),")
lines += ["    ]", "}", ""]
out.write_text("\n".join(lines))
subprocess.run(["swift", "format", "format", "-i", str(out)], check=True)
print(f"{out}: {len(kfuncs)} kernel functions, {len(filtered)} filtered, {len(special & set(kfuncs))} special")
