public import BPFObject
import CBPFShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A map created in the running kernel, owning its file descriptor (closed on release).
public final class KernelMap {
    /// The map's file descriptor.
    public let fd: Int32
    /// What it was created from.
    public let definition: MapDefinition

    /// Creates the map with `BPF_MAP_CREATE`.
    public init(_ definition: MapDefinition) throws(KernelError) {
        let fd = cbpf_map_create(definition.type, UInt32(definition.keySize), UInt32(definition.valueSize),
                                 UInt32(definition.maxEntries), definition.flags, String(definition.name.prefix(15)))
        guard fd >= 0 else { throw KernelError(command: "BPF_MAP_CREATE (\(definition.name))", errno: -fd) }
        self.fd = fd
        self.definition = definition
    }

    deinit { close(fd) }
}
