/* net_types.c: parsers and formatters for typed network values. */
#include <config.h>
#include "net_types.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "random.h"
#include "util.h"

static unsigned int
family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

bool
lq_ip_parse(const char *s, struct lq_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    if (!s || strchr(s, ' ') || strlen(s) >= LQ_IP_STRLEN) {
        return false;
    }
    if (inet_pton(AF_INET, s, ip->b + 12) == 1) {
        ip->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->b) == 1) {
        ip->family = AF_INET6;
        return true;
    }
    return false;
}

void
lq_ip_format(const struct lq_ip *ip, char buf[LQ_IP_STRLEN])
{
    if (ip->family == AF_INET) {
        inet_ntop(AF_INET, ip->b + 12, buf, LQ_IP_STRLEN);
    } else {
        inet_ntop(AF_INET6, ip->b, buf, LQ_IP_STRLEN);
    }
}

int
lq_ip_cmp(const struct lq_ip *a, const struct lq_ip *b)
{
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    return memcmp(a->b, b->b, 16);
}

struct lq_ip
lq_ip_add(const struct lq_ip *ip, uint64_t n)
{
    struct lq_ip r = *ip;
    unsigned int carry = 0;
    for (int i = 15; i >= 0; i--) {
        unsigned int sum = r.b[i] + (n & 0xff) + carry;
        r.b[i] = sum & 0xff;
        carry = sum >> 8;
        n >>= 8;
    }
    if (r.family == AF_INET) {
        memset(r.b, 0, 12);
    }
    return r;
}

uint64_t
lq_ip_distance(const struct lq_ip *a, const struct lq_ip *b)
{
    /* Only the low 64 bits matter unless the high ones differ. */
    if (memcmp(a->b, b->b, 8)) {
        return UINT64_MAX;
    }
    uint64_t x = 0, y = 0;
    for (int i = 8; i < 16; i++) {
        x = (x << 8) | a->b[i];
        y = (y << 8) | b->b[i];
    }
    return y >= x ? y - x : 0;
}

static void
mask_host_bits(struct lq_ip *ip, unsigned int plen)
{
    unsigned int offset = ip->family == AF_INET ? 96 : 0;
    for (unsigned int bit = offset + plen; bit < 128; bit++) {
        ip->b[bit / 8] &= ~(0x80 >> (bit % 8));
    }
}

struct lq_error *
lq_cidr_parse(const char *field, const char *text, struct lq_cidr *cidr)
{
    char addr[LQ_IP_STRLEN];
    const char *slash = text ? strchr(text, '/') : NULL;
    char *end;

    if (!slash || slash - text >= LQ_IP_STRLEN) {
        goto bad;
    }
    memcpy(addr, text, slash - text);
    addr[slash - text] = '\0';
    if (!lq_ip_parse(addr, &cidr->ip) || !isdigit((unsigned char) slash[1])) {
        goto bad;
    }
    long plen = strtol(slash + 1, &end, 10);
    if (*end || plen < 0 || plen > (long) family_bits(cidr->ip.family)
        || (slash[1] == '0' && slash[2])) {
        goto bad;
    }
    cidr->plen = plen;

    struct lq_ip net = cidr->ip;
    mask_host_bits(&net, plen);
    if (lq_ip_cmp(&net, &cidr->ip)) {
        char buf[LQ_IP_STRLEN];
        lq_ip_format(&net, buf);
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" has host bits "
                            "set (did you mean %s/%ld?)", field, text, buf,
                            plen);
    }
    return NULL;

bad:
    return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected an IPv4 or IPv6 "
                        "prefix such as 10.0.0.0/24, got \"%s\"", field,
                        text ? text : "");
}

void
lq_cidr_format(const struct lq_cidr *cidr, char buf[LQ_CIDR_STRLEN])
{
    char ip[LQ_IP_STRLEN];
    lq_ip_format(&cidr->ip, ip);
    snprintf(buf, LQ_CIDR_STRLEN, "%s/%u", ip, cidr->plen);
}

bool
lq_cidr_contains(const struct lq_cidr *cidr, const struct lq_ip *ip)
{
    if (ip->family != cidr->ip.family) {
        return false;
    }
    struct lq_ip net = *ip;
    mask_host_bits(&net, cidr->plen);
    return !lq_ip_cmp(&net, &cidr->ip);
}

bool
lq_cidr_overlaps(const struct lq_cidr *a, const struct lq_cidr *b)
{
    return a->plen <= b->plen ? lq_cidr_contains(a, &b->ip)
                              : lq_cidr_contains(b, &a->ip);
}

struct lq_ip
lq_cidr_first(const struct lq_cidr *cidr)
{
    return cidr->ip;
}

struct lq_ip
lq_cidr_last(const struct lq_cidr *cidr)
{
    struct lq_ip last = cidr->ip;
    unsigned int offset = last.family == AF_INET ? 96 : 0;
    for (unsigned int bit = offset + cidr->plen; bit < 128; bit++) {
        last.b[bit / 8] |= 0x80 >> (bit % 8);
    }
    return last;
}

struct lq_error *
lq_mac_parse(const char *field, const char *text, struct lq_mac *mac)
{
    unsigned int v[6];
    char tail;

    if (!text || strlen(text) != 17
        || sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                  &v[3], &v[4], &v[5], &tail) != 6) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a MAC address "
                            "such as 0a:00:00:00:00:01, got \"%s\"", field,
                            text ? text : "");
    }
    for (int i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char) text[i * 3])
            || !isxdigit((unsigned char) text[i * 3 + 1])) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a MAC "
                                "address, got \"%s\"", field, text);
        }
        mac->b[i] = v[i];
    }
    if (lq_mac_is_multicast(mac)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: %s is a multicast "
                            "address; a port needs a unicast MAC", field,
                            text);
    }
    bool zero = true;
    for (int i = 0; i < 6; i++) {
        zero &= !mac->b[i];
    }
    if (zero) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: the all-zero MAC is "
                            "not valid", field);
    }
    return NULL;
}

void
lq_mac_format(const struct lq_mac *mac, char buf[LQ_MAC_STRLEN])
{
    snprintf(buf, LQ_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac->b[0], mac->b[1], mac->b[2], mac->b[3], mac->b[4],
             mac->b[5]);
}

bool
lq_mac_is_multicast(const struct lq_mac *mac)
{
    return mac->b[0] & 1;
}

void
lq_mac_random(struct lq_mac *mac)
{
    random_bytes(mac->b, sizeof mac->b);
    mac->b[0] = (mac->b[0] & 0xfc) | 0x02;     /* local, unicast */
}

struct lq_error *
lq_uuid_check(const char *field, const char *text, char out[37])
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (!text || !*text) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: required", field);
    }
    if (strlen(text) != 36) {
        goto bad;
    }
    for (int i = 0; i < 36; i++) {
        if (pattern[i] == '-' ? text[i] != '-'
                              : !isxdigit((unsigned char) text[i])) {
            goto bad;
        }
        out[i] = tolower((unsigned char) text[i]);
    }
    out[36] = '\0';
    return NULL;

bad:
    return lq_error_new(LQ_INVALID_ARGUMENT, "%s: expected a UUID such as "
                        "3f2a8c1e-0000-4000-8000-000000000001, got \"%s\"",
                        field, text);
}

/* Returns the length of the UTF-8 sequence at 's', or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

struct lq_error *
lq_text_check(const char *field, const char *text, size_t max)
{
    if (strlen(text) > max) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: longer than %zu bytes",
                            field, max);
    }
    for (const unsigned char *p = (const unsigned char *) text; *p; ) {
        size_t n = utf8_len(p);
        if (!n) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: not valid UTF-8",
                                field);
        }
        if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "%s: control characters "
                                "are not allowed", field);
        }
        p += n;
    }
    return NULL;
}

struct lq_error *
lq_dns_name_check(const char *field, const char *text, bool allow_dots)
{
    size_t len = strlen(text), label = 0;

    if (!len || len > 253) {
        goto bad;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = text[i];
        if (c == '.' || !c) {
            if (!label || (c == '.' && !allow_dots) || text[i - 1] == '-') {
                goto bad;
            }
            label = 0;
        } else if (isalnum((unsigned char) c) || (c == '-' && label)) {
            if (++label > 63) {
                goto bad;
            }
        } else {
            goto bad;
        }
    }
    return NULL;

bad:
    return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a valid DNS "
                        "%s (letters, digits and inner hyphens%s)", field,
                        text, allow_dots ? "domain" : "label",
                        allow_dots ? ", dot-separated" : "");
}

static const struct {
    const char *name;
    int number;
} protocols[] = {
    { "tcp", LQ_PROTO_TCP }, { "udp", LQ_PROTO_UDP },
    { "sctp", LQ_PROTO_SCTP }, { "icmp", LQ_PROTO_ICMP },
    { "icmpv6", LQ_PROTO_ICMPV6 }, { "ipv6-icmp", LQ_PROTO_ICMPV6 },
};

struct lq_error *
lq_protocol_parse(const char *field, const char *text, int family,
                  struct lq_protocol *p)
{
    if (!text || !*text || !strcmp(text, "any")) {
        p->number = -1;
        return NULL;
    }
    for (size_t i = 0; i < ARRAY_SIZE(protocols); i++) {
        if (!strcasecmp(text, protocols[i].name)) {
            p->number = protocols[i].number;
            goto check_family;
        }
    }
    char *end;
    long n = strtol(text, &end, 10);
    if (!isdigit((unsigned char) *text) || *end || n < 0 || n > 255) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: unknown protocol \"%s\""
                            " (expected tcp, udp, sctp, icmp, icmpv6 or a "
                            "number 0-255)", field, text);
    }
    p->number = n;

check_family:
    if (p->number == LQ_PROTO_ICMP && family == AF_INET6) {
        p->number = LQ_PROTO_ICMPV6;        /* Neutron accepts "icmp" here. */
    } else if (p->number == LQ_PROTO_ICMPV6 && family == AF_INET) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: icmpv6 needs ethertype "
                            "IPv6", field);
    }
    return NULL;
}

const char *
lq_protocol_name(const struct lq_protocol *p, char buf[8])
{
    if (p->number < 0) {
        return "";
    }
    for (size_t i = 0; i < ARRAY_SIZE(protocols); i++) {
        if (protocols[i].number == p->number) {
            return protocols[i].name;
        }
    }
    snprintf(buf, 8, "%d", p->number & 0xff);
    return buf;
}
