/// `name` as the kernel takes a map's or program's name (`BPF_OBJ_NAME_LEN`): ASCII letters,
/// digits, `_` and `.` only, at most 15 of them. The kernel refuses anything else with EINVAL,
/// so other characters are left out, as libbpf leaves them.
func kernelObjectName(_ name: String) -> String {
    let allowed = name.utf8.lazy.filter { c in
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
    }
    return String(decoding: Array(allowed.prefix(15)), as: UTF8.self)
}
