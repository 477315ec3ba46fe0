public import SwiftBPFProbes
public import BPFMaps
public import BPFVM
import BPFCore
import BPFObject
import Synchronization

/// A userspace runtime's namespace: the hooks its host declared, and the links, maps and
/// programs pinned at paths (as bpffs pins the kernel's) so that they outlive the values that
/// made them. ``shared`` is the process's; a host may make others to keep apart.
public final class UserspaceRuntime: Sendable {
    /// The process's runtime, which the front's userspace backend uses.
    public static let shared = UserspaceRuntime()

    /// Something pinned.
    public enum Pinned: @unchecked Sendable {
        case link(HookLink)
        case map(BPFMap)
        case program(UserspaceProgram)
    }

    private struct State: ~Copyable {
        var hooks: [String: Hook] = [:]
        var pins: [String: Pinned] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Declares hook `name` with `arguments` (at most five) and the rule that makes its result.
    /// - Throws: ``RuntimeError/hook(name:reason:)`` when the name is taken or there are too
    ///   many arguments.
    public func declareHook(_ name: String, arguments: [Hook.Argument], results: Hook.ResultRule = .ignored) throws(RuntimeError) -> Hook {
        try add(Hook(name: name, arguments: arguments, results: results, site: nil))
    }

    /// Declares the hook of probe site `site` (made with `SWIFTBPF_PROBE_DEFINE(provider, name)`;
    /// pass `provider_name_probe_site()`), named `PROVIDER:NAME`, and binds it: the site runs the
    /// hook's programs when it fires, and is enabled (its semaphore raised) while any is
    /// attached. The kernel traces the same site through its USDT note. The binding lasts as
    /// long as the process.
    public func declareProbe(
        _ site: UnsafeMutablePointer<swiftbpf_probe_site>, arguments: [Hook.Argument], results: Hook.ResultRule = .ignored
    ) throws(RuntimeError) -> Hook {
        let name = String(cString: site.pointee.provider) + ":" + String(cString: site.pointee.name)
        guard site.pointee.hook == nil else { throw .hook(name: name, reason: "the probe site is bound to a hook already") }
        let hook = try add(Hook(name: name, arguments: arguments, results: results, site: site))
        swiftbpf_probe_bind(site, Unmanaged.passRetained(hook).toOpaque(), Self.siteHandler)
        return hook
    }

    /// What a bound probe site calls.
    private static let siteHandler: swiftbpf_probe_handler = { hook, values, count in
        guard let hook, let values else { return }
        _ = Unmanaged<Hook>.fromOpaque(hook)._withUnsafeGuaranteedRef { $0.fireAttached(values, count: Int(count)) }
    }

    private func add(_ hook: Hook) throws(RuntimeError) -> Hook {
        guard hook.arguments.count <= 5 else { throw .hook(name: hook.name, reason: "\(hook.arguments.count) arguments; a hook has at most five") }
        for case .sizedBytes(let argument) in hook.arguments where !(0..<hook.arguments.count).contains(argument) {
            throw .hook(name: hook.name, reason: "a length argument \(argument) is not one of its arguments")
        }
        return try state.withLock { (state) throws(RuntimeError) -> Hook in
            guard state.hooks[hook.name] == nil else { throw .hook(name: hook.name, reason: "a hook of that name is declared already") }
            state.hooks[hook.name] = hook
            return hook
        }
    }

    /// The hook named `name`, if declared.
    public func hook(named name: String) -> Hook? { state.withLock { $0.hooks[name] } }

    /// Every hook's name, sorted.
    public var hookNames: [String] { state.withLock { $0.hooks.keys.sorted() } }

    /// Attaches `program` to `hook`, after the programs there.
    /// - Parameters:
    ///   - cookie: what the program's `bpf_get_attach_cookie` (`bpf_usdt_cookie` for a `usdt`
    ///     program) returns.
    ///   - mode: the engine (nil: the program's ``UserspaceProgram/defaultMode``).
    public func attach(_ program: UserspaceProgram, to hook: Hook, cookie: UInt64 = 0, mode: ExecutionMode? = nil) throws(RuntimeError) -> HookLink {
        try HookLink(program, to: hook, cookie: cookie, mode: mode)
    }

    /// Attaches `program` where its section says: `raw_tp/NAME` to hook `NAME`,
    /// `usdt/BINARY:PROVIDER:NAME` to hook `PROVIDER:NAME` (the binary is where the kernel would
    /// find the probe; in-process the bound site is the probe). `probe` (`BINARY:PROVIDER:NAME`)
    /// names the probe of a program from a bare `usdt` section (a section's own probe comes first).
    public func attach(_ program: UserspaceProgram, probe: String? = nil, cookie: UInt64 = 0, mode: ExecutionMode? = nil) throws(RuntimeError) -> HookLink {
        let section = program.section
        let name: String
        if section.hasPrefix("raw_tp/") || section.hasPrefix("raw_tracepoint/") {
            name = String(section[section.index(after: section.firstIndex(of: "/")!)...])
        } else if let text = section.hasPrefix("usdt/") ? String(section.dropFirst(5)) : probe {
            guard let target = USDTProbe.target(text) else {
                throw .cannotAttach(program: program.name, reason: "section '\(section)' names no BINARY:PROVIDER:NAME")
            }
            name = target.provider + ":" + target.name
        } else {
            throw .cannotAttach(
                program: program.name, reason: "section '\(section)' names no hook (raw_tp/NAME, usdt/BINARY:PROVIDER:NAME); attach it to a hook explicitly")
        }
        guard let hook = hook(named: name) else {
            throw .cannotAttach(program: program.name, reason: "no hook \(name) is declared (declared: \(hookNames.joined(separator: ", ")))")
        }
        return try attach(program, to: hook, cookie: cookie, mode: mode)
    }

    // MARK: - Pins

    /// Pins `value` at `path`: it lives, and a pinned link keeps its program attached, until
    /// ``unpin(at:)``.
    public func pin(_ value: Pinned, at path: String) throws(RuntimeError) {
        try state.withLock { (state) throws(RuntimeError) in
            guard state.pins[path] == nil else { throw .pin(path: path, reason: "something is pinned there already") }
            state.pins[path] = value
        }
    }

    /// What is pinned at `path`.
    public func pinned(at path: String) -> Pinned? { state.withLock { $0.pins[path] } }

    /// Removes the pin at `path`; what it held is freed when nothing else holds it.
    public func unpin(at path: String) throws(RuntimeError) {
        let removed = state.withLock { $0.pins.removeValue(forKey: path) }
        guard removed != nil else { throw .pin(path: path, reason: "nothing is pinned there") }
    }

    /// Every pinned path, sorted.
    public var pinnedPaths: [String] { state.withLock { $0.pins.keys.sorted() } }
}
