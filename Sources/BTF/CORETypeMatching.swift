/// The two relations between a local type and a target candidate that type-based CO-RE
/// relocations check, as libbpf defines them: compatibility (`TYPE_ID_TARGET`, `TYPE_EXISTS`,
/// `TYPE_SIZE`) and the stricter match (`TYPE_MATCHES`). Both see through typedefs and
/// qualifiers, and compare names without their `___flavor`.
///
/// Each comparison spends one step of `budget`; once it is spent every comparison fails, so
/// BTF made to compare members with members exponentially (by-value cycles, members sharing
/// a name) costs bounded time, and the caller reports the budget spent.
extension CORERelocator {
    /// Comparisons one relocation may make: far more than any real type needs.
    static let comparisonBudget = 100_000

    /// Whether `local`'s type `localID` is compatible with the target's `targetID`: same kind,
    /// and for pointers, arrays and function prototypes, compatible parts. Integers are
    /// compatible whatever their size (except legacy bitfield integers); named types by name.
    func compatible(_ localID: UInt32, _ targetID: UInt32, depth: Int = 0, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0, depth < 32, let l = local.type(local.resolved(localID)), let t = target.type(target.resolved(targetID)) else { return false }
        switch (l.kind, t.kind) {
        case (.void, .void): return true
        case let (.int(_, _, lOffset, _), .int(_, _, tOffset, _)): return lOffset == 0 && tOffset == 0
        case (.structure, .structure), (.union, .union), (.forward, .forward), (.float, .float),
            (.enumeration, .enumeration), (.enumeration, .enumeration64), (.enumeration64, .enumeration), (.enumeration64, .enumeration64):
            return true
        case let (.pointer(lp), .pointer(tp)): return compatible(lp, tp, depth: depth + 1, budget: &budget)
        case let (.array(le, _, _), .array(te, _, _)): return compatible(le, te, depth: depth + 1, budget: &budget)
        case let (.functionPrototype(lr, lps), .functionPrototype(tr, tps)):
            return lps.count == tps.count && zip(lps, tps).allSatisfy { compatible($0.type, $1.type, depth: depth + 1, budget: &budget) }
                && compatible(lr, tr, depth: depth + 1, budget: &budget)
        default: return false
        }
    }

    /// Whether `local`'s type `localID` matches the target's `targetID` (libbpf's
    /// `bpf_core_types_match`): the same essential name and kind; integers of the same size
    /// and signedness; every local enumerator named in the target's enum of the same size;
    /// every local member of a struct or union present by name in the target with a matching
    /// type (behind a pointer, only the name and kind are checked, and a forward declaration
    /// stands for a struct or union); arrays of the same length and pointers with matching
    /// element types; function prototypes with matching parameters and result.
    func matches(_ localID: UInt32, _ targetID: UInt32, behindPointer: Bool = false, depth: Int = 0, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0, depth < 32 else { return false }
        let lid = local.resolved(localID), tid = target.resolved(targetID)
        guard let l = local.type(lid), let t = target.type(tid),
            Self.essential(local.name(l.nameOffset)) == Self.essential(target.name(t.nameOffset))
        else { return false }
        switch (l.kind, t.kind) {
        case (.void, .void): return true
        case let (.forward(lu), .forward(tu)): return lu == tu
        case (.forward(let isUnion), .structure) where behindPointer: return !isUnion
        case (.forward(let isUnion), .union) where behindPointer: return isUnion
        case (.structure, .forward(let isUnion)) where behindPointer: return !isUnion
        case (.union, .forward(let isUnion)) where behindPointer: return isUnion
        case let (.enumeration(ls, _, lv), .enumeration(ts, _, tv)), let (.enumeration(ls, _, lv), .enumeration64(ts, _, tv)),
            let (.enumeration64(ls, _, lv), .enumeration(ts, _, tv)), let (.enumeration64(ls, _, lv), .enumeration64(ts, _, tv)):
            let names = Set(tv.map { Self.essential(target.name($0.nameOffset)) })
            return ls == ts && lv.allSatisfy { names.contains(Self.essential(local.name($0.nameOffset))) }
        case let (.structure(_, lm), .structure(_, tm)), let (.union(_, lm), .union(_, tm)):
            return behindPointer || membersMatch(lm, tm, depth: depth, budget: &budget)
        case let (.int(ls, le, _, _), .int(ts, te, _, _)): return ls == ts && le & 1 == te & 1
        case let (.pointer(lp), .pointer(tp)): return matches(lp, tp, behindPointer: true, depth: depth + 1, budget: &budget)
        case let (.array(le, _, ln), .array(te, _, tn)): return ln == tn && matches(le, te, behindPointer: behindPointer, depth: depth + 1, budget: &budget)
        case let (.functionPrototype(lr, lps), .functionPrototype(tr, tps)):
            return lps.count == tps.count
                && zip(lps, tps).allSatisfy { matches($0.type, $1.type, behindPointer: behindPointer, depth: depth + 1, budget: &budget) }
                && matches(lr, tr, behindPointer: behindPointer, depth: depth + 1, budget: &budget)
        default: return false
        }
    }

    /// Every local member has a target member of its name whose type matches.
    private func membersMatch(_ localMembers: [BTFType.Member], _ targetMembers: [BTFType.Member], depth: Int, budget: inout Int) -> Bool {
        guard localMembers.count <= targetMembers.count else { return false }
        return localMembers.allSatisfy { member in
            let name = Self.essential(local.name(member.nameOffset))
            return targetMembers.contains {
                Self.essential(target.name($0.nameOffset)) == name && matches(member.type, $0.type, depth: depth + 1, budget: &budget)
            }
        }
    }
}
