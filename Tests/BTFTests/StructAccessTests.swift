import BTF
import Testing

private let kernel = vmlinux.flatMap { try? BTF(bytes: $0) }

/// A struct's id and its member `name`'s byte offset in `btf`.
private func member(_ name: String, of structName: String, in btf: BTF) -> (type: UInt32, offset: Int)? {
    guard let id = btf.typeID(named: structName, where: { if case .structure = $0 { true } else { false } }),
        case let .structure(_, members)? = btf.type(UInt32(id))?.kind,
        let m = members.first(where: { btf.name($0.nameOffset) == name })
    else { return nil }
    return (UInt32(id), Int(m.bitOffset / 8))
}

@Suite("BTF: reads of kernel objects (btf_struct_access)")
struct StructAccessTests {
    @Test("task_struct: numbers, pointers read whole, bounds", .enabled(if: kernel != nil, "needs \(vmlinuxPath)"))
    func taskStruct() throws {
        let btf = try #require(kernel)
        let pid = try #require(member("pid", of: "task_struct", in: btf))
        let parent = try #require(member("real_parent", of: "task_struct", in: btf))
        #expect(btf.structAccess(type: pid.type, offset: pid.offset, size: 4) == .scalar)
        #expect(btf.structAccess(type: parent.type, offset: parent.offset, size: 8) == .pointer(to: pid.type, member: "real_parent", tag: nil))
        guard case let .refused(partial) = btf.structAccess(type: parent.type, offset: parent.offset, size: 4) else {
            Issue.record("a half pointer was read")
            return
        }
        #expect(partial.hasPrefix("cannot access ptr member real_parent"))
        // int *clear_child_tid: untyped memory since Linux 6.17.
        let tid = try #require(member("clear_child_tid", of: "task_struct", in: btf))
        #expect(btf.structAccess(type: tid.type, offset: tid.offset, size: 8) == .untypedPointer)
        let size = try #require(btf.size(of: pid.type))
        #expect(btf.structAccess(type: pid.type, offset: size, size: 8) == .refused("access beyond struct task_struct at off \(size) size 8"))
        // comm is char[16]: any read inside it is a number; one running past it is refused.
        let comm = try #require(member("comm", of: "task_struct", in: btf))
        #expect(btf.structAccess(type: comm.type, offset: comm.offset + 8, size: 8) == .scalar)
        guard case let .refused(past)? = Optional(btf.structAccess(type: comm.type, offset: comm.offset + 12, size: 8)) else {
            Issue.record("a read past comm was allowed")
            return
        }
        #expect(past.hasPrefix("access beyond the end of member comm"))
    }

    @Test("nested structs are walked into: sk_buff's members through their unions", .enabled(if: kernel != nil, "needs \(vmlinuxPath)"))
    func nested() throws {
        let btf = try #require(kernel)
        let len = try #require(member("len", of: "sk_buff", in: btf))
        #expect(btf.structAccess(type: len.type, offset: len.offset, size: 4) == .scalar)
    }

    @Test("a malformed type answers with a refusal, not a crash", .enabled(if: kernel != nil, "needs \(vmlinuxPath)"))
    func notAStruct() throws {
        let btf = try #require(kernel)
        let int = try #require(btf.typeID(named: "int", where: { if case .int = $0 { true } else { false } }))
        #expect(btf.structAccess(type: UInt32(int), offset: 0, size: 4) == .refused("Type 'int' is not a struct"))
        #expect(btf.structAccess(type: 0xffff_fff0, offset: 0, size: 4) == .refused("Type '' is not a struct"))
    }
}
