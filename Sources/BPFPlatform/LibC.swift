// The C library, for the modules that call the system: one place for the platform's name.
// `import BPFPlatform` gives Glibc on Linux and Darwin on macOS.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Darwin)
@_exported import Darwin
#endif
