/// Malformed BTF: what is wrong and where (byte offset in the BTF blob, type id).
public struct BTFError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset inside the BTF data, when known.
    public var offset: Int?
    /// The type being read, when known.
    public var typeID: Int?
    /// What is wrong.
    public var message: String
    /// A CO-RE relocation the target has nothing for (a field, type or enumerator it lacks):
    /// libbpf then poisons the instruction rather than failing the program.
    package var unresolvable = false

    public init(offset: Int? = nil, typeID: Int? = nil, _ message: String) {
        self.offset = offset
        self.typeID = typeID
        self.message = message
    }

    public var description: String {
        var place: [String] = []
        if let typeID { place.append("type [\(typeID)]") }
        if let offset { place.append("BTF offset 0x\(String(offset, radix: 16))") }
        return place.isEmpty ? message : "\(place.joined(separator: ", ")): \(message)"
    }
}
