// Every generated skeleton parses its embedded object and its layouts match the object's BTF;
// then the flow program's check, when the bench's skeletons are here.
import SwiftBPF

var failures = 0
for (name, open, mismatches) in skeletons {
    do { try open() } catch {
        print("\(name): \(error)")
        failures += 1
    }
    for mismatch in mismatches() {
        print("\(name): layout: \(mismatch)")
        failures += 1
    }
}
print("== skeletons: \(skeletons.count) compiled, opened and checked against their objects' BTF, \(failures) failures")
if let flowCheck { try flowCheck() }
/// A check that failed: the process exits non-zero.
struct CheckFailed: Error, CustomStringConvertible {
    var description: String
}

if failures > 0 { throw CheckFailed(description: "\(failures) skeleton failures") }
