/* cpulist.c: the pure parsers of the DPDK section: CPU lists ("2-3,5") and
 * PCI addresses.
 *
 * Kept free of any host access so that the config loader can validate
 * dpdk.pmd_cores and dpdk.interfaces[].pci at load time, with the file and
 * line, before anything looks at the machine. */
#include <config.h>
#include "limiquantix/dpdk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Parses decimal digits at '*p' (no sign, no spaces) into '*value'. */
static bool
parse_cpu_number(const char **p, unsigned long *value)
{
    const char *s = *p;
    unsigned long v = 0;

    if (!isdigit((unsigned char) *s)) {
        return false;
    }
    while (isdigit((unsigned char) *s)) {
        v = v * 10 + (*s++ - '0');
        if (v > 1000000) {
            v = 1000000;        /* Only has to stay out of range. */
        }
    }
    *p = s;
    *value = v;
    return true;
}

struct lq_error *
lq_cpu_list_parse(const char *text, cpu_set_t *set)
{
    const char *p = text;
    const char *end = text + strlen(text);

    CPU_ZERO(set);
    while (isspace((unsigned char) *p)) {
        p++;
    }
    while (end > p && isspace((unsigned char) end[-1])) {
        end--;
    }
    if (p == end) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "empty CPU list");
    }
    for (;;) {
        unsigned long first, last;
        if (!parse_cpu_number(&p, &first)) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "expected a CPU number "
                                "at \"%.*s\" in \"%s\"", (int) (end - p), p,
                                text);
        }
        last = first;
        if (*p == '-') {
            p++;
            if (!parse_cpu_number(&p, &last)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "expected a CPU "
                                    "number after \"-\" in \"%s\"", text);
            }
            if (last < first) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "backwards range "
                                    "%lu-%lu in \"%s\"", first, last, text);
            }
        }
        if (last >= CPU_SETSIZE) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "CPU %lu is out of range "
                                "(at most %d) in \"%s\"", last,
                                CPU_SETSIZE - 1, text);
        }
        for (unsigned long cpu = first; cpu <= last; cpu++) {
            if (CPU_ISSET(cpu, set)) {
                return lq_error_new(LQ_INVALID_ARGUMENT, "CPU %lu is listed "
                                    "twice in \"%s\"", cpu, text);
            }
            CPU_SET(cpu, set);
        }
        if (p == end) {
            return NULL;
        }
        if (*p != ',') {
            return lq_error_new(LQ_INVALID_ARGUMENT, "unexpected \"%c\" in "
                                "\"%s\" (expected a list like \"2-3,5\")",
                                *p, text);
        }
        p++;
    }
}

char *
lq_cpu_list_format(const cpu_set_t *set)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, set)) {
            continue;
        }
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) {
            last++;
        }
        ds_put_format(&s, "%s%d", s.length ? "," : "", cpu);
        if (last > cpu) {
            ds_put_format(&s, "-%d", last);
        }
        cpu = last;
    }
    return ds_steal_cstr(&s);
}

char *
lq_cpu_list_hex_mask(const cpu_set_t *set)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    int top = -1;

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, set)) {
            top = cpu;
        }
    }
    ds_put_cstr(&s, "0x");
    if (top < 0) {
        ds_put_char(&s, '0');
    }
    for (int nibble = top / 4; top >= 0 && nibble >= 0; nibble--) {
        int v = 0;
        for (int bit = 0; bit < 4; bit++) {
            int cpu = nibble * 4 + bit;
            if (cpu < CPU_SETSIZE && CPU_ISSET(cpu, set)) {
                v |= 1 << bit;
            }
        }
        ds_put_char(&s, "0123456789abcdef"[v]);
    }
    return ds_steal_cstr(&s);
}

/* Exactly 'n' hex digits at 's'. */
static bool
hex_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}

bool
lq_pci_addr_normalize(const char *addr, char out[LQ_PCI_ADDR_LEN + 1])
{
    char full[LQ_PCI_ADDR_LEN + 1];
    size_t len = strlen(addr);

    if (len == 7) {                 /* BB:DD.F */
        snprintf(full, sizeof full, "0000:%s", addr);
    } else if (len == LQ_PCI_ADDR_LEN) {
        memcpy(full, addr, len + 1);
    } else {
        return false;
    }
    /* DDDD:BB:DD.F with device <= 0x1f and function <= 7. */
    if (!hex_digits(full, 4) || full[4] != ':' || !hex_digits(full + 5, 2)
        || full[7] != ':' || !hex_digits(full + 8, 2) || full[10] != '.'
        || full[11] < '0' || full[11] > '7'
        || strtol((char[3]) { full[8], full[9], '\0' }, NULL, 16) > 0x1f) {
        return false;
    }
    for (int i = 0; i < LQ_PCI_ADDR_LEN; i++) {
        out[i] = tolower((unsigned char) full[i]);
    }
    out[LQ_PCI_ADDR_LEN] = '\0';
    return true;
}
