import BPFMaps
import CBPFShims
import BPFPlatform

/// Reads what programs send with `bpf_perf_event_output` into a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`:
/// one `PERF_COUNT_SW_BPF_OUTPUT` event per online CPU, put in the map's slot for that CPU, each
/// with a ring of pages mapped from the kernel. Records are handed over in place (copied only
/// when one wraps the end of its ring); records the kernel dropped on a full ring are counted in
/// ``lost``. Releasing the reader empties the map's slots.
public final class KernelPerfBuffer {
    private struct Ring {
        let cpu: Int
        let event: Descriptor
        var fd: Int32 { event.rawValue }
        let page: UnsafeMutableRawPointer
        let data: UnsafeMutableRawPointer
        let size: UInt64
    }

    private let map: KernelMap
    private var rings: [Ring] = []
    private let mappingSize: Int
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
    /// Records the kernel could not write because a ring was full, as it reported them.
    public private(set) var lost: UInt64 = 0

    /// Opens a ring of `pagesPerCPU` pages (a power of two) for every online CPU the map has a
    /// slot for, and puts its event in that slot.
    public init(_ map: KernelMap, pagesPerCPU: Int = 64) throws(KernelError) {
        guard map.definition.type == .perfEventArray else {
            throw KernelError(command: "perf buffer (\(map.definition.name) is not a perf event array)", errno: EINVAL)
        }
        guard pagesPerCPU > 0, pagesPerCPU & (pagesPerCPU - 1) == 0 else {
            throw KernelError(command: "perf buffer (\(pagesPerCPU) pages per CPU is not a power of two)", errno: EINVAL)
        }
        self.map = map
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        mappingSize = pageSize * (1 + pagesPerCPU)
        for cpu in 0..<min(PossibleCPUs.count, map.definition.maxEntries) {
            let fd = cbpf_perf_event_open_bpf_output(Int32(cpu))
            if fd == -ENODEV { continue }  // a possible CPU that is offline
            guard fd >= 0 else { throw KernelError(command: "perf_event_open (BPF output, CPU \(cpu))", errno: -fd) }
            let event = Descriptor(adopting: fd)
            guard let page = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), page != MAP_FAILED else {
                let e = errno
                throw KernelError(command: "mmap (perf buffer, CPU \(cpu))", errno: e)
            }
            // struct perf_event_mmap_page: data_offset and data_size (Linux 4.1+; else page 1 on).
            let offset = page.load(fromByteOffset: 1040, as: UInt64.self), size = page.load(fromByteOffset: 1048, as: UInt64.self)
            rings.append(
                Ring(
                    cpu: cpu, event: event, page: page, data: page + Int(offset == 0 ? UInt64(pageSize) : offset),
                    size: size == 0 ? UInt64(pageSize * pagesPerCPU) : size))
            try map.update(slot(cpu), slot(UInt32(fd)))
        }
    }

    deinit {
        for ring in rings {
            try? map.delete(slot(ring.cpu))
            munmap(ring.page, mappingSize)
        }
        scratch.deallocate()
    }

    /// Each ring's CPU and perf event descriptor (readable when it has records), for a poller.
    public var descriptors: [(cpu: Int, fd: Int32)] { rings.map { ($0.cpu, $0.fd) } }

    /// Waits up to `milliseconds` for records on any CPU's ring. Returns whether there are some.
    public func wait(milliseconds: Int32) -> Bool {
        var descriptors = rings.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        return poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0
    }

    /// Hands every record on every CPU's ring to `body` with its CPU, in order per CPU, then
    /// releases them. The bytes are valid only inside `body`; they are the program's data,
    /// padded by the kernel so that with its 32-bit size word it fills 8-byte units — and so
    /// only 4-byte aligned. Returns the number of records.
    @discardableResult
    public func consume(_ body: (_ cpu: Int, _ bytes: UnsafeRawBufferPointer) -> Void) -> Int {
        var count = 0
        for index in rings.indices { count += consume(ring: index, body) }
        return count
    }

    /// The same for the ring at `index` in ``descriptors``.
    @discardableResult
    public func consume(ring index: Int, _ body: (_ cpu: Int, _ bytes: UnsafeRawBufferPointer) -> Void) -> Int {
        let ring = rings[index]
        let head = cbpf_load_acquire64(ring.page + 1024)  // data_head
        var tail = ring.page.load(fromByteOffset: 1032, as: UInt64.self)  // data_tail, ours
        var count = 0
        while tail < head {
            // Records are 8-byte aligned in a ring of 2^n pages, so a header never wraps.
            let offset = Int(tail % ring.size)
            let type = (ring.data + offset).load(as: UInt32.self)
            let size = Int((ring.data + offset + 6).load(as: UInt16.self))
            guard size >= 8 else { break }  // not a record: stop rather than spin
            var record = UnsafeRawPointer(ring.data + offset)
            let firstPart = Int(ring.size) - offset
            if size > firstPart {
                scratch.copyMemory(from: record, byteCount: firstPart)
                (scratch + firstPart).copyMemory(from: ring.data, byteCount: size - firstPart)
                record = UnsafeRawPointer(scratch)
            }
            switch type {
            case 9 where size >= 12:  // PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW: u32 size, bytes
                let rawSize = min(Int(record.load(fromByteOffset: 8, as: UInt32.self)), size - 12)
                body(ring.cpu, UnsafeRawBufferPointer(start: record + 12, count: rawSize))
                count += 1
            case 2 where size >= 24:  // PERF_RECORD_LOST: u64 id, u64 lost
                lost &+= record.load(fromByteOffset: 16, as: UInt64.self)
            default:
                break
            }
            tail += UInt64(size)
        }
        cbpf_store_release64(ring.page + 1032, tail)
        return count
    }
}

private func slot<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { Array($0) }
}
