/* host_stats.h: the host's cumulative counters from procfs: CPU time,
 * block devices (/proc/diskstats), network interfaces (/proc/net/dev).
 *
 * Parsers take the file's text (unit-tested on fixed samples); readers
 * open the live files.  Rates are the caller's business: it keeps two
 * samples. */
#ifndef LQ_HOST_STATS_H
#define LQ_HOST_STATS_H 1

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Busy (all but idle and iowait) and total jiffies of the "cpu" line. */
bool lq_host_read_cpu_times(unsigned long long *busy,
                            unsigned long long *total);

struct lq_host_disk_stat {
    char name[32];
    uint64_t reads, writes;             /* Completed operations. */
    uint64_t read_bytes, write_bytes;
    uint64_t io_ms;                     /* Time spent doing I/O. */
};
/* The lines of /proc/diskstats whose device 'keep' accepts (NULL: all);
 * malformed lines are skipped.  Caller frees '*statsp'. */
void lq_diskstats_parse(const char *text, bool (*keep)(const char *name),
                        struct lq_host_disk_stat **statsp, size_t *n);
/* Whole disks of this host: not partitions, loop or ram devices. */
void lq_host_read_disks(struct lq_host_disk_stat **statsp, size_t *n);

struct lq_host_net_stat {
    char name[IF_NAMESIZE];
    uint64_t rx_bytes, rx_packets, rx_errors;
    uint64_t tx_bytes, tx_packets, tx_errors;
};
/* The interfaces of /proc/net/dev, loopback left out. */
void lq_net_dev_parse(const char *text, struct lq_host_net_stat **statsp,
                      size_t *n);
void lq_host_read_net(struct lq_host_net_stat **statsp, size_t *n);

#endif
