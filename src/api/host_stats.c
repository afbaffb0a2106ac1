/* host_stats.c: procfs counters (see host_stats.h). */
#include <config.h>
#include "host_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "util.h"

bool
lq_host_read_cpu_times(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[10] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    int n = 0;

    if (f) {
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                   &v[8], &v[9]);
        fclose(f);
    }
    if (n < 4) {
        return false;
    }
    /* guest and guest_nice (v[8], v[9]) are already counted in user/nice. */
    *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    *busy = *total - v[3] - v[4];   /* minus idle and iowait */
    return true;
}

/* Calls 'line_fn' for each line of 'text' (a copy it may modify). */
static void
for_each_line(const char *text, void (*line_fn)(char *, void *), void *aux)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        char *line = xmemdup0(text, n);
        line_fn(line, aux);
        free(line);
        text += n + (text[n] == '\n');
    }
}

struct disk_parse {
    bool (*keep)(const char *);
    struct lq_host_disk_stat *stats;
    size_t n, allocated;
};

static void
diskstats_line(char *line, void *dp_)
{
    struct disk_parse *dp = dp_;
    struct lq_host_disk_stat d;
    unsigned long long f[10];
    memset(&d, 0, sizeof d);
    /* major minor name reads merged sectors ms writes merged sectors ms
     * in-flight io_ms ... (sectors are 512 bytes whatever the device). */
    if (sscanf(line, "%*u %*u %31s %llu %llu %llu %llu %llu %llu %llu %llu "
               "%llu %llu", d.name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
               &f[6], &f[7], &f[8], &f[9]) != 11
        || (dp->keep && !dp->keep(d.name))) {
        return;
    }
    d.reads = f[0];
    d.read_bytes = f[2] * 512;
    d.writes = f[4];
    d.write_bytes = f[6] * 512;
    d.io_ms = f[9];
    if (dp->n >= dp->allocated) {
        dp->stats = x2nrealloc(dp->stats, &dp->allocated, sizeof *dp->stats);
    }
    dp->stats[dp->n++] = d;
}

void
lq_diskstats_parse(const char *text, bool (*keep)(const char *name),
                   struct lq_host_disk_stat **statsp, size_t *n)
{
    struct disk_parse dp = { .keep = keep };
    for_each_line(text, diskstats_line, &dp);
    *statsp = dp.stats;
    *n = dp.n;
}

/* /sys/block lists whole disks only; loop and ram devices are not the
 * host's storage. */
static bool
is_whole_disk(const char *name)
{
    if (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3)
        || strchr(name, '/') || name[0] == '.') {
        return false;
    }
    char path[64];
    snprintf(path, sizeof path, "/sys/block/%s", name);
    return !access(path, F_OK);
}

void
lq_host_read_disks(struct lq_host_disk_stat **statsp, size_t *n)
{
    char *text;
    *statsp = NULL;
    *n = 0;
    if (!lq_read_file("/proc/diskstats", &text, NULL)) {
        lq_diskstats_parse(text, is_whole_disk, statsp, n);
        free(text);
    }
}

struct net_parse {
    struct lq_host_net_stat *stats;
    size_t n, allocated;
};

static void
net_dev_line(char *line, void *np_)
{
    struct net_parse *np = np_;
    char *colon = strchr(line, ':');
    if (!colon) {
        return;                         /* The two header lines. */
    }
    *colon = '\0';
    char *name = line + strspn(line, " ");
    struct lq_host_net_stat s;
    unsigned long long f[11];
    memset(&s, 0, sizeof s);
    /* rx: bytes packets errs drop fifo frame compressed multicast;
     * tx: bytes packets errs ... */
    if (!*name || strlen(name) >= sizeof s.name || !strcmp(name, "lo")
        || sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu "
                  "%llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
                  &f[6], &f[7], &f[8], &f[9], &f[10]) != 11) {
        return;
    }
    strcpy(s.name, name);
    s.rx_bytes = f[0];
    s.rx_packets = f[1];
    s.rx_errors = f[2];
    s.tx_bytes = f[8];
    s.tx_packets = f[9];
    s.tx_errors = f[10];
    if (np->n >= np->allocated) {
        np->stats = x2nrealloc(np->stats, &np->allocated, sizeof *np->stats);
    }
    np->stats[np->n++] = s;
}

void
lq_net_dev_parse(const char *text, struct lq_host_net_stat **statsp,
                 size_t *n)
{
    struct net_parse np = { .stats = NULL };
    for_each_line(text, net_dev_line, &np);
    *statsp = np.stats;
    *n = np.n;
}

void
lq_host_read_net(struct lq_host_net_stat **statsp, size_t *n)
{
    char *text;
    *statsp = NULL;
    *n = 0;
    if (!lq_read_file("/proc/net/dev", &text, NULL)) {
        lq_net_dev_parse(text, statsp, n);
        free(text);
    }
}
