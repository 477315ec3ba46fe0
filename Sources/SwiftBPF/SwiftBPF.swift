@_exported public import BPFCore
@_exported public import BPFObject
@_exported public import BTF
@_exported public import BPFMaps
@_exported public import BPFVM
@_exported public import BPFVerifier
@_exported public import BPFRuntime
@_exported public import BPFKernel
