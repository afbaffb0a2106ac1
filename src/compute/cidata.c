/* cidata.c: the cloud-init NoCloud seed of a VM (issue 15).
 *
 * Design decisions:
 * - What we build (meta-data from the VM's id, hostname and keys;
 *   user-data from a password) is JSON, which is YAML: a value the caller
 *   sent is a JSON string, never text spliced into YAML, so no key can
 *   smuggle in another key.  What the caller wrote verbatim (user_data,
 *   meta_data, network_config) goes in as it is: it is theirs to write.
 * - The ISO is made with libisofs (a kept library: no genisoimage
 *   process, nothing on a command line), volume id "cidata" as NoCloud
 *   looks for, Rock Ridge and Joliet so the names keep their '-'.
 * - The file is the node's: written to a temporary name in the state
 *   directory (0600, O_EXCL|O_NOFOLLOW) and renamed over the old one, so
 *   a guest never sees half a seed; secrets are only ever in it. */
#include <config.h>
#include "compute_impl.h"

#include <errno.h>
#include <fcntl.h>
/* struct burn_source from libisofs itself: we do not link libburn. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "sha1.h"
#include "util.h"

void
lq_cloud_init_free(struct lq_cloud_init *ci)
{
    if (!ci) {
        return;
    }
    free(ci->user_data);
    free(ci->meta_data);
    free(ci->network_config);
    for (size_t i = 0; i < ci->n_ssh_keys; i++) {
        free(ci->ssh_keys[i]);
    }
    free(ci->ssh_keys);
    free(ci->hostname);
    free(ci->user);
    if (ci->password) {
        explicit_bzero(ci->password, strlen(ci->password));
        free(ci->password);
    }
    free(ci->password_hash);
    free(ci);
}

static char *
json_text(struct json *j, const char *header)
{
    char *body = json_to_string(j, JSSF_SORT);
    char *s = xasprintf("%s%s\n", header, body);
    free(body);
    json_destroy(j);
    return s;
}

static struct json *
meta_data_json(const struct lq_vm_spec *s)
{
    const struct lq_cloud_init *ci = s->cloud_init;
    struct json *m = json_object_create();
    /* A new id is a new instance to cloud-init (it runs its per-instance
     * modules again): the VM's id, stable for the VM's life. */
    json_object_put_string(m, "instance-id", s->id);
    json_object_put_string(m, "local-hostname",
                           ci->hostname ? ci->hostname : s->name);
    if (ci->n_ssh_keys) {
        struct json *keys = json_array_create_empty();
        for (size_t i = 0; i < ci->n_ssh_keys; i++) {
            json_array_add(keys, json_string_create(ci->ssh_keys[i]));
        }
        json_object_put(m, "public-keys", keys);
    }
    return m;
}

/* #cloud-config setting the password (cloud-init's cc_set_passwords). */
static struct json *
password_config(const struct lq_cloud_init *ci)
{
    struct json *cfg = json_object_create();
    struct json *chpasswd = json_object_create();
    json_object_put(chpasswd, "expire", json_boolean_create(false));
    if (ci->password && !ci->user) {
        json_object_put_string(cfg, "password", ci->password);
    } else {
        struct json *u = json_object_create();
        json_object_put_string(u, "name", ci->user ? ci->user : "root");
        json_object_put_string(u, "password", ci->password
                                              ? ci->password
                                              : ci->password_hash);
        json_object_put_string(u, "type", ci->password ? "text" : "hash");
        struct json *users = json_array_create_empty();
        json_array_add(users, u);
        json_object_put(chpasswd, "users", users);
    }
    json_object_put(cfg, "chpasswd", chpasswd);
    json_object_put(cfg, "ssh_pwauth", json_boolean_create(true));
    return cfg;
}

void
lq_cidata_files_build(const struct lq_vm_spec *s, struct lq_cidata_files *f)
{
    const struct lq_cloud_init *ci = s->cloud_init;
    memset(f, 0, sizeof *f);
    f->meta_data = ci->meta_data ? xstrdup(ci->meta_data)
                                 : json_text(meta_data_json(s), "");
    if (ci->user_data) {
        f->user_data = xstrdup(ci->user_data);
    } else if (ci->password || ci->password_hash) {
        f->user_data = json_text(password_config(ci), "#cloud-config\n");
    } else {
        f->user_data = xstrdup("#cloud-config\n{}\n");
    }
    f->network_config = nullable_xstrdup(ci->network_config);
}

void
lq_cidata_files_clear(struct lq_cidata_files *f)
{
    if (f->user_data) {
        explicit_bzero(f->user_data, strlen(f->user_data));
    }
    free(f->meta_data);
    free(f->user_data);
    free(f->network_config);
    memset(f, 0, sizeof *f);
}

static void
isofs_init(void)
{
    if (iso_init() < 0) {
        ovs_fatal(0, "libisofs failed to initialize");
    }
    /* Messages to our log only through errors we return, never stderr. */
    iso_set_msgs_severities("NEVER", "NEVER", "limiquantix-node");
}

static int
add_file(IsoImage *image, const char *name, const char *text)
{
    size_t n = strlen(text);
    unsigned char *buf = xmemdup(text, n ? n : 1);     /* The stream owns */
    IsoStream *stream;                                  /* and frees it. */
    int r = iso_memory_stream_new(buf, n, &stream);
    if (r < 0) {
        free(buf);
        return r;
    }
    /* The new file takes over the stream's reference. */
    IsoFile *file;
    r = iso_tree_add_new_file(iso_image_get_root(image), name, stream, &file);
    if (r < 0) {
        iso_stream_unref(stream);
    } else {
        iso_node_set_permissions((IsoNode *) file, 0444);
    }
    return r;
}

/* Reads the whole image from 'src' into 'fd'. */
static int
copy_image(struct burn_source *src, int fd)
{
    unsigned char block[2048];
    for (;;) {
        int n = src->read_xt(src, block, sizeof block);
        if (n < 0) {
            return EIO;
        } else if (!n) {
            return 0;
        }
        for (int off = 0; off < n;) {
            ssize_t w = write(fd, block + off, n - off);
            if (w < 0 && errno != EINTR) {
                return errno;
            }
            off += w > 0 ? w : 0;
        }
    }
}

struct lq_error *
lq_cidata_write_iso(const struct lq_cidata_files *f, const char *path)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, isofs_init);

    IsoImage *image = NULL;
    IsoWriteOpts *opts = NULL;
    struct burn_source *src = NULL;
    int r = iso_image_new("cidata", &image);
    if (r >= 0) {
        r = add_file(image, "meta-data", f->meta_data);
    }
    if (r >= 0) {
        r = add_file(image, "user-data", f->user_data);
    }
    if (r >= 0 && f->network_config) {
        r = add_file(image, "network-config", f->network_config);
    }
    if (r >= 0) {
        r = iso_write_opts_new(&opts, 0);
    }
    if (r >= 0) {
        iso_write_opts_set_rockridge(opts, 1);
        iso_write_opts_set_joliet(opts, 1);
        r = iso_image_create_burn_source(image, opts, &src);
    }
    if (r < 0) {
        if (opts) {
            iso_write_opts_free(opts);
        }
        if (image) {
            iso_image_unref(image);
        }
        return lq_error_new(LQ_INTERNAL, "cannot build the cloud-init seed "
                            "ISO: %s", iso_error_to_msg(r));
    }

    char *tmp = xasprintf("%s.tmp", path);
    unlink(tmp);
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0) {
        err = errno;
    } else {
        err = copy_image(src, fd);
        if (!err && fsync(fd)) {
            err = errno;
        }
        if (close(fd) && !err) {
            err = errno;
        }
        if (!err && rename(tmp, path)) {
            err = errno;
        }
        if (err) {
            unlink(tmp);
        }
    }
    /* The writer thread ends once the source is read or cancelled. */
    if (err && src->cancel) {
        src->cancel(src);
    }
    /* burn_source_free() is libburn's; without it, as libisofs's own
     * demo does: the source's data, then the struct. */
    src->free_data(src);
    free(src);
    iso_write_opts_free(opts);
    iso_image_unref(image);
    free(tmp);
    return err ? lq_error_new(LQ_INTERNAL, "cannot write %s: %s", path,
                              strerror(err))
               : NULL;
}

/* ---- Reading a seed back (CloneVM) --------------------------------------- */

/* The whole of file 'name' at the root of 'image' (at most MAX_SEED_FILE
 * bytes) into '*textp'; NULL with no such file. */
#define MAX_SEED_FILE (256 * 1024)
static int
read_file(IsoImage *image, const char *name, char **textp)
{
    IsoNode *node = NULL;
    *textp = NULL;
    if (iso_dir_get_node(iso_image_get_root(image), name, &node) != 1) {
        return 0;
    }
    if (iso_node_get_type(node) != LIBISO_FILE) {
        return (int) ISO_WRONG_ARG_VALUE;
    }
    IsoStream *stream = iso_file_get_stream((IsoFile *) node);
    off_t size = iso_stream_get_size(stream);
    if (size < 0 || size > MAX_SEED_FILE) {
        return (int) ISO_FILE_TOO_BIG;
    }
    int r = iso_stream_open(stream);
    if (r < 0) {
        return r;
    }
    char *text = xmalloc(size + 1);
    size_t got = 0;
    while (got < (size_t) size) {
        r = iso_stream_read(stream, text + got, size - got);
        if (r <= 0) {
            break;
        }
        got += r;
    }
    iso_stream_close(stream);
    if (r < 0 || got != (size_t) size) {
        free(text);
        return r < 0 ? r : (int) ISO_FILE_READ_ERROR;
    }
    text[size] = '\0';
    *textp = text;
    return 0;
}

struct lq_error *
lq_cidata_read_iso(const char *path, struct lq_cidata_files *f)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, isofs_init);

    memset(f, 0, sizeof *f);
    IsoDataSource *src = NULL;
    IsoReadOpts *opts = NULL;
    IsoImage *image = NULL;
    int r = iso_data_source_new_from_file(path, &src);
    if (r >= 0) {
        r = iso_read_opts_new(&opts, 0);
    }
    if (r >= 0) {
        r = iso_image_new("cidata", &image);
    }
    if (r >= 0) {
        r = iso_image_import(image, src, opts, NULL);
    }
    if (r >= 0) {
        r = read_file(image, "meta-data", &f->meta_data);
    }
    if (r >= 0) {
        r = read_file(image, "user-data", &f->user_data);
    }
    if (r >= 0) {
        r = read_file(image, "network-config", &f->network_config);
    }
    if (image) {
        iso_image_unref(image);
    }
    if (opts) {
        iso_read_opts_free(opts);
    }
    if (src) {
        iso_data_source_unref(src);
    }
    if (r >= 0 && (!f->meta_data || !f->user_data)) {
        r = (int) ISO_FILE_DOESNT_EXIST;
    }
    if (r < 0) {
        lq_cidata_files_clear(f);
        return lq_error_new(LQ_INTERNAL, "cannot read the cloud-init seed "
                            "%s: %s", path, iso_error_to_msg(r));
    }
    return NULL;
}

struct lq_error *
lq_cidata_reinstance(struct lq_cidata_files *f, const char *id,
                     const char *hostname)
{
    struct json *m = json_from_string(f->meta_data);
    if (m->type != JSON_OBJECT) {
        json_destroy(m);
        return lq_error_new(LQ_FAILED_PRECONDITION, "cloudInit: the source "
                            "VM's meta-data is its caller's own text, not "
                            "the node's JSON: give cloudInit for the clone");
    }
    json_object_put_string(m, "instance-id", id);
    json_object_put_string(m, "local-hostname", hostname);
    free(f->meta_data);
    f->meta_data = json_text(m, "");
    return NULL;
}

static void
sha1_part(struct sha1_ctx *ctx, const char *part)
{
    /* Length-prefixed, so parts cannot run into each other. */
    size_t len = part ? strlen(part) : 0;
    sha1_update(ctx, &len, sizeof len);
    sha1_update(ctx, part ? part : "", len);
}

void
lq_cidata_revise(struct lq_cidata_files *f, const char *id)
{
    struct json *m = json_from_string(f->meta_data);
    if (m->type != JSON_OBJECT) {
        json_destroy(m);        /* The caller's own meta-data: theirs. */
        return;
    }
    /* The content without any instance-id: the same seed twice gets the
     * same id. */
    json_object_put_string(m, "instance-id", id);
    char *meta = json_to_string(m, JSSF_SORT);
    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_part(&ctx, meta);
    sha1_part(&ctx, f->user_data);
    sha1_part(&ctx, f->network_config);
    sha1_final(&ctx, digest);
    free(meta);
    char *instance = xasprintf("%s-%02x%02x%02x%02x", id, digest[0],
                               digest[1], digest[2], digest[3]);
    json_object_put_string(m, "instance-id", instance);
    free(instance);
    free(f->meta_data);
    f->meta_data = json_text(m, "");
}

/* ---- Validation ----------------------------------------------------------- */

#define MAX_PART (64 * 1024)    /* Nova's limit for user data. */
#define MAX_KEYS 32
#define MAX_KEY_LEN 8192
#define MAX_SECRET_LEN 256

static bool
has_newline(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-'. */
static bool
hostname_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (!n || n > 253) {
        return false;
    }
    for (const char *p = s; ; p++) {
        if (*p == '.' || !*p) {
            if (!label || p[-1] == '-' || label > 63) {
                return false;
            }
            if (!*p) {
                return true;
            }
            label = 0;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || (*p == '-' && label)) {
            label++;
        } else {
            return false;
        }
    }
}

/* A POSIX user name as useradd takes it. */
static bool
user_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 32 || !((*s >= 'a' && *s <= 'z') || *s == '_')) {
        return false;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

struct lq_error *
lq_cloud_init_validate(const struct lq_vm_spec *s)
{
    const struct lq_cloud_init *ci = s->cloud_init;
    if (!ci) {
        return NULL;
    }
    const struct { const char *field, *value; } parts[] = {
        { "userData", ci->user_data }, { "metaData", ci->meta_data },
        { "networkConfig", ci->network_config },
    };
    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
        if (parts[i].value && strlen(parts[i].value) > MAX_PART) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.%s: at "
                                "most %d bytes", parts[i].field, MAX_PART);
        }
    }
    if (ci->meta_data && (ci->hostname || ci->n_ssh_keys)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.metaData: "
                            "not with hostname or sshAuthorizedKeys (they "
                            "are written into the meta-data the node builds)");
    }
    if (ci->n_ssh_keys > MAX_KEYS) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit."
                            "sshAuthorizedKeys: at most %d", MAX_KEYS);
    }
    for (size_t i = 0; i < ci->n_ssh_keys; i++) {
        const char *k = ci->ssh_keys[i];
        if (!*k || strlen(k) > MAX_KEY_LEN || has_newline(k)
            || !strchr(k, ' ')) {
            return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit."
                                "sshAuthorizedKeys[%zu]: expected one "
                                "authorized_keys line (\"TYPE BASE64 "
                                "[COMMENT]\", at most %d bytes)", i,
                                MAX_KEY_LEN);
        }
    }
    if (ci->hostname && !hostname_ok(ci->hostname)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.hostname: "
                            "expected an RFC 1123 host name");
    }
    if (ci->user && !user_ok(ci->user)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.user: "
                            "expected a user name ([a-z_][a-z0-9_-]*, at most "
                            "32)");
    }
    if (ci->user && !ci->password && !ci->password_hash) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.user: only "
                            "with password or passwordHash");
    }
    if (ci->password && ci->password_hash) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.password: "
                            "give password or passwordHash, not both");
    }
    const char *secret_field = ci->password ? "password" : "passwordHash";
    const char *secret = ci->password ? ci->password : ci->password_hash;
    if (secret && ci->user_data) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.%s: not "
                            "with userData (set it in the user data)",
                            secret_field);
    }
    /* The errors never quote a secret. */
    if (secret && (strlen(secret) > MAX_SECRET_LEN || has_newline(secret))) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.%s: at most "
                            "%d bytes, one line", secret_field,
                            MAX_SECRET_LEN);
    }
    if (ci->password_hash && (ci->password_hash[0] != '$'
                              || strpbrk(ci->password_hash, ": \t"))) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cloudInit.passwordHash:"
                            " expected a crypt(3) hash ($6$..., $y$...)");
    }
    if (s->n_cdroms > 1) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "spec.cdroms: at most 1 "
                            "with cloudInit (the seed takes the other drive)");
    }
    return NULL;
}

/* What the fingerprint of a spec says of its seed: everything but the
 * secrets, of which only their presence (a hash of a password in the
 * domain XML could be guessed offline). */
void
lq_cloud_init_fingerprint(const struct lq_cloud_init *ci, struct ds *ds)
{
    if (!ci) {
        return;
    }
    const char *parts[] = { ci->user_data, ci->meta_data, ci->network_config,
                            ci->hostname, ci->user };
    ds_put_cstr(ds, "cloudinit:");
    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
        ds_put_format(ds, "%zu:%s;", parts[i] ? strlen(parts[i]) : 0,
                      parts[i] ? parts[i] : "");
    }
    for (size_t i = 0; i < ci->n_ssh_keys; i++) {
        ds_put_format(ds, "key:%zu:%s;", strlen(ci->ssh_keys[i]),
                      ci->ssh_keys[i]);
    }
    ds_put_format(ds, "pw:%d;", ci->password ? 1 : ci->password_hash ? 2 : 0);
}

struct lq_error *
lq_cloud_init_validate_request(const char *vm_id,
                               const struct lq_cloud_init *ci)
{
    struct lq_vm_spec s;
    lq_vm_spec_init(&s);
    ovs_strlcpy(s.id, vm_id, sizeof s.id);
    s.cloud_init = (struct lq_cloud_init *) ci;
    struct lq_error *e = lq_cloud_init_validate(&s);
    s.cloud_init = NULL;
    lq_vm_spec_clear(&s);
    if (e && !strncmp(e->message, "spec.", 5)) {
        /* The request's field is cloudInit, not spec.cloudInit. */
        struct lq_error *named = lq_error_new(e->code, "%s", e->message + 5);
        lq_error_free(e);
        e = named;
    }
    return e;
}
