import BPFVM
import BPFCore
import BPFMaps
import BPFObject

/// A program attached to a ``Hook``: it runs on every firing while the link lives (or is
/// pinned in its ``UserspaceRuntime``). Releasing the last reference detaches it; the
/// program, and its object's maps, are freed when nothing else holds them.
public final class HookLink: @unchecked Sendable {
    /// The hook the program runs on.
    public let hook: Hook
    /// The link's cookie (`bpf_get_attach_cookie`; for a `usdt` program, `bpf_usdt_cookie`).
    public let cookie: UInt64
    private let id: Int
    private let mode: ExecutionMode?
    /// Its id in the ``RuntimeInventory`` while attached (what `link list --runtime` shows).
    public let inventoryID: UInt32

    init(_ program: UserspaceProgram, to hook: Hook, cookie: UInt64, mode: ExecutionMode?) throws(RuntimeError) {
        self.hook = hook
        self.cookie = cookie
        self.mode = mode
        id = try hook.attach(program, cookie: try Self.runCookie(program, hook, cookie), mode: mode)
        inventoryID = RuntimeInventory.register(RuntimeInventory.Link(id: 0, hook: hook.name, programID: program.id, cookie: cookie))
    }

    /// The program the link runs; nil once detached.
    public var program: UserspaceProgram? { hook.program(of: id) }

    /// What is attached where, as `swiftbpf` prints links: `hook app:request`.
    public var summary: String { "hook \(hook.name)" }

    /// Makes the link run `program` instead, atomically: every firing from now on runs the new
    /// program, every firing under way finishes with the old one, and none runs both or neither.
    /// - Throws: ``RuntimeError/cannotAttach(program:reason:)`` when the hook does not run such a
    ///   program or the link was detached.
    public func update(program: UserspaceProgram) throws(RuntimeError) {
        try hook.replace(id, with: program, cookie: try Self.runCookie(program, hook, cookie), mode: mode)
        RuntimeInventory.update(link: inventoryID, programID: program.id)
    }

    /// Detaches the program now (firings under way finish it); releasing the link does too.
    public func detach() {
        hook.detach(id)
        RuntimeInventory.unregister(link: inventoryID)
    }

    deinit { detach() }

    /// The cookie a run sees: a `usdt` program's is the id of its argument specification
    /// (written to its object's `__bpf_usdt_specs`, the link's cookie inside), as libbpf does.
    private static func runCookie(_ program: UserspaceProgram, _ hook: Hook, _ cookie: UInt64) throws(RuntimeError) -> UInt64 {
        func refuse(_ reason: String) -> RuntimeError { .cannotAttach(program: program.name, reason: reason) }
        guard program.verification != nil else { throw refuse("it was loaded with verify: false; hooks run only programs the verifier proved safe") }
        switch program.type {
        case .rawTracepoint: return cookie
        case .kprobe where program.section == "usdt" || program.section.hasPrefix("usdt/"):
            // The arguments are 64-bit values in the context's first slots.
            let arguments = hook.arguments.indices.map { USDTArgument(size: 8, signed: false, location: .register(offset: Int16($0 * 8))) }
            let id: Int32?
            do throws(MapError) { id = try program.object?.addUSDTSpecification(USDTSpecification.encode(arguments, cookie: cookie)) } catch {
                throw refuse("cannot write its USDT argument specification: \(error)")
            }
            guard let id else { throw refuse("it has no \(USDTSpecification.mapName) map (include <bpf/usdt.bpf.h>)") }
            return UInt64(id)
        default:
            throw refuse("hooks run raw_tp and usdt programs; this is a \(program.type) program from section '\(program.section)'")
        }
    }
}
