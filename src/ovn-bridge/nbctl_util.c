/* nbctl_util.c: prefix normalisation, route ranking and the read-only
 * policy of `lqctl nb`; pure functions, see nbctl_util.h. */
#include <config.h>
#include "nbctl_util.h"

#include <arpa/inet.h>
#include <string.h>

#include "db-ctl-base.h"
#include "packets.h"
#include "util.h"

static char *
normalize_ipv4(const char *s)
{
    ovs_be32 ip;
    unsigned int plen;
    char *error = ip_parse_cidr(s, &ip, &plen);
    if (error) {
        free(error);
        return NULL;
    }
    ovs_be32 network = ip & be32_prefix_mask(plen);
    return plen == 32 ? xasprintf(IP_FMT, IP_ARGS(network))
                      : xasprintf(IP_FMT "/%u", IP_ARGS(network), plen);
}

static char *
normalize_ipv6(const char *s)
{
    struct in6_addr ip;
    unsigned int plen;
    char *error = ipv6_parse_cidr(s, &ip, &plen);
    if (error) {
        free(error);
        return NULL;
    }
    struct in6_addr mask = ipv6_create_mask(plen);
    struct in6_addr network = ipv6_addr_bitand(&ip, &mask);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &network, text, sizeof text);
    return plen == 128 ? xstrdup(text) : xasprintf("%s/%u", text, plen);
}

char *
nbctl_normalize_prefix(const char *s)
{
    char *v4 = normalize_ipv4(s);
    return v4 ? v4 : normalize_ipv6(s);
}

int
nbctl_route_rank(unsigned int plen, const char *policy)
{
    bool dst_ip = !policy || !strcmp(policy, "dst-ip");
    return 2 * (int) plen + dst_ip;
}

enum nbctl_support
nbctl_command_support(const struct ctl_command_syntax *syntax)
{
    if (syntax->mode == RW) {
        return NBCTL_WRITES;
    }
    /* "comment" is the one command that legitimately does nothing. */
    if (!syntax->run && strcmp(syntax->name, "comment")) {
        return NBCTL_NOT_IMPLEMENTED;
    }
    return NBCTL_RUNS;
}

char *
nbctl_check_commands(const struct ctl_command *commands, size_t n,
                     const char *wait)
{
    bool waits = wait && strcmp(wait, "none");

    for (size_t i = 0; i < n; i++) {
        const char *name = commands[i].syntax->name;
        switch (nbctl_command_support(commands[i].syntax)) {
        case NBCTL_RUNS:
            if (waits && !strcmp(name, "sync")) {
                return xasprintf("\"sync\" with --wait=%s would change the "
                                 "database (NB_Global nb_cfg), and lqctl nb "
                                 "is read-only", wait);
            }
            break;
        case NBCTL_WRITES:
            return xasprintf("\"%s\" would change the database, and lqctl nb "
                             "is read-only (use ovn-nbctl to make changes)",
                             name);
        case NBCTL_NOT_IMPLEMENTED:
            return xasprintf("\"%s\" is not implemented by lqctl nb (see "
                             "lqctl nb --help for the supported commands)",
                             name);
        }
    }
    return NULL;
}

char *
nbctl_check_option(const char *name)
{
    static const char *const daemon_options[] = {
        "detach", "no-self-confinement", "no-chdir", "pidfile",
        "overwrite-pidfile", "monitor", "user", "unixctl",
    };

    for (size_t i = 0; i < ARRAY_SIZE(daemon_options); i++) {
        if (!strcmp(name, daemon_options[i])) {
            return xasprintf("--%s: lqctl nb has no daemon mode; it always "
                             "talks to the database directly", name);
        }
    }
    return NULL;
}
