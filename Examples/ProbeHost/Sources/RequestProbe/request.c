#include "RequestProbe.h"

SWIFTBPF_PROBE_DEFINE(probehost, request)

void serve_request(uint64_t id, uint64_t size, const char *path) {
    SWIFTBPF_PROBE3(probehost, request, id, size, path);
}
