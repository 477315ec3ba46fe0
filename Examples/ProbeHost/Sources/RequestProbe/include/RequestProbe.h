// The host's probe site: probehost:request(id, size, path), fired for every request served.
#include <SwiftBPFProbes.h>

SWIFTBPF_PROBE_DECLARE(probehost, request);

/// Serves request `id` of `size` bytes for `path`, firing the probe.
void serve_request(uint64_t id, uint64_t size, const char *path);
