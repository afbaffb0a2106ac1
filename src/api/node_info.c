/* node_info.c: what GetNodeInfo reports, read from the host itself.
 *
 * CPU and memory come from procfs, filesystems from /proc/self/mounts plus
 * statvfs(), disks from sysfs, and NICs and their addresses from rtnetlink
 * through libnl-3 (not by parsing `ip` output).  The text parsers are pure
 * functions so unit tests can feed them captured files. */
#include <config.h>
#include "limiquantix/node.h"
#include "node-private.h"
#include "fileutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <mntent.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <dirent.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "sset.h"
#include "util.h"

/* The file's text, or NULL if it cannot be read. */
static char *
read_file(const char *path)
{
    char *text;
    return lq_read_file(path, &text, NULL) ? NULL : text;
}

static char *
read_file_trimmed(const char *path)
{
    char *s = read_file(path);
    if (s) {
        size_t n = strlen(s);
        while (n && isspace((unsigned char) s[n - 1])) {
            s[--n] = '\0';
        }
    }
    return s;
}

/* Splits "key<TAB>: value" lines of /proc/cpuinfo. */
static bool
cpuinfo_line(char *line, char **key, char **value)
{
    char *colon = strchr(line, ':');
    if (!colon) {
        return false;
    }
    char *end = colon;
    while (end > line && isspace((unsigned char) end[-1])) {
        end--;
    }
    *end = '\0';
    *key = line;
    *value = colon + 1;
    while (isspace((unsigned char) **value)) {
        (*value)++;
    }
    return true;
}

void
lq_cpu_info_clear(struct lq_cpu_info *cpu)
{
    free(cpu->model);
    for (size_t i = 0; i < cpu->n_features; i++) {
        free(cpu->features[i]);
    }
    free(cpu->features);
    memset(cpu, 0, sizeof *cpu);
}

struct lq_error *
lq_cpuinfo_parse(const char *text, struct lq_cpu_info *cpu)
{
    struct sset sockets = SSET_INITIALIZER(&sockets);
    struct sset cores = SSET_INITIALIZER(&cores);
    char *copy = xstrdup(text), *save = NULL;
    char *physical_id = xstrdup("0");
    double mhz = 0;

    memset(cpu, 0, sizeof *cpu);
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *key, *value;
        if (!cpuinfo_line(line, &key, &value)) {
            continue;
        }
        if (!strcmp(key, "processor")) {
            cpu->total_threads++;
        } else if (!strcmp(key, "model name") && !cpu->model) {
            cpu->model = xstrdup(value);
        } else if (!strcmp(key, "physical id")) {
            free(physical_id);
            physical_id = xstrdup(value);
            sset_add(&sockets, value);
        } else if (!strcmp(key, "core id")) {
            char *core = xasprintf("%s/%s", physical_id, value);
            sset_add(&cores, core);
            free(core);
        } else if (!strcmp(key, "cpu MHz") && !mhz) {
            mhz = strtod(value, NULL);
        } else if (!strcmp(key, "flags") && !cpu->features) {
            char *fsave = NULL;
            for (char *f = strtok_r(value, " ", &fsave); f;
                 f = strtok_r(NULL, " ", &fsave)) {
                cpu->features = xrealloc(cpu->features, (cpu->n_features + 1)
                                         * sizeof *cpu->features);
                cpu->features[cpu->n_features++] = xstrdup(f);
            }
        }
    }
    free(copy);
    free(physical_id);

    struct lq_error *error = NULL;
    if (!cpu->total_threads) {
        error = lq_error_new(LQ_INTERNAL, "cpuinfo: no \"processor\" entries");
        lq_cpu_info_clear(cpu);
    } else {
        /* Architectures without topology lines count as one socket with one
         * thread per core. */
        cpu->sockets = MAX(1, sset_count(&sockets));
        size_t n_cores = sset_count(&cores) ? sset_count(&cores)
                                            : cpu->total_threads;
        cpu->cores_per_socket = MAX(1, n_cores / cpu->sockets);
        cpu->threads_per_core = MAX(1, cpu->total_threads / n_cores);
        cpu->frequency_mhz = mhz;
        if (!cpu->model) {
            cpu->model = xstrdup("unknown");
        }
    }
    sset_destroy(&sockets);
    sset_destroy(&cores);
    return error;
}

struct lq_error *
lq_meminfo_parse(const char *text, struct lq_memory_info *mem)
{
    unsigned long long total = 0, available = 0;
    bool have_total = false, have_available = false;

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (!strncmp(p, "MemTotal:", 9)) {
            have_total = sscanf(p + 9, "%llu", &total) == 1;
        } else if (!strncmp(p, "MemAvailable:", 13)) {
            have_available = sscanf(p + 13, "%llu", &available) == 1;
        }
    }
    if (!have_total || !have_available) {
        return lq_error_new(LQ_INTERNAL, "meminfo: MemTotal or MemAvailable "
                            "missing");
    }
    mem->total_bytes = total * 1024;
    mem->available_bytes = MIN(available, total) * 1024;
    mem->used_bytes = mem->total_bytes - mem->available_bytes;
    return NULL;
}

bool
lq_machine_id_to_uuid(const char *id, char uuid[37])
{
    if (strlen(id) != 32) {
        return false;
    }
    for (int i = 0; i < 32; i++) {
        if (!isxdigit((unsigned char) id[i])) {
            return false;
        }
    }
    snprintf(uuid, 37, "%.8s-%.4s-%.4s-%.4s-%.12s",
             id, id + 8, id + 12, id + 16, id + 20);
    for (int i = 0; i < 36; i++) {
        uuid[i] = tolower((unsigned char) uuid[i]);
    }
    return true;
}

/* Filesystems: real ones only (a block device or network source). */
static bool
fs_type_is_pseudo(const char *type)
{
    static const char *const pseudo[] = {
        "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2",
        "securityfs", "debugfs", "tracefs", "pstore", "bpf", "mqueue",
        "hugetlbfs", "configfs", "fusectl", "autofs", "binfmt_misc", "rpc_pipefs",
        "nsfs", "ramfs", "efivarfs", "overlay", "squashfs",
    };
    for (size_t i = 0; i < ARRAY_SIZE(pseudo); i++) {
        if (!strcmp(type, pseudo[i])) {
            return true;
        }
    }
    return false;
}

static void
gather_filesystems(struct lq_node_info *info)
{
    FILE *f = setmntent("/proc/self/mounts", "r");
    struct sset seen = SSET_INITIALIZER(&seen);
    struct mntent ent;
    char buf[4096];

    if (!f) {
        return;
    }
    while (getmntent_r(f, &ent, buf, sizeof buf)) {
        struct statvfs st;
        if (fs_type_is_pseudo(ent.mnt_type) || !sset_add(&seen, ent.mnt_fsname)
            || statvfs(ent.mnt_dir, &st) || !st.f_blocks) {
            continue;
        }
        info->filesystems = xrealloc(info->filesystems,
                                     (info->n_filesystems + 1)
                                     * sizeof *info->filesystems);
        struct lq_filesystem_info *fs = &info->filesystems[info->n_filesystems++];
        fs->device = xstrdup(ent.mnt_fsname);
        fs->mount_point = xstrdup(ent.mnt_dir);
        fs->filesystem = xstrdup(ent.mnt_type);
        fs->total_bytes = (uint64_t) st.f_blocks * st.f_frsize;
        fs->available_bytes = (uint64_t) st.f_bavail * st.f_frsize;
        fs->used_bytes = (uint64_t) (st.f_blocks - st.f_bfree) * st.f_frsize;
    }
    endmntent(f);
    sset_destroy(&seen);
}

static void
gather_disks(struct lq_node_info *info)
{
    DIR *dir = opendir("/sys/block");
    struct dirent *de;

    if (!dir) {
        return;
    }
    while ((de = readdir(dir))) {
        const char *name = de->d_name;
        if (name[0] == '.' || !strncmp(name, "loop", 4)
            || !strncmp(name, "ram", 3) || !strncmp(name, "zram", 4)) {
            continue;
        }
        char *path = xasprintf("/sys/block/%s/size", name);
        char *size = read_file_trimmed(path);
        free(path);
        unsigned long long sectors = size ? strtoull(size, NULL, 10) : 0;
        free(size);
        if (!sectors) {
            continue;
        }

        info->disks = xrealloc(info->disks,
                               (info->n_disks + 1) * sizeof *info->disks);
        struct lq_disk_info *d = &info->disks[info->n_disks++];
        d->name = xstrdup(name);
        d->size_bytes = sectors * 512;   /* sysfs counts 512-byte sectors. */

        path = xasprintf("/sys/block/%s/queue/rotational", name);
        char *rot = read_file_trimmed(path);
        free(path);
        d->rotational = rot && !strcmp(rot, "1");
        free(rot);

        path = xasprintf("/sys/block/%s/device/model", name);
        d->model = read_file_trimmed(path);
        free(path);
        if (!d->model) {
            d->model = xstrdup("");
        }
    }
    closedir(dir);
}

/* NICs through rtnetlink. */
struct nl_caches {
    struct nl_sock *sock;
    struct nl_cache *links;
    struct nl_cache *addrs;
    struct nl_cache *routes;
};

static void
nl_caches_free(struct nl_caches *c)
{
    if (c->routes) {
        nl_cache_free(c->routes);
    }
    if (c->addrs) {
        nl_cache_free(c->addrs);
    }
    if (c->links) {
        nl_cache_free(c->links);
    }
    if (c->sock) {
        nl_socket_free(c->sock);
    }
}

static struct lq_error *
nl_caches_load(struct nl_caches *c)
{
    int err;

    memset(c, 0, sizeof *c);
    c->sock = nl_socket_alloc();
    if (!c->sock) {
        return lq_error_new(LQ_INTERNAL, "netlink: out of memory");
    }
    if ((err = nl_connect(c->sock, NETLINK_ROUTE))
        || (err = rtnl_link_alloc_cache(c->sock, AF_UNSPEC, &c->links))
        || (err = rtnl_addr_alloc_cache(c->sock, &c->addrs))
        || (err = rtnl_route_alloc_cache(c->sock, AF_INET, 0, &c->routes))) {
        nl_caches_free(c);
        return lq_error_new(LQ_INTERNAL, "netlink: %s", nl_geterror(err));
    }
    return NULL;
}

/* The address of 'addr' without its prefix length. */
static char *
nl_addr_plain(struct nl_addr *addr)
{
    char buf[INET6_ADDRSTRLEN + 8];
    nl_addr2str(addr, buf, sizeof buf);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
    }
    return xstrdup(buf);
}

static void
add_nic(struct lq_node_info *info, struct nl_caches *c, struct rtnl_link *link)
{
    info->nics = xrealloc(info->nics, (info->n_nics + 1) * sizeof *info->nics);
    struct lq_nic_info *nic = &info->nics[info->n_nics++];
    memset(nic, 0, sizeof *nic);

    nic->name = xstrdup(rtnl_link_get_name(link));
    struct nl_addr *mac = rtnl_link_get_addr(link);
    if (mac && nl_addr_get_len(mac) == 6) {
        const uint8_t *b = nl_addr_get_binary_addr(mac);
        nic->mac_address = xasprintf("%02x:%02x:%02x:%02x:%02x:%02x",
                                     b[0], b[1], b[2], b[3], b[4], b[5]);
    } else {
        nic->mac_address = xstrdup("");
    }
    nic->mtu = rtnl_link_get_mtu(link);
    nic->up = (rtnl_link_get_flags(link) & IFF_UP)
              && (rtnl_link_get_flags(link) & IFF_RUNNING);

    char *path = xasprintf("/sys/class/net/%s/speed", nic->name);
    char *speed = read_file_trimmed(path);
    free(path);
    long long mbps = speed ? strtoll(speed, NULL, 10) : 0;
    nic->speed_mbps = mbps > 0 ? mbps : 0;   /* -1 means unknown. */
    free(speed);

    int ifindex = rtnl_link_get_ifindex(link);
    for (struct nl_object *o = nl_cache_get_first(c->addrs); o;
         o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *) o;
        if (rtnl_addr_get_ifindex(a) != ifindex || !rtnl_addr_get_local(a)) {
            continue;
        }
        nic->ip_addresses = xrealloc(nic->ip_addresses,
                                     (nic->n_ip_addresses + 1)
                                     * sizeof *nic->ip_addresses);
        nic->ip_addresses[nic->n_ip_addresses++]
            = nl_addr_plain(rtnl_addr_get_local(a));
    }
}

/* The management IP: the first IPv4 address of the link that carries the
 * IPv4 default route; else the first global IPv4 address; else loopback. */
static char *
detect_management_ip(struct nl_caches *c)
{
    int oif = 0;

    for (struct nl_object *o = nl_cache_get_first(c->routes); o && !oif;
         o = nl_cache_get_next(o)) {
        struct rtnl_route *r = (struct rtnl_route *) o;
        struct nl_addr *dst = rtnl_route_get_dst(r);
        if (rtnl_route_get_table(r) == RT_TABLE_MAIN
            && (!dst || !nl_addr_get_prefixlen(dst))
            && rtnl_route_get_nnexthops(r)) {
            oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (struct nl_object *o = nl_cache_get_first(c->addrs); o;
             o = nl_cache_get_next(o)) {
            struct rtnl_addr *a = (struct rtnl_addr *) o;
            if (rtnl_addr_get_family(a) != AF_INET
                || rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE
                || !rtnl_addr_get_local(a)
                || (pass == 0 && rtnl_addr_get_ifindex(a) != oif)) {
                continue;
            }
            return nl_addr_plain(rtnl_addr_get_local(a));
        }
    }
    return xstrdup("127.0.0.1");
}

static struct lq_error *
gather_network(struct lq_node_info *info, bool want_nics)
{
    struct nl_caches c;
    struct lq_error *error = nl_caches_load(&c);
    if (error) {
        return error;
    }
    if (!info->management_ip) {
        info->management_ip = detect_management_ip(&c);
    }
    for (struct nl_object *o = want_nics ? nl_cache_get_first(c.links) : NULL;
         o; o = nl_cache_get_next(o)) {
        add_nic(info, &c, (struct rtnl_link *) o);
    }
    nl_caches_free(&c);
    return NULL;
}

char *
lq_node_detect_management_ip(void)
{
    struct lq_node_info info;
    memset(&info, 0, sizeof info);
    struct lq_error *error = gather_network(&info, false);
    if (error) {
        lq_error_free(error);
        return xstrdup("127.0.0.1");
    }
    return info.management_ip;
}

/* Fills everything but the identity fields. */
struct lq_error *
lq_node_info_gather(struct lq_node_info *info, const char *management_ip)
{
    char *cpuinfo = read_file("/proc/cpuinfo");
    char *meminfo = read_file("/proc/meminfo");
    struct lq_error *error = NULL;

    if (!cpuinfo || !meminfo) {
        error = lq_error_new(LQ_INTERNAL, "cannot read /proc: %s",
                             strerror(errno));
    }
    if (!error) {
        error = lq_cpuinfo_parse(cpuinfo, &info->cpu);
    }
    if (!error) {
        error = lq_meminfo_parse(meminfo, &info->memory);
    }
    free(cpuinfo);
    free(meminfo);
    if (error) {
        return error;
    }
    info->management_ip = management_ip ? xstrdup(management_ip) : NULL;
    gather_filesystems(info);
    gather_disks(info);
    return gather_network(info, true);
}

void
lq_node_info_free(struct lq_node_info *info)
{
    if (!info) {
        return;
    }
    free(info->node_id);
    free(info->hostname);
    free(info->management_ip);
    lq_cpu_info_clear(&info->cpu);
    for (size_t i = 0; i < info->n_filesystems; i++) {
        free(info->filesystems[i].device);
        free(info->filesystems[i].mount_point);
        free(info->filesystems[i].filesystem);
    }
    free(info->filesystems);
    for (size_t i = 0; i < info->n_disks; i++) {
        free(info->disks[i].name);
        free(info->disks[i].model);
    }
    free(info->disks);
    for (size_t i = 0; i < info->n_nics; i++) {
        struct lq_nic_info *nic = &info->nics[i];
        free(nic->name);
        free(nic->mac_address);
        for (size_t j = 0; j < nic->n_ip_addresses; j++) {
            free(nic->ip_addresses[j]);
        }
        free(nic->ip_addresses);
    }
    free(info->nics);
    free(info->hypervisor);
    free(info->hypervisor_version);
    lq_hugepages_clear(&info->hugepages);
    free(info);
}
