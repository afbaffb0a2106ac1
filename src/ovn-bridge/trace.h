/* trace.h: reading `ovn-trace` and building the packet it traces.
 *
 * `lqctl net trace` (nbctl_trace.c) asks the real ovn-trace what the
 * logical flows in the Southbound database do with one packet, then says
 * in security-group terms what decided it.  This module is the pure part:
 * the microflow, built only from typed values (net_types.h) so nothing a
 * user typed reaches ovn-trace's expression parser, and a parser for
 * ovn-trace's --detailed output.
 *
 * What the parser relies on (ovn-trace 23.03, --detailed, and
 * --no-friendly-names so port names are not abbreviated):
 *   ingress(dp="...", inport="...")            a pipeline starts
 *   egress(dp="...", inport="...", outport="...")
 *    8. ls_in_acl (northd.c:6445): MATCH, priority 2002, uuid e627d423
 *       ACTION;                                  (more indented)
 *       / * output to "PORT", type "" * /        delivered to PORT
 * and northd's way of putting an ACL into the ACL stages: the flow's match
 * is "reg0[N] == 1 && (ACL MATCH)" at priority 1000 + the ACL's priority
 * (lq_trace_step_acl()). */
#ifndef LQ_TRACE_H
#define LQ_TRACE_H 1

#include <stdbool.h>
#include <stddef.h>
#include "limiquantix/error.h"
#include "net_types.h"

struct ds;

/* One logical flow that matched. */
struct lq_trace_step {
    bool egress;                /* In an egress pipeline (ls_out_*). */
    char *outport;              /* Egress: the pipeline's outport. */
    int table;
    char *stage;                /* "ls_in_acl" */
    char *match;                /* The flow's match, as printed. */
    int priority;
    char *actions;              /* Its action lines, '\n'-separated. */
    bool drop;                  /* The actions drop the packet. */
};

struct lq_trace {
    struct lq_trace_step *steps;
    size_t n_steps;
    char **outputs;             /* Ports the packet was delivered to. */
    size_t n_outputs;
};

/* Parses ovn-trace --detailed output.  An error (invalid_argument) if a
 * line that should be a flow cannot be read: the format changed. */
struct lq_error *lq_trace_parse(const char *text, struct lq_trace *);
void lq_trace_destroy(struct lq_trace *);

/* If 'step' is a flow that northd made from an ACL (an ACL stage, priority
 * above 1000, match "reg0[N] == 1 && (M)"), returns true with the ACL's
 * direction ("from-lport" for the ingress pipeline, "to-lport" for
 * egress), priority and match M (a new string, caller frees). */
bool lq_trace_step_acl(const struct lq_trace_step *, const char **direction,
                       int *priority, char **match);

/* The packet: a port's addresses to another's (or to any address). */
struct lq_trace_packet {
    char inport[37];            /* Logical port name (= our port id). */
    struct lq_mac eth_src, eth_dst;
    struct lq_ip ip_src, ip_dst;   /* Same family. */
    struct lq_protocol protocol;   /* number -1: plain IP. */
    int dst_port;               /* tcp/udp/sctp port, icmp type; -1: none. */
};

/* Parses "PROTO[/DSTPORT]" for 'family': tcp/80, udp/53, sctp/9, icmp,
 * icmp/8 (ICMP type), icmp6, ip, a protocol number.  The error names
 * 'field'.  ICMP without a type is an echo request. */
struct lq_error *lq_trace_parse_protocol(const char *field, const char *text,
                                         int family, struct lq_protocol *,
                                         int *dst_port);

/* The microflow for ovn-trace, from typed values only. */
void lq_trace_microflow(const struct lq_trace_packet *, struct ds *);

#endif /* trace.h */
