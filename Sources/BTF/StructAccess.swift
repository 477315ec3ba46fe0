extension BTF {
    /// What reading memory of a kernel object gives, as the kernel's `btf_struct_access` decides
    /// for a load through a `PTR_TO_BTF_ID` pointer.
    public enum StructAccess: Sendable, Equatable {
        /// A number (an integer, enum, bitfield, array element or a pointer to a non-struct).
        case scalar
        /// A pointer member to a struct or union: its (resolved) type id, the member's name, and
        /// the pointer's BTF type tag (`user`, `percpu`, `rcu`), if any.
        case pointer(to: UInt32, member: String, tag: String?)
        /// A pointer member to anything else (`int *`, `void *`): since Linux 6.17 the kernel
        /// loads it as untrusted read-only memory (`WALK_PTR_UNTRUSTED`); earlier, as a number.
        case untypedPointer
        /// The access is refused, in the kernel's words.
        case refused(String)
    }

    /// What reading `size` bytes at `offset` of an object of type `id` gives: the member there is
    /// found through nested structs and arrays (`btf_struct_walk`). A pointer member must be read
    /// whole; a scalar read must stay inside its member; past the struct's end only a trailing
    /// flexible array is readable.
    public func structAccess(type id: UInt32, offset: Int, size: Int) -> StructAccess {
        var type = resolved(id)
        var offset = offset
        for _ in 0..<64 {  // nesting deeper than this only occurs in cyclic, malformed BTF
            switch walk(type, offset, size) {
            case let .nested(inner):
                type = inner
                offset = 0
            case let .done(result):
                return result
            }
        }
        return .refused("struct \(name(ofType: Int(type))) nests too deeply")
    }

    /// The first type tag on the way from `id` through modifiers.
    private func firstTag(_ id: UInt32) -> String? {
        var current = id
        for _ in 0..<16 {
            guard let t = type(current) else { return nil }
            switch t.kind {
            case .typeTag:
                return name(t.nameOffset)
            case let .typedef(next), let .volatile(next), let .const(next), let .restrict(next): current = next
            default: return nil
            }
        }
        return nil
    }

    private enum WalkStep {
        case nested(UInt32)
        case done(StructAccess)
    }

    private func walk(_ start: UInt32, _ startOffset: Int, _ size: Int) -> WalkStep {
        var t = resolved(start)
        var off = startOffset
        outer: for _ in 0..<64 {
            let tname = name(ofType: Int(t))
            let (structSize, members): (Int, [BTFType.Member])
            switch type(t)?.kind {
            case let .structure(s, m)?, let .union(s, m)?: (structSize, members) = (Int(s), m)
            default: return .done(.refused("Type '\(tname)' is not a struct"))
            }
            if off + size > structSize {
                // Only a trailing flexible array (elements of ints or sized structs) reads on.
                let beyond = StructAccess.refused("access beyond struct \(tname) at off \(off) size \(size)")
                guard let last = members.last, case let .array(element, _, 0)? = resolvedKind(last.type) else { return .done(beyond) }
                let moff = Int(last.bitOffset / 8)
                guard off >= moff else { return .done(beyond) }
                let elementType = resolved(element)
                if case .int? = type(elementType)?.kind { return .done(.scalar) }
                guard case let .structure(elementSize, _)? = type(elementType)?.kind, elementSize > 0 else { return .done(beyond) }
                off = (off - moff) % Int(elementSize)
                t = elementType
                continue outer
            }
            for member in members {
                var moff = Int(member.bitOffset / 8)
                if off + size <= moff { break }
                if member.bitfieldSize > 0 {
                    let endBit = Int(member.bitOffset + member.bitfieldSize)
                    if off <= moff, (endBit + 7) / 8 <= off + size { return .done(.scalar) }
                    continue
                }
                if off < moff { break }
                let mname = name(member.nameOffset)
                guard var msize = self.size(of: member.type) else { return .done(.refused("field \(mname) doesn't have size")) }
                var mtype = resolved(member.type)
                let trueEnd = moff + msize
                if off >= trueEnd { continue }
                if case .array = type(mtype)?.kind {
                    if moff == trueEnd { continue }
                    // Multi-dimensional arrays are one array of their innermost elements.
                    var count = 1
                    while case let .array(element, _, n)? = type(mtype)?.kind {
                        count *= max(Int(n), 1)
                        mtype = resolved(element)
                    }
                    msize /= count
                    guard msize > 0 else { return .done(.refused("field \(mname) doesn't have size")) }
                    moff += (off - moff) / msize * msize
                }
                switch type(mtype)?.kind {
                case .structure?, .union?:
                    if off == moff { return .nested(mtype) }
                    off -= moff
                    t = mtype
                    continue outer
                case let .pointer(pointee)?:
                    guard msize == size, off == moff else {
                        return .done(.refused("cannot access ptr member \(mname) with moff \(moff) in struct \(tname) with off \(off) size \(size)"))
                    }
                    let target = resolved(pointee)
                    switch type(target)?.kind {
                    case .structure?, .union?: return .done(.pointer(to: target, member: mname, tag: firstTag(pointee)))
                    default: return .done(.untypedPointer)
                    }
                default: break
                }
                if off + size > trueEnd {
                    return .done(.refused("access beyond the end of member \(mname) (mend:\(trueEnd)) in struct \(tname) with off \(off) size \(size)"))
                }
                return .done(.scalar)
            }
            return .done(.refused("struct \(tname) doesn't have field at offset \(off)"))
        }
        return .done(.refused("struct \(name(ofType: Int(start))) nests too deeply"))
    }
}
