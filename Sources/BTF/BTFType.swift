/// One BTF type (`struct btf_type` and the data that follows it). Names are offsets into the
/// string section, resolved with ``BTF/name(_:)``, so parsing allocates no strings.
public struct BTFType: Sendable {
    /// A struct or union member.
    public struct Member: Sendable {
        public var nameOffset: UInt32
        public var type: UInt32
        /// Bit offset from the start of the aggregate.
        public var bitOffset: UInt32
        /// Width of a bitfield member, 0 otherwise.
        public var bitfieldSize: UInt32
    }

    /// A function parameter (`btf_param`).
    public struct Parameter: Sendable {
        public var nameOffset: UInt32
        public var type: UInt32
    }

    /// An enumerator, 32- or 64-bit.
    public struct Enumerator: Sendable {
        public var nameOffset: UInt32
        public var value: UInt64
    }

    /// A variable's place in a data section (`btf_var_secinfo`).
    public struct VariablePlacement: Sendable {
        public var type: UInt32
        public var offset: UInt32
        public var size: UInt32
    }

    /// The kind and its data.
    public enum Kind: Sendable {
        case void
        /// `encoding`: 1 signed, 2 char, 4 bool.
        case int(size: UInt32, encoding: UInt8, bitOffset: UInt8, bits: UInt8)
        case pointer(to: UInt32)
        case array(element: UInt32, index: UInt32, count: UInt32)
        case structure(size: UInt32, members: [Member])
        case union(size: UInt32, members: [Member])
        case enumeration(size: UInt32, signed: Bool, values: [Enumerator])
        case forward(isUnion: Bool)
        case typedef(UInt32)
        case volatile(UInt32)
        case const(UInt32)
        case restrict(UInt32)
        /// `linkage`: 0 static, 1 global, 2 extern.
        case function(prototype: UInt32, linkage: UInt16)
        case functionPrototype(returns: UInt32, parameters: [Parameter])
        case variable(type: UInt32, linkage: UInt32)
        case dataSection(size: UInt32, variables: [VariablePlacement])
        case float(size: UInt32)
        case declTag(type: UInt32, componentIndex: Int32)
        case typeTag(UInt32)
        case enumeration64(size: UInt32, signed: Bool, values: [Enumerator])
    }

    /// Offset of the name in the string section (0: anonymous).
    public var nameOffset: UInt32
    /// The kind and its data.
    public var kind: Kind
    /// For decl and type tags: the tag is an attribute (`kind_flag`), kept so the type
    /// encodes back as it was read.
    public var isAttributeTag = false
}
