// The public front of SwiftBPF: one import for embedders. UserspaceObject.swift holds the
// userspace backend's object loader.
@_exported public import BPFCore
@_exported public import BPFObject
@_exported public import BTF
@_exported public import BPFMaps
@_exported public import BPFVM
@_exported public import BPFVerifier
@_exported public import BPFKernel
