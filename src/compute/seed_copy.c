#include <config.h>
/* seed_copy.c: a VM's cloud-init seed ISO given to a migration target.
 *
 * Design decisions:
 * - The domain definition moves unchanged, so the target's QEMU opens the
 *   seed at the same path: <hypervisor.state_dir>/<vm id>.cidata.iso,
 *   the same state_dir on every node (as for serial logs).
 * - The ISO goes through the target's libvirtd, over the connection the
 *   migration already uses (same authentication, TLS): a transient `dir`
 *   storage pool on the state directory there, a volume created 0600, and
 *   virStorageVolUpload() of the bytes.  No ssh, no second channel, no
 *   path from the caller.
 * - If the target already sees a file of that name (the same host, or a
 *   state directory shared between nodes), it is the same file: nothing is
 *   copied and nothing removed afterwards.  Else the copy is removed from
 *   the target when the migration fails, and this node's file once it
 *   succeeded (the seed holds secrets: one copy, where the VM is). */
#include "compute_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <libxml/tree.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(compute_seed_copy);

static char *
xml_escaped(const char *s)
{
    xmlChar *e = xmlEncodeSpecialChars(NULL, (const xmlChar *) s);
    char *copy = xstrdup((const char *) e);
    xmlFree(e);
    return copy;
}

/* A transient dir pool on the target's state directory; an earlier one
 * left by a crash is replaced. */
static struct lq_error *
open_target_pool(struct lq_compute *c, const char *id, virConnectPtr target,
                 virStoragePoolPtr *poolp)
{
    char *name = xasprintf("lq-seed-%s", id);
    virStoragePoolPtr old = virStoragePoolLookupByName(target, name);
    if (old) {
        virStoragePoolDestroy(old);
        virStoragePoolFree(old);
    }
    char *dir = xml_escaped(c->state_dir);
    char *xml = xasprintf("<pool type='dir'><name>%s</name><target><path>"
                          "%s</path></target></pool>", name, dir);
    *poolp = virStoragePoolCreateXML(target, xml, 0);
    free(xml);
    free(dir);
    free(name);
    if (!*poolp) {
        return lq_error_new(LQ_UNAVAILABLE, "targetNodeUri: the target "
                            "cannot take VM %s's cloud-init seed in %s: %s",
                            id, c->state_dir, virGetLastErrorMessage());
    }
    return NULL;
}

static struct lq_error *
upload(virConnectPtr target, virStorageVolPtr vol, int fd, uint64_t size,
       const char *id)
{
    virStreamPtr st = virStreamNew(target, 0);
    if (!st || virStorageVolUpload(vol, st, 0, size, 0) < 0) {
        if (st) {
            virStreamFree(st);
        }
        return compute_virt_error("uploading the seed of VM", id);
    }
    char buf[65536];
    int err = 0;
    for (uint64_t done = 0; done < size && !err; ) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
        } else if (virStreamSend(st, buf, n) != n) {
            err = -1;
        } else {
            done += n;
        }
    }
    struct lq_error *e = NULL;
    if (err) {
        virStreamAbort(st);
        e = err > 0 ? lq_error_new(LQ_INTERNAL, "reading the seed of VM %s:"
                                   " %s", id, strerror(err))
                    : compute_virt_error("uploading the seed of VM", id);
    } else if (virStreamFinish(st) < 0) {
        e = compute_virt_error("uploading the seed of VM", id);
    }
    virStreamFree(st);
    return e;
}

static struct lq_error *
copy_file(virConnectPtr target, virStoragePoolPtr pool, const char *path,
          const char *id, virStorageVolPtr *volp)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
        }
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s's "
                            "cloud-init seed cannot be read: %s", id,
                            strerror(err));
    }
    const char *name = strrchr(path, '/') + 1;
    char *xml = xasprintf("<volume><name>%s</name><capacity unit='bytes'>"
                          "%"PRIu64"</capacity><target><format type='raw'/>"
                          "<permissions><mode>0600</mode></permissions>"
                          "</target></volume>", name, (uint64_t) st.st_size);
    *volp = virStorageVolCreateXML(pool, xml, 0);
    free(xml);
    struct lq_error *e = NULL;
    if (!*volp) {
        e = compute_virt_error("creating the seed on the target for VM", id);
    } else if ((e = upload(target, *volp, fd, st.st_size, id))) {
        virStorageVolDelete(*volp, 0);
        virStorageVolFree(*volp);
        *volp = NULL;
    }
    close(fd);
    return e;
}

struct lq_error *
compute_seed_copy_start(struct lq_compute *c, virDomainPtr dom,
                        const char *id, virConnectPtr target,
                        struct compute_seed_copy *sc)
{
    memset(sc, 0, sizeof *sc);
    bool has = false;
    struct lq_error *e = compute_has_seed_drive(dom, id, &has);
    if (e || !has) {
        return e;
    }
    if (!c->state_dir) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "vmId: VM %s has a seed "
                            "but this node no hypervisor.state_dir", id);
    }
    e = open_target_pool(c, id, target, &sc->pool);
    if (e) {
        return e;
    }
    sc->local = compute_cidata_path(c, id);
    virStorageVolPtr there = virStorageVolLookupByName(
        sc->pool, strrchr(sc->local, '/') + 1);
    if (there) {
        virStorageVolFree(there);       /* The same file: shared. */
        VLOG_INFO("VM %s: the target sees its seed already", id);
        return NULL;
    }
    e = copy_file(target, sc->pool, sc->local, id, &sc->vol);
    if (e) {
        compute_seed_copy_end(sc, false);
    } else {
        VLOG_INFO("VM %s: seed copied to the migration target", id);
    }
    return e;
}

void
compute_seed_copy_end(struct compute_seed_copy *sc, bool migrated)
{
    if (sc->vol) {
        if (migrated) {
            unlink(sc->local);
        } else {
            virStorageVolDelete(sc->vol, 0);
        }
        virStorageVolFree(sc->vol);
    }
    if (sc->pool) {
        virStoragePoolDestroy(sc->pool);        /* Transient: gone. */
        virStoragePoolFree(sc->pool);
    }
    free(sc->local);
    memset(sc, 0, sizeof *sc);
}
