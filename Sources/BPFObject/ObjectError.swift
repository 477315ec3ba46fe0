/// A malformed or unsupported object file: what is wrong and where.
public struct ObjectError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The section involved, when there is one.
    public var section: String?
    /// Byte offset in the file, when known.
    public var offset: Int?
    /// What is wrong.
    public var message: String

    public init(section: String? = nil, offset: Int? = nil, _ message: String) {
        self.section = section
        self.offset = offset
        self.message = message
    }

    public var description: String {
        var place: [String] = []
        if let section { place.append("section \(section)") }
        if let offset { place.append("offset 0x\(String(offset, radix: 16))") }
        return place.isEmpty ? message : "\(place.joined(separator: ", ")): \(message)"
    }
}
