package import BPFCore

/// A generated program: its type, its code (map references as `lddw` with
/// `BPF_PSEUDO_MAP_FD` and the map's index in ``FuzzMaps`` as the immediate), and the kinds of
/// gadget it was built from (what the generator exercised).
package struct FuzzProgram: Sendable {
    package var type: ProgramType
    package var code: [Instruction]
    package var gadgets: Set<Gadget>

    package init(type: ProgramType, code: [Instruction], gadgets: Set<Gadget> = []) {
        self.type = type
        self.code = code
        self.gadgets = gadgets
    }

    /// The code with each map index replaced by `fds[index]`, for the kernel.
    package func code(mapFDs fds: [Int32]) -> [Instruction] {
        var out = code
        var i = 0
        while i < out.count {
            if out[i].isWide {
                if out[i].src == WideImmediateKind.mapFD.rawValue, Int(out[i].imm) < fds.count, out[i].imm >= 0 { out[i].imm = fds[Int(out[i].imm)] }
                i += 2
            } else {
                i += 1
            }
        }
        return out
    }
}

/// What the generator puts in programs, each aimed at a class of the kernel's rules.
package enum Gadget: String, CaseIterable, Sendable, Comparable {
    case constant, contextScalar, randomScalar, alu, alu32, signExtend, negateOrSwap, divMod, shiftByRegister
    case branch64, branch32, nullCheck, packetCheck
    case stackStore, stackLoad, spillPointer, fillNarrow, variableStackAccess
    case pointerArithmetic, pointerSubtract, memoryLoad, memoryStore, signExtendingLoad
    case contextLoad, contextStore
    case helperCall, helperAnyKernel, helperSizeRange, helperNullMemory, ringbufRecord
    case atomic, atomicMisaligned, kernelObjectRead, callback, kernelFunction, mapOfMaps
    case subprogram, pointerAcrossFrames, returnPointer, recursion
    case legacyPacketLoad, tailCall, indirectCall

    package static func < (a: Gadget, b: Gadget) -> Bool { a.rawValue < b.rawValue }
}
