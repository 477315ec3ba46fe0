/// The exec monitor `swiftbpf trace exec` loads: a `sys_enter_execve` tracepoint program that
/// sends one ring buffer record per `execve` on the machine (pid, uid, command name, file), kept
/// as C source the tool compiles with clang and prints with `trace exec --source` — the same text
/// as `Examples/ExecMonitor`'s `exec_monitor.bpf.c` (a test holds them equal).
package enum ExecMonitor {
    /// The C source (`exec_monitor.bpf.c`).
    package static let source = #"""
        /* The exec monitor: one ring buffer record per execve on the machine, with the process's pid,
         * uid, command name and the file it executes. Build: clang -O2 -g -target bpf -c ... */
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>

        /* The sys_enter tracepoint record: common fields, the syscall number, then its arguments
         * (/sys/kernel/tracing/events/syscalls/sys_enter_execve/format). */
        struct sys_enter_record {
        	unsigned long long common;
        	long syscall_nr;
        	unsigned long args[6];
        };

        // swiftbpf-types: exec_event
        struct exec_event {
        	__u32 pid;
        	__u32 uid;
        	char comm[16];
        	char filename[256];
        };

        /* Named by a global so the object's BTF has it (no map or global uses it otherwise): the
         * skeleton's ExecEvent. */
        struct exec_event *unused_exec_event __attribute__((unused));

        struct {
        	__uint(type, BPF_MAP_TYPE_RINGBUF);
        	__uint(max_entries, 256 * 1024);
        } events SEC(".maps");

        SEC("tp/syscalls/sys_enter_execve")
        int exec_monitor(struct sys_enter_record *ctx)
        {
        	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        	if (!e)
        		return 0;
        	e->pid = bpf_get_current_pid_tgid() >> 32;
        	e->uid = (__u32)bpf_get_current_uid_gid();
        	bpf_get_current_comm(e->comm, sizeof(e->comm));
        	if (bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]) < 0)
        		e->filename[0] = 0;
        	bpf_ringbuf_submit(e, 0);
        	return 0;
        }

        char LICENSE[] SEC("license") = "GPL";
        """#

    /// The object clang makes of it.
    package static func compile() throws(BPFCompiler.CompileError) -> [UInt8] {
        try BPFCompiler.compile(text: source, name: "exec_monitor.bpf.c")
    }

    /// The record it sends (`struct exec_event`): pid, uid, comm[16], filename[256].
    package static let recordSize = 280
}
