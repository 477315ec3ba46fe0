package import BPFCore

/// A program validated and decoded once, which both engines prepare from: the interpreter adds
/// its superinstructions to a copy, the JIT compiles it as it is.
package struct DecodedProgram {
    package let instructions: [Instruction]
    package let helpers: HelperTable
    let decoded: [DecodedInstruction]

    /// Validates (unless `validated`: a verifier has, and the loader's rewrites since keep the
    /// program well formed) and decodes `instructions`.
    package init(_ instructions: [Instruction], helpers: HelperTable, validated: Bool = false) throws(PreparationError) {
        self.instructions = instructions
        self.helpers = helpers
        decoded = try Predecoder.decode(instructions, helpers: helpers, fuse: false, validated: validated)
    }
}
