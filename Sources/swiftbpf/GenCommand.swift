import BPFObject
import BPFPlatform
import BPFSkeleton

enum GenCommand {
    static let spec = CommandSpec(
        "gen", abstract: "Generate code from objects.",
        subcommands: [
            CommandSpec(
                "skeleton", abstract: "Write a typed Swift skeleton of an object, like bpftool gen skeleton.",
                discussion:
                    "The Swift source embeds the object and gives a struct for every BTF type its maps and global variables use (and each --type), fields as properties at BTF's offsets; typed maps (lookup, update, delete, entries, per-CPU values); the programs by name; .rodata settable before load and .data/.bss readable and writable after; load(on:) for either backend; attachAll(). The code needs the SwiftBPF library. It goes to standard output, or to --output.",
                parameters: [
                    .argument("object", "A clang-compiled BPF object with BTF (-g)."),
                    .option("name", "The Swift type's name (default: from the object's file name)."),
                    .option("type", "BTF types to generate besides those the maps and globals use, comma-separated (a ring buffer's event: --type event)."),
                    .option("output", short: "o", "Write the Swift source to this file."),
                    .flag("no-embed", "Do not embed the object: the skeleton opens a build of it given at run time (init(objectBytes:))."),
                ]
            ) { try skeleton($0) }
        ])

    static func skeleton(_ arguments: ParsedArguments) throws {
        let path = arguments.argument("object")
        guard let bytes = readFile(path) else { throw CLIError("\(path): cannot read the file") }
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { throw CLIError("\(path): \(error)") }
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let base = file.split(separator: ".").first.map(String.init) ?? file
        let source: String
        do {
            var generator = try SkeletonGenerator(
                object: object, bytes: bytes, name: arguments.string("name") ?? base, source: file,
                extraTypes: arguments.string("type").map { $0.split(separator: ",").map(String.init) } ?? [])
            generator.embedsObject = !arguments.flag("no-embed")
            source = try generator.generate()
        } catch { throw CLIError("\(error)") }
        if let output = arguments.string("output") {
            guard writeFile(output, Array(source.utf8)) else { throw CLIError("\(output): cannot write the file") }
        } else {
            print(source, terminator: "")
        }
    }
}
