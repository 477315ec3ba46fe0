/// What a helper argument must be, as the kernel's `bpf_func_proto` says: the verifier proves
/// these statically; the interpreter's checked mode tests them before each call.
public enum HelperArgument: Sendable, Equatable {
    /// Any value.
    case anything
    /// A map the program uses.
    case map
    /// Memory holding a key of the map in r1.
    case mapKey
    /// Memory holding a value of the map in r1.
    case mapValue
    /// Memory the helper fills with a value of the map in r1.
    case writableMapValue
    /// Memory the helper reads, as many bytes as argument `size` (1-based register) says.
    case readable(size: Int)
    /// Memory the helper writes, as many bytes as argument `size` says.
    case writable(size: Int)
    /// Memory the helper reads, or NULL (then with a size of zero).
    case readableOrNull(size: Int)
    /// The size of the memory argument before it: a bounded number, never negative, and more
    /// than zero unless `zeroAllowed` (`ARG_CONST_SIZE`, `ARG_CONST_SIZE_OR_ZERO`).
    case size(zeroAllowed: Bool)
    /// A size that must be a known constant: what the helper allocates
    /// (`ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    case allocationSize
    /// A ring buffer record the program reserved, handed back (`ARG_PTR_TO_RINGBUF_MEM`).
    case record
    /// The program's context.
    case context
    /// The `struct bpf_spin_lock` field of a map value: 4 bytes, written by the helper.
    case spinLock
}

/// Argument kinds of the helpers the userspace runtime provides, by kernel helper id.
public enum HelperPrototypes {
    /// The arguments of helper `id` (r1 first), or nil for a helper with no prototype here.
    public static func arguments(of id: Int32) -> [HelperArgument]? {
        switch id {
        case 1, 3: [.map, .mapKey]                                       // map_lookup_elem, map_delete_elem
        case 2: [.map, .mapKey, .mapValue, .anything]                    // map_update_elem
        case 4, 112, 113, 45, 114, 115: [.writable(size: 2), .size(zeroAllowed: true), .anything]  // probe_read*, probe_read*_str
        case 12: [.context, .map, .anything]                             // tail_call
        case 87: [.map, .mapValue, .anything]                            // map_push_elem
        case 88, 89: [.map, .writableMapValue]                           // map_pop_elem, map_peek_elem
        case 6: [.readable(size: 2), .size(zeroAllowed: false)]          // trace_printk: r3-r5 as the format needs
        case 177: [.readable(size: 2), .size(zeroAllowed: false), .readableOrNull(size: 4), .size(zeroAllowed: true)]  // trace_vprintk
        case 5, 7, 8, 14, 15, 125, 160: []                               // time, random, cpu, pid/uid
        case 16: [.writable(size: 2), .size(zeroAllowed: false)]         // get_current_comm
        case 23: [.anything, .anything]                                  // redirect
        case 28: [.readableOrNull(size: 2), .size(zeroAllowed: true), .readableOrNull(size: 4), .size(zeroAllowed: true), .anything]  // csum_diff
        case 44, 65: [.context, .anything]                               // xdp_adjust_head, xdp_adjust_tail
        case 130: [.map, .readable(size: 3), .size(zeroAllowed: true), .anything]  // ringbuf_output
        case 131: [.map, .allocationSize, .anything]                     // ringbuf_reserve
        case 132, 133: [.record, .anything]                              // ringbuf_submit/discard
        case 134: [.map, .anything]                                      // ringbuf_query
        case 93, 94: [.spinLock]                                         // spin_lock, spin_unlock
        default: nil
        }
    }

    /// Whether helper `id` may be passed pointers into the packet (the kernel's
    /// `bpf_func_proto.pkt_access`): map_lookup/update/delete_elem, map_push_elem, csum_diff.
    public static func acceptsPacketPointers(_ id: Int32) -> Bool {
        [1, 2, 3, 87, 28].contains(id)
    }
}
