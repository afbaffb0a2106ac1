/* trace.c: ovn-trace's packet and output (see trace.h). */
#include <config.h>
#include "trace.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

void
lq_trace_destroy(struct lq_trace *t)
{
    for (size_t i = 0; i < t->n_steps; i++) {
        struct lq_trace_step *s = &t->steps[i];
        free(s->outport);
        free(s->stage);
        free(s->match);
        free(s->actions);
    }
    free(t->steps);
    for (size_t i = 0; i < t->n_outputs; i++) {
        free(t->outputs[i]);
    }
    free(t->outputs);
    memset(t, 0, sizeof *t);
}

/* The value of 'key="..."' in a pipeline header, or NULL.  Names are
 * printed without escapes (ours are UUIDs). */
static char *
header_value(const char *line, const char *key)
{
    char *pat = xasprintf("%s=\"", key);
    const char *p = strstr(line, pat);
    char *value = NULL;
    if (p) {
        p += strlen(pat);
        const char *q = strchr(p, '"');
        if (q) {
            value = xmemdup0(p, q - p);
        }
    }
    free(pat);
    return value;
}

/* " 8. ls_in_acl (northd.c:6445): MATCH, priority 2002, uuid e627d423".
 * The match may hold ", " itself, so the suffix is found from the end. */
static bool
parse_flow_line(const char *line, struct lq_trace_step *s)
{
    const char *p = line;
    while (*p == ' ') {
        p++;
    }
    char *end;
    long table = strtol(p, &end, 10);
    if (end == p || strncmp(end, ". ", 2)) {
        return false;
    }
    p = end + 2;
    const char *stage_end = strchr(p, ' ');
    const char *colon = strstr(p, "): ");
    const char *prio = NULL;
    for (const char *q = strstr(p, ", priority "); q;
         q = strstr(q + 1, ", priority ")) {
        prio = q;
    }
    if (!stage_end || !colon || !prio || prio < colon) {
        return false;
    }
    long priority = strtol(prio + 11, &end, 10);
    if (end == prio + 11 || strncmp(end, ", uuid ", 7)) {
        return false;
    }
    s->table = table;
    s->priority = priority;
    s->stage = xmemdup0(p, stage_end - p);
    s->match = xmemdup0(colon + 3, prio - (colon + 3));
    return true;
}

static size_t
indent_of(const char *line)
{
    size_t n = 0;
    while (line[n] == ' ') {
        n++;
    }
    return n;
}

/* An action line of the current flow: appended, and noted if it drops or
 * delivers. */
static void
add_action(struct lq_trace *t, struct lq_trace_step *s, const char *action)
{
    static const char output_to[] = "/* output to \"";
    char *a = s->actions;
    s->actions = a ? xasprintf("%s\n%s", a, action) : xstrdup(action);
    free(a);
    if (!strcmp(action, "drop;")) {
        s->drop = true;
    }
    if (!strncmp(action, output_to, strlen(output_to))) {
        const char *name = action + strlen(output_to);
        const char *q = strchr(name, '"');
        if (q) {
            t->outputs = xrealloc(t->outputs,
                                  (t->n_outputs + 1) * sizeof *t->outputs);
            t->outputs[t->n_outputs++] = xmemdup0(name, q - name);
        }
    }
}

struct lq_error *
lq_trace_parse(const char *text, struct lq_trace *t)
{
    size_t allocated = 0;
    bool egress = false;
    char *outport = NULL;
    struct lq_trace_step *cur = NULL;
    size_t cur_indent = 0;
    struct lq_error *error = NULL;

    memset(t, 0, sizeof *t);
    char *copy = xstrdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t indent = indent_of(line);
        const char *body = line + indent;

        if (!strncmp(body, "ingress(", 8) || !strncmp(body, "egress(", 7)) {
            egress = body[0] == 'e';
            free(outport);
            outport = egress ? header_value(body, "outport") : NULL;
            cur = NULL;
        } else if (isdigit((unsigned char) body[0])) {
            if (t->n_steps == allocated) {
                t->steps = x2nrealloc(t->steps, &allocated, sizeof *t->steps);
            }
            struct lq_trace_step *s = &t->steps[t->n_steps];
            memset(s, 0, sizeof *s);
            if (!parse_flow_line(line, s)) {
                error = lq_error_new(LQ_INVALID_ARGUMENT, "ovn-trace output: "
                                     "cannot read the flow line \"%s\"", body);
                free(s->stage);
                free(s->match);
                break;
            }
            s->egress = egress;
            s->outport = nullable_xstrdup(outport);
            t->n_steps++;
            cur = s;
            cur_indent = indent;
        } else if (cur && indent > cur_indent && body[0]) {
            add_action(t, cur, body);
        } else {
            cur = NULL;         /* A header, a rule line, a blank line. */
        }
    }
    free(outport);
    free(copy);
    if (error) {
        lq_trace_destroy(t);
    }
    return error;
}

bool
lq_trace_step_acl(const struct lq_trace_step *s, const char **direction,
                  int *priority, char **match)
{
    const char *stage = s->stage;
    size_t len = strlen(stage);
    bool acl_stage = (!strcmp(stage, "ls_in_acl")
                      || !strcmp(stage, "ls_out_acl")
                      || (len > 9 && !strcmp(stage + len - 9, "_after_lb")
                          && strstr(stage, "_acl")));
    if (!acl_stage || s->priority <= 1000) {
        return false;
    }

    /* "reg0[N] == 1 && (" ... ")" */
    const char *m = s->match;
    if (strncmp(m, "reg0[", 5)) {
        return false;
    }
    const char *open = strstr(m, "] == 1 && (");
    size_t mlen = strlen(m);
    if (!open || m[mlen - 1] != ')') {
        return false;
    }
    for (const char *d = m + 5; d < open; d++) {
        if (!isdigit((unsigned char) *d)) {
            return false;
        }
    }
    const char *inner = open + strlen("] == 1 && (");
    *match = xmemdup0(inner, m + mlen - 1 - inner);
    *priority = s->priority - 1000;
    *direction = s->egress ? "to-lport" : "from-lport";
    return true;
}

struct lq_error *
lq_trace_parse_protocol(const char *field, const char *text, int family,
                        struct lq_protocol *p, int *dst_port)
{
    const char *slash = strchr(text, '/');
    char *name = slash ? xmemdup0(text, slash - text) : xstrdup(text);
    struct lq_error *e = NULL;

    *dst_port = -1;
    if (!strcasecmp(name, "ip") || !strcasecmp(name, "any")) {
        p->number = -1;
    } else if (!strcasecmp(name, "icmp6")) {
        e = lq_protocol_parse(field, "icmpv6", family, p);
    } else {
        e = lq_protocol_parse(field, name, family, p);
    }
    free(name);
    if (e) {
        return e;
    }

    bool ported = p->number == LQ_PROTO_TCP || p->number == LQ_PROTO_UDP
                  || p->number == LQ_PROTO_SCTP;
    bool icmp = p->number == LQ_PROTO_ICMP || p->number == LQ_PROTO_ICMPV6;
    if (slash) {
        int max = icmp ? 255 : 65535;
        char *end;
        long n = strtol(slash + 1, &end, 10);
        if (!(ported || icmp)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: only tcp, udp, sctp"
                                " and icmp take a /PORT (or /TYPE)", field);
        }
        if (!isdigit((unsigned char) slash[1]) || *end || n < (icmp ? 0 : 1)
            || n > max) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected %s "
                                "%d-%d after \"/\", got \"%s\"", field,
                                icmp ? "an ICMP type" : "a port", icmp ? 0 : 1,
                                max, slash + 1);
        }
        *dst_port = n;
    } else if (ported) {
        const char *l4 = p->number == LQ_PROTO_TCP ? "tcp"
                         : p->number == LQ_PROTO_UDP ? "udp" : "sctp";
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: %s needs a destination "
                            "port (e.g. %s/80)", field, l4, l4);
    } else if (icmp) {
        *dst_port = family == AF_INET6 ? 128 : 8;   /* Echo request. */
    }
    return NULL;
}

void
lq_trace_microflow(const struct lq_trace_packet *pk, struct ds *s)
{
    char src[LQ_IP_STRLEN], dst[LQ_IP_STRLEN];
    char esrc[LQ_MAC_STRLEN], edst[LQ_MAC_STRLEN];
    bool v6 = pk->ip_src.family == AF_INET6;
    const char *ip = v6 ? "ip6" : "ip4";

    lq_ip_format(&pk->ip_src, src);
    lq_ip_format(&pk->ip_dst, dst);
    lq_mac_format(&pk->eth_src, esrc);
    lq_mac_format(&pk->eth_dst, edst);
    ds_put_format(s, "inport == \"%s\" && eth.src == %s && eth.dst == %s && "
                  "%s.src == %s && %s.dst == %s && ip.ttl == 64",
                  pk->inport, esrc, edst, ip, src, ip, dst);

    switch (pk->protocol.number) {
    case -1:
        break;
    case LQ_PROTO_TCP:
    case LQ_PROTO_UDP:
    case LQ_PROTO_SCTP: {
        const char *l4 = pk->protocol.number == LQ_PROTO_TCP ? "tcp"
                         : pk->protocol.number == LQ_PROTO_UDP ? "udp"
                         : "sctp";
        /* A typical ephemeral source port. */
        ds_put_format(s, " && %s.src == 40000 && %s.dst == %d", l4, l4,
                      pk->dst_port);
        break;
    }
    case LQ_PROTO_ICMP:
    case LQ_PROTO_ICMPV6: {
        const char *icmp = v6 ? "icmp6" : "icmp4";
        ds_put_format(s, " && %s && %s.type == %d && %s.code == 0", icmp,
                      icmp, pk->dst_port, icmp);
        break;
    }
    default:
        ds_put_format(s, " && ip.proto == %d", pk->protocol.number);
        break;
    }
}
