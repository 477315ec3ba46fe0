package import BPFCore
package import BPFObject

/// The maps every generated program may use, by index (`lddw rX, map[index]`): the same ones
/// for our verifier (as shapes) and for the kernel (created once).
package enum FuzzMaps {
    package static let definitions: [MapDefinition] = [
        MapDefinition(name: "fz_array", type: .array, keySize: 4, valueSize: 48, maxEntries: 4, flags: [], section: "maps", offset: 0),
        MapDefinition(name: "fz_hash", type: .hash, keySize: 8, valueSize: 16, maxEntries: 16, flags: [], section: "maps", offset: 0),
        MapDefinition(name: "fz_ringbuf", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096, flags: [], section: "maps", offset: 0),
        MapDefinition(name: "fz_rdonly", type: .array, keySize: 4, valueSize: 16, maxEntries: 1, flags: .readOnlyToPrograms, section: "maps", offset: 0),
        MapDefinition(name: "fz_progs", type: .progArray, keySize: 4, valueSize: 4, maxEntries: 4, flags: [], section: "maps", offset: 0),
        {
            var maps = MapDefinition(name: "fz_maps", type: .arrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, flags: [], section: "maps", offset: 0)
            maps.inner = InnerMapShape(type: .array, keySize: 4, valueSize: 48, maxEntries: 4)
            return maps
        }(),
    ]

    package static let shapes: [MapShape] = definitions.map(\.shape)

    static let array: Int32 = 0, hash: Int32 = 1, ringbuf: Int32 = 2, readOnly: Int32 = 3, programs: Int32 = 4, maps: Int32 = 5
}
