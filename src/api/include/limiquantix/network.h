/* limiquantix/network.h: QuantumNet as a C API.
 *
 * The same operations as limiquantix.network.v1 (VirtualNetworkService,
 * PortService, SecurityGroupService), in-process: 'method' is the RPC
 * name ("CreateNetwork", "BindPort", ...), 'request' and '*responsep' are
 * the proto3-JSON objects the RPC takes and returns (OVS lib/json).  The
 * call runs the network engine's loop itself until the operation is done,
 * so it is for programs and tests that do not run the daemon's loop; the
 * daemon's RPC handlers submit the same operations asynchronously.
 *
 * A struct lq_network is created by lq_network_create() (engine.h) with
 * the Northbound and Open_vSwitch remotes.  On success '*responsep' is a
 * new object the caller frees with json_destroy(). */
#ifndef LIMIQUANTIX_NETWORK_H
#define LIMIQUANTIX_NETWORK_H 1

#include "limiquantix/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lq_network;
struct json;

struct lq_error *lq_network_call(struct lq_network *, const char *method,
                                 const struct json *request,
                                 struct json **responsep);

/* The same from a thread other than the one running the network's loop
 * (the daemon's worker threads, e.g. the compute handlers binding a VM's
 * ports): the operation runs on the loop; this blocks until it is done. */
struct lq_error *lq_network_call_threaded(struct lq_network *,
                                          const char *method,
                                          const struct json *request,
                                          struct json **responsep);

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/network.h */
