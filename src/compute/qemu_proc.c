#include <config.h>
/* qemu_proc.c: when a VM started, from its QEMU process (compute_impl.h).
 *
 * libvirt does not say when a domain started.  The QEMU process does: its
 * start time is in /proc/PID/stat, and libvirt gives every QEMU "-uuid
 * <domain UUID>", so one pass over /proc finds the start of every VM on
 * this host.  That survives a restart of the daemon, which the STARTED
 * events (events.c) do not; it finds nothing for libvirt's test driver or
 * a remote libvirtd, and then the events' time is used.
 *
 * Design decisions:
 * - Only processes whose argv[0] names qemu are looked at, and only their
 *   own /proc files are read; nothing is executed.
 * - The start time in ticks after boot is turned into wall-clock time
 *   with CLOCK_BOOTTIME (the clock /proc/PID/stat counts from) rather than
 *   /proc/stat's btime, which has whole seconds only. */
#include "compute_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

bool
lq_qemu_cmdline_uuid(const char *cmdline, size_t len, char uuid[37])
{
    const char *end = cmdline + len;
    const char *arg0 = cmdline;
    size_t n0 = strnlen(arg0, len);
    const char *base = memrchr(arg0, '/', n0);
    base = base ? base + 1 : arg0;
    if (!memmem(base, n0 - (base - arg0), "qemu", 4)) {
        return false;
    }
    for (const char *a = arg0; a < end; a += strnlen(a, end - a) + 1) {
        if (!strcmp(a, "-uuid")) {
            const char *v = a + strlen(a) + 1;
            if (v >= end || strnlen(v, end - v) != 36) {
                return false;
            }
            for (int i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? v[i] != '-' : !isxdigit((unsigned char) v[i])) {
                    return false;
                }
                uuid[i] = tolower((unsigned char) v[i]);
            }
            uuid[36] = '\0';
            return true;
        }
    }
    return false;
}

bool
lq_proc_stat_starttime(const char *stat, unsigned long long *ticks)
{
    /* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses,
     * so count from the last ')'; starttime is field 22, the 20th after
     * it. */
    const char *p = strrchr(stat, ')');
    if (!p) {
        return false;
    }
    p++;
    for (int field = 3; field < 22; field++) {
        while (*p == ' ') {
            p++;
        }
        if (!*p) {
            return false;
        }
        p += strcspn(p, " ");
    }
    char *end;
    while (*p == ' ') {
        p++;
    }
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || (*end && *end != ' ' && *end != '\n')) {
        return false;
    }
    *ticks = v;
    return true;
}

/* Reads up to 'size' - 1 bytes of 'path' into 'buf'; the length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0) {
        buf[n] = '\0';
    }
    return n;
}

static int64_t
clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void
compute_qemu_start_times(struct smap *starts)
{
    DIR *dir = opendir("/proc");
    if (!dir) {
        return;
    }
    long hz = sysconf(_SC_CLK_TCK);
    int64_t boot_ms = clock_ms(CLOCK_REALTIME) - clock_ms(CLOCK_BOOTTIME);
    struct dirent *de;
    while ((de = readdir(dir))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (!isdigit((unsigned char) de->d_name[0]) || *end || pid <= 0) {
            continue;
        }
        /* "-uuid" comes early in libvirt's QEMU command line. */
        char path[64], buf[16384], uuid[37];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        ssize_t n = read_small(path, buf, sizeof buf);
        if (n <= 0 || !lq_qemu_cmdline_uuid(buf, n, uuid)) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        unsigned long long ticks;
        if (read_small(path, buf, sizeof buf) > 0 && hz > 0
            && lq_proc_stat_starttime(buf, &ticks)) {
            int64_t ms = boot_ms + (int64_t) (ticks * 1000 / hz);
            smap_replace_nocopy(starts, uuid, xasprintf("%"PRId64, ms));
        }
    }
    closedir(dir);
}
