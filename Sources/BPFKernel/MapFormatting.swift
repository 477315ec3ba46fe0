public import BTF

extension KernelMap {
    /// The types the map's key and value were declared with, read back from the kernel; nil
    /// when it was created without BTF.
    public func typeInformation() throws(KernelError) -> BTF? {
        let info = try Inventory.mapInfo(fd: fd)
        guard info.btfID != 0 else { return nil }
        let bytes = try KernelBTF.bytes(id: info.btfID)
        do { return try BTF(bytes: bytes) } catch {
            throw KernelError(command: "BTF of map \(info.id) (\(error))", errno: 22)
        }
    }

    /// Every entry as a JSON object decoded through `btf`, as bpftool prints an entry's
    /// "formatted" part: `key` (when the key has a type), then `value`, or for per-CPU maps
    /// `values`, one `{"cpu": N, "value": …}` per possible CPU.
    public func formattedEntries(_ btf: BTF) throws(KernelError) -> [String] {
        let keyType = definition.keyTypeID, valueType = definition.valueTypeID
        let stride = perCPUValueStride
        return try entries().map { entry in
            var fields: [String] = []
            if keyType != 0 { fields.append("\"key\":" + btf.json(entry.key, type: keyType)) }
            if valueType != 0 {
                if isPerCPU {
                    let values = (0..<(entry.value.count / max(stride, 1))).map { cpu in
                        "{\"cpu\":\(cpu),\"value\":" + btf.json(Array(entry.value[(cpu * stride)..<(cpu * stride + definition.valueSize)]), type: valueType)
                            + "}"
                    }
                    fields.append("\"values\":[" + values.joined(separator: ",") + "]")
                } else {
                    fields.append("\"value\":" + btf.json(entry.value, type: valueType))
                }
            }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }
}
