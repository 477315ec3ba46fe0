import BPFCore

/// The contexts of socket-level and cgroup programs, field by field as the kernel's
/// `is_valid_access` functions (`net/core/filter.c`, `kernel/bpf/cgroup.c`) decide them. Fields
/// that load a socket (`PTR_TO_SOCKET`) are refused: SwiftBPF does not model socket pointers.
extension ContextAccessRules {
    /// `bpf_ctx_narrow_access_ok`: a power-of-two width no wider than the field.
    private static func narrow(_ size: Int, _ field: Int) -> Bool { size <= field && size & (size - 1) == 0 }

    /// `bpf_ctx_wide_access_ok`: an aligned 8-byte access inside an array of u32 at `field`.
    private static func wide(_ off: Int64, _ size: Int, _ field: Range<Int64>) -> Bool {
        size == 8 && off >= field.lowerBound && off + 8 <= field.upperBound && off % 8 == 0
    }

    func socketLevel(_ off: Int64, _ size: Int, write: Bool, signExtending: Bool) -> Verdict {
        let allowed: Bool
        var pointer: ContextLayout.FieldKind?
        switch self {
        case .cgroupSock(let attach): allowed = Self.bpfSock(off, size, write: write, attach: attach)
        case .sockAddr(let attach): allowed = Self.sockAddr(off, size, write: write, attach: attach)
        case .sockOps: (allowed, pointer) = Self.sockOps(off, size, write: write)
        case .skMsg: (allowed, pointer) = Self.skMsg(off, size, write: write)
        case .skLookup: allowed = Self.skLookup(off, size, write: write)
        case .sockopt(let attach): (allowed, pointer) = Self.sockopt(off, size, write: write, attach: attach)
        case .sysctl:
            // write (0) read-only, file_pos (4) writable whole; narrow reads.
            guard off >= 0, off + Int64(size) <= 8, off % Int64(size) == 0 else { return .refused }
            allowed = write ? off == 4 && size == 4 : Self.narrow(size, 4)
        case .cgroupDevice:
            // access_type (0) narrow, major and minor whole; read only.
            guard !write, off >= 0, off + Int64(size) <= 12, off % Int64(size) == 0 else { return .refused }
            allowed = off < 4 ? Self.narrow(size, 4) : size == 4
        default: return .refused
        }
        guard allowed else { return .refused }
        if let pointer { return signExtending ? .refused : .pointer(pointer) }
        return .number
    }

    /// `struct bpf_sock` (80 bytes): `bpf_sock_is_valid_access`, then what the attach type
    /// allows (`__sock_filter_check_attach_type`).
    private static func bpfSock(_ off: Int64, _ size: Int, write: Bool, attach: AttachType?) -> Bool {
        guard off >= 0, off < 80, off % Int64(size) == 0 else { return false }
        switch off {
        case 4, 8, 12, 72, 76, 24..<28, 28..<44, 44, 52..<56, 56..<72:  // family … src_port, dst_ip4/6, state, rx_queue_mapping
            guard narrow(size, 4) else { return false }
        case 48..<50:  // dst_port: 4 bytes, or the u16
            guard narrow(size, size == 4 ? 4 : 2) else { return false }
        case 50..<52: return false
        default: guard size == 4 else { return false }
        }
        let createOrRelease = attach == nil || attach == .cgroupInetSockCreate || attach == .cgroupInetSockRelease
        switch off {
        case 0, 16, 20: return createOrRelease  // bound_dev_if, mark, priority
        case 24..<28: if attach != .cgroupInet4PostBind { return false }
        case 28..<44: if attach != .cgroupInet6PostBind { return false }
        case 44..<48: if attach != .cgroupInet4PostBind && attach != .cgroupInet6PostBind { return false }
        default: break
        }
        return !write
    }

    /// `struct bpf_sock_addr` (72 bytes): addresses by the attach type's family.
    private static func sockAddr(_ off: Int64, _ size: Int, write: Bool, attach: AttachType?) -> Bool {
        guard off >= 0, off < 72, off % Int64(size) == 0 else { return false }
        let userIP6: Range<Int64> = 8..<24, msgSrcIP6: Range<Int64> = 44..<60
        let family4: [AttachType] = [
            .cgroupInet4Bind, .cgroupInet4Connect, .cgroupInet4Getpeername, .cgroupInet4Getsockname, .cgroupUdp4Sendmsg, .cgroupUdp4Recvmsg,
        ]
        let family6: [AttachType] = [
            .cgroupInet6Bind, .cgroupInet6Connect, .cgroupInet6Getpeername, .cgroupInet6Getsockname, .cgroupUdp6Sendmsg, .cgroupUdp6Recvmsg,
        ]
        switch off {
        case 4..<8: guard let attach, family4.contains(attach) else { return false }
        case userIP6: guard let attach, family6.contains(attach) else { return false }
        case 40..<44: guard attach == .cgroupUdp4Sendmsg else { return false }
        case msgSrcIP6: guard attach == .cgroupUdp6Sendmsg else { return false }
        default: break
        }
        switch off {
        case 4..<28, 40..<60:  // user_ip4, user_ip6, user_port, msg_src_ip4, msg_src_ip6
            if wide(off, size, userIP6) || wide(off, size, msgSrcIP6) { return true }
            return write ? size == 4 : narrow(size, 4)
        case 64..<72: return false  // sk: PTR_TO_SOCKET, not modelled
        case 0..<4, 28..<40: return !write && size == 4  // user_family, family, type, protocol
        default: return false
        }
    }

    /// `struct bpf_sock_ops` (224 bytes): reply and sk_txhash writable; the packet's bytes
    /// through skb_data and skb_data_end.
    private static func sockOps(_ off: Int64, _ size: Int, write: Bool) -> (Bool, ContextLayout.FieldKind?) {
        guard off >= 0, off < 224, off % Int64(size) == 0 else { return (false, nil) }
        if write { return ((off == 4 || off == 164) && size == 4, nil) }
        switch off {
        case 168..<184, 216..<224: return (size == 8, nil)  // bytes_received, bytes_acked, skb_hwtstamp
        case 184..<192: return (false, nil)  // sk: PTR_TO_SOCKET_OR_NULL, not modelled
        case 192..<200: return (size == 8, .packet)
        case 200..<208: return (size == 8, .packetEnd)
        case 212: return (narrow(size, 4), nil)  // skb_tcp_flags
        default: return (size == 4, nil)
        }
    }

    /// `struct sk_msg_md` (80 bytes): read only; the message's bytes through data and data_end.
    private static func skMsg(_ off: Int64, _ size: Int, write: Bool) -> (Bool, ContextLayout.FieldKind?) {
        guard !write, off % Int64(size) == 0 else { return (false, nil) }
        switch off {
        case 0..<8: return (size == 8, .packet)
        case 8..<16: return (size == 8, .packetEnd)
        case 16..<72: return (size == 4, nil)
        default: return (false, nil)  // sk (72): PTR_TO_SOCKET, not modelled
        }
    }

    /// `struct bpf_sk_lookup` (72 bytes): read only.
    private static func skLookup(_ off: Int64, _ size: Int, write: Bool) -> Bool {
        guard off >= 0, off < 72, off % Int64(size) == 0, !write else { return false }
        switch off {
        case 0..<8: return false  // sk: PTR_TO_SOCKET_OR_NULL, not modelled
        case 8..<36, 40..<68: return narrow(size, 4)
        case 36..<38: return size == 4 || narrow(size, 2)  // remote_port, a __be16
        case 38..<40: return narrow(size, 2)  // its zero padding
        default: return false
        }
    }

    /// `struct bpf_sockopt` (40 bytes): the option's bytes through optval and optval_end;
    /// level and optname writable for setsockopt, retval for getsockopt.
    private static func sockopt(_ off: Int64, _ size: Int, write: Bool, attach: AttachType?) -> (Bool, ContextLayout.FieldKind?) {
        guard off >= 0, off < 40, off % Int64(size) == 0 else { return (false, nil) }
        if write {
            switch off {
            case 36: return (size == 4 && attach == .cgroupGetsockopt, nil)
            case 24, 28: return (size == 4 && attach == .cgroupSetsockopt, nil)
            case 32: return (size == 4, nil)
            default: return (false, nil)
            }
        }
        switch off {
        case 0..<8: return (false, nil)  // sk: PTR_TO_SOCKET, not modelled
        case 8..<16: return (size == 8, .packet)
        case 16..<24: return (size == 8, .packetEnd)
        case 36..<40: return (size == 4 && attach == .cgroupGetsockopt, nil)
        default: return (size == 4, nil)
        }
    }
}
