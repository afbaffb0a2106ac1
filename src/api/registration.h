/* registration.h: registering with the control plane and heartbeats.
 *
 * On start the node POSTs RegisterNode to
 * {control_plane.address}/limiquantix.compute.v1.NodeService/RegisterNode
 * and keeps the returned id, then sends UpdateHeartbeat every
 * heartbeat_interval_secs (the reply's heartbeatIntervalSecs wins when
 * set).  While the control plane is unreachable it retries with exponential
 * backoff, 1 s doubling to 60 s; after 3 consecutive failed heartbeats (or at
 * once if the control plane says not_found) it registers again.  The HTTP
 * calls run on the worker pool; this state machine runs on the loop. */
#ifndef LQ_REGISTRATION_H
#define LQ_REGISTRATION_H 1

struct lq_node;
struct lq_worker_pool;
struct lq_metrics;
struct lq_registration;

/* Returns NULL when registration is off (no control_plane.address). */
struct lq_registration *lq_registration_create(struct lq_node *,
                                               struct lq_worker_pool *,
                                               struct lq_metrics *,
                                               int api_port);
void lq_registration_destroy(struct lq_registration *);
void lq_registration_run(struct lq_registration *);
void lq_registration_wait(struct lq_registration *);

#endif
