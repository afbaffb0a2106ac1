/* nbctl_util.h: the pure pieces of `lqctl nb` (see nbctl.h): prefix
 * normalisation and route ordering as ovn-nbctl prints them, and the
 * read-only policy that decides which parsed commands we run.
 *
 * No database access here, so all of it is unit-tested on its own
 * (tests/nbctl/test_nbctl_util.c).  Every returned string is malloc'ed and
 * owned by the caller. */
#ifndef LQ_NBCTL_UTIL_H
#define LQ_NBCTL_UTIL_H 1

#include <stdbool.h>
#include <stddef.h>

struct ctl_command;
struct ctl_command_syntax;

/* "10.0.0.1/8" -> "10.0.0.0/8", "10.0.0.1/32" -> "10.0.0.1",
 * "fd00::1/64" -> "fd00::/64", "fd00::1/128" -> "fd00::1"; NULL if 's' is
 * neither an IPv4 nor an IPv6 prefix (an address alone counts as /32 or
 * /128).  This is how ovn-nbctl shows route prefixes and next hops. */
char *nbctl_normalize_prefix(const char *s);

/* The rank ovn-nbctl sorts a static route by within its route table: longer
 * prefixes first, and at equal length a "dst-ip" route (policy NULL or
 * "dst-ip") before a "src-ip" one. */
int nbctl_route_rank(unsigned int plen, const char *policy);

/* Why lqctl nb will not run a command. */
enum nbctl_support {
    NBCTL_RUNS,                 /* Read-only and implemented. */
    NBCTL_WRITES,               /* Would change the database. */
    NBCTL_NOT_IMPLEMENTED,      /* Read-only, but not offered by lqctl nb. */
};

enum nbctl_support nbctl_command_support(const struct ctl_command_syntax *);

/* Returns NULL if every one of the 'n' parsed commands may run, otherwise
 * the message that refuses the first one that may not.  'wait' is the
 * effective --wait argument (NULL or "none" for no waiting): ovn-nbctl
 * only waits, and bumps NB_Global's nb_cfg to do so, for a transaction
 * that changes something, which among read-only commands means "sync". */
char *nbctl_check_commands(const struct ctl_command *, size_t n,
                           const char *wait);

/* Returns NULL if the global option 'name' (without "--") is acceptable to
 * lqctl nb, otherwise the message that refuses it (the daemon-mode
 * options: there is no daemon mode). */
char *nbctl_check_option(const char *name);

#endif /* nbctl_util.h */
