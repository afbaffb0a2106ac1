/* net_types.h: typed network values, parsed at the edge.
 *
 * Anything that can end up in an OVN match, an OVSDB column or a command
 * line (addresses, prefixes, MACs, protocols, ids) is parsed here into a
 * typed value first, and only ever formatted back from that value.  So a
 * string like "0.0.0.0/0 || 1" can never reach a match: it is not a CIDR. */
#ifndef LQ_NET_TYPES_H
#define LQ_NET_TYPES_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/error.h"

/* An IPv4 or IPv6 address as a 128-bit big-endian number (IPv4 in the low
 * 32 bits), which makes ranges and arithmetic uniform. */
struct lq_ip {
    int family;                 /* AF_INET or AF_INET6. */
    uint8_t b[16];
};

struct lq_cidr {
    struct lq_ip ip;            /* Network address: host bits are zero. */
    unsigned int plen;
};

#define LQ_IP_STRLEN 46         /* INET6_ADDRSTRLEN */
#define LQ_CIDR_STRLEN 50

bool lq_ip_parse(const char *, struct lq_ip *);
void lq_ip_format(const struct lq_ip *, char buf[LQ_IP_STRLEN]);
int lq_ip_cmp(const struct lq_ip *, const struct lq_ip *);
/* a + n (wrapping within the family's width). */
struct lq_ip lq_ip_add(const struct lq_ip *, uint64_t n);
/* b - a, saturated to UINT64_MAX. */
uint64_t lq_ip_distance(const struct lq_ip *a, const struct lq_ip *b);

/* Parses "ADDR/PLEN"; refuses host bits ("10.0.0.1/24"). 'field' names the
 * input in the error. */
struct lq_error *lq_cidr_parse(const char *field, const char *text,
                               struct lq_cidr *);
void lq_cidr_format(const struct lq_cidr *, char buf[LQ_CIDR_STRLEN]);
bool lq_cidr_contains(const struct lq_cidr *, const struct lq_ip *);
bool lq_cidr_overlaps(const struct lq_cidr *, const struct lq_cidr *);
/* First and last address of the prefix. */
struct lq_ip lq_cidr_first(const struct lq_cidr *);
struct lq_ip lq_cidr_last(const struct lq_cidr *);

/* MAC addresses "aa:bb:cc:dd:ee:ff" (case-insensitive). */
struct lq_mac {
    uint8_t b[6];
};
#define LQ_MAC_STRLEN 18
struct lq_error *lq_mac_parse(const char *field, const char *text,
                              struct lq_mac *);
void lq_mac_format(const struct lq_mac *, char buf[LQ_MAC_STRLEN]);
bool lq_mac_is_multicast(const struct lq_mac *);
/* A random locally administered unicast MAC (fa:16:3e like Neutron? no:
 * 0a:xx, with the local bit set and the multicast bit clear). */
void lq_mac_random(struct lq_mac *);

/* Ids chosen by callers: canonical lowercase UUID strings. */
struct lq_error *lq_uuid_check(const char *field, const char *text,
                               char out[37]);

/* Free-form names and descriptions: at most 'max' bytes, valid UTF-8, no
 * control characters.  They are only ever stored, never put in a match. */
struct lq_error *lq_text_check(const char *field, const char *text,
                               size_t max);

/* DNS labels for dnsName / dnsDomain (RFC 1123, dot-separated). */
struct lq_error *lq_dns_name_check(const char *field, const char *text,
                                   bool allow_dots);

/* IP protocols: name or number.  'number' is -1 for "any". */
struct lq_protocol {
    int number;                 /* 0..255, or -1 = any. */
};
struct lq_error *lq_protocol_parse(const char *field, const char *text,
                                   int ethertype_family,
                                   struct lq_protocol *);
/* Canonical name ("tcp", "icmp", "58", "" for any). */
const char *lq_protocol_name(const struct lq_protocol *, char buf[8]);

#define LQ_PROTO_ICMP 1
#define LQ_PROTO_TCP 6
#define LQ_PROTO_UDP 17
#define LQ_PROTO_ICMPV6 58
#define LQ_PROTO_SCTP 132

#endif
