/* image.c: local raw/qcow2 files as sparse raw readers (see image.h).
 *
 * Design decisions:
 * - The format is what `qemu-img info` detects, never the file name, and
 *   only raw and self-contained qcow2 are accepted: a qcow2 backing file or
 *   external data file would make qemu-img read another host file.
 * - qcow2 goes through `qemu-img convert -O raw` into a sparse temporary
 *   file under $TMPDIR (default /var/tmp): simple and exactly QEMU's view of
 *   the guest data.  The file is unlinked as soon as it is open.
 * - `qemu-img info` runs through lq_exec (the project's one way to run a
 *   command); long qemu-img runs (convert, rebase) need more than lq_exec
 *   offers (their -p progress read while they run, and a kill when the job
 *   is cancelled), so they share one small posix_spawn loop here,
 *   lq_qemu_img_run(), argv only, never a shell. */
#include <config.h>
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "exec.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "jsonx.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(storage_image);

#define QEMU_IMG "qemu-img"
#define INFO_TIMEOUT_MS 30000

void
lq_image_probe_clear(struct lq_image_probe *p)
{
    free(p->format);
    p->format = NULL;
}

struct lq_error *
lq_image_parse_info(const char *field, const char *text,
                    struct lq_image_probe *p)
{
    struct json *j = json_from_string(text);
    struct lq_error *error = NULL;

    memset(p, 0, sizeof *p);
    if (j->type != JSON_OBJECT) {
        error = lq_error_new(LQ_INTERNAL, "%s: cannot parse qemu-img info "
                             "output", field);
        goto out;
    }

    const struct json *format = lq_json_member(j, "format");
    const struct json *vsize = lq_json_member(j, "virtual-size");
    if (!format || format->type != JSON_STRING
        || !vsize || vsize->type != JSON_INTEGER || json_integer(vsize) < 0) {
        error = lq_error_new(LQ_INTERNAL, "%s: qemu-img info output lacks "
                             "format or virtual-size", field);
        goto out;
    }
    const char *fmt = json_string(format);
    if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: image format \"%s\" "
                             "is not supported (raw or qcow2)", field, fmt);
        goto out;
    }
    if (lq_json_member(j, "backing-filename") || lq_json_member(j, "full-backing-filename")) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: qcow2 images with a "
                             "backing file are not accepted (flatten it "
                             "first: qemu-img convert -O qcow2)", field);
        goto out;
    }
    const struct json *enc = lq_json_member(j, "encrypted");
    if (enc && enc->type == JSON_TRUE) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: encrypted images are "
                             "not accepted", field);
        goto out;
    }
    const struct json *data = lq_json_member(lq_json_member(j, "format-specific"), "data");
    if (lq_json_member(data, "data-file")) {
        error = lq_error_new(LQ_INVALID_ARGUMENT, "%s: qcow2 images with an "
                             "external data file are not accepted", field);
        goto out;
    }
    p->format = xstrdup(fmt);
    p->virtual_size = json_integer(vsize);

out:
    json_destroy(j);
    return error;
}

struct lq_error *
lq_image_probe(const char *field, const char *path, struct lq_image_probe *p)
{
    struct stat st;

    memset(p, 0, sizeof *p);
    if (!path || !*path) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: must not be empty",
                            field);
    }
    if (path[0] != '/') {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not an "
                            "absolute path", field, path);
    }
    if (stat(path, &st)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": %s", field,
                            path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\" is not a "
                            "regular file", field, path);
    }
    if (access(path, R_OK)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s: \"%s\": %s", field,
                            path, strerror(errno));
    }

    /* -U: do not take QEMU's image lock (the file may be open elsewhere
     * read-only); the conversion takes it. */
    const char *argv[] = { QEMU_IMG, "info", "-U", "--output=json", path,
                           NULL };
    struct lq_exec_result r;
    struct lq_error *error = lq_exec(argv, NULL, INFO_TIMEOUT_MS, &r);
    if (error) {
        error->code = LQ_INVALID_ARGUMENT;
        error = lq_error_prefix(error, "%s: \"%s\" is not a readable disk "
                                "image", field, path);
    } else {
        error = lq_image_parse_info(field, r.out, p);
    }
    lq_exec_result_clear(&r);
    return error;
}

int
lq_qemu_img_progress(const char *text, size_t len)
{
    /* The last "(P/100%)" wins. */
    int percent = -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '(') {
            continue;
        }
        char buf[32];
        size_t n = 0;
        size_t j = i + 1;
        while (j < len && text[j] != ')' && n < sizeof buf - 1) {
            buf[n++] = text[j++];
        }
        buf[n] = '\0';
        double p;
        char tail[8];
        if (j < len && sscanf(buf, "%lf/100%1[%]", &p, tail) == 2
            && p >= 0 && p <= 100) {
            percent = p;
        }
    }
    return percent;
}

const char *
lq_image_tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/var/tmp";
}

/* Runs `qemu-img convert -p -f qcow2 -O raw SRC DST`. */
static struct lq_error *
convert_to_raw(const char *src, const char *dst, struct lq_job_progress *pr,
               unsigned int share)
{
    const char *argv[] = { QEMU_IMG, "convert", "-p", "-f", "qcow2",
                           "-O", "raw", src, dst, NULL };
    return lq_qemu_img_run(argv, pr, 0, share);
}

struct lq_error *
lq_qemu_img_run(const char *const argv[], struct lq_job_progress *pr,
                unsigned int base, unsigned int share)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC)) {
        return lq_error_new(LQ_INTERNAL, "pipe: %s", strerror(errno));
    }
    if (pipe2(err, O_CLOEXEC)) {
        close(out[0]);
        close(out[1]);
        return lq_error_new(LQ_INTERNAL, "pipe: %s", strerror(errno));
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    extern char **environ;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char **) argv,
                          environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc) {
        close(out[0]);
        close(err[0]);
        return lq_error_new(LQ_INTERNAL, "%s: cannot run: %s", QEMU_IMG,
                            strerror(rc));
    }

    struct ds errs = DS_EMPTY_INITIALIZER;
    struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
    int open_fds = 2;
    bool cancelled = false;
    while (open_fds) {
        if (pr && atomic_load(&pr->cancel)) {
            cancelled = true;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(pfd, 2, 200) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents) {
                continue;
            }
            char buf[4096];
            ssize_t n = read(pfd[i].fd, buf, sizeof buf);
            if (n > 0 && i == 0) {
                int p = lq_qemu_img_progress(buf, n);
                if (p >= 0 && pr) {
                    atomic_store(&pr->percent, base + p * share / 100);
                }
            } else if (n > 0) {
                if (errs.length < 64 * 1024) {
                    ds_put_buffer(&errs, buf, n);
                }
            } else if (n == 0 || errno != EINTR) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (pfd[i].fd >= 0) {
            close(pfd[i].fd);
        }
    }

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        continue;
    }
    struct lq_error *error = NULL;
    if (cancelled) {
        error = lq_error_new(LQ_CANCELED, "%s %s cancelled", argv[0],
                             argv[1]);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        ds_chomp(&errs, '\n');
        error = lq_error_new(LQ_INTERNAL, "%s %s failed (status %d)%s%s",
                             argv[0], argv[1], WIFEXITED(status)
                             ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                             errs.length ? ": " : "", ds_cstr(&errs));
    }
    ds_destroy(&errs);
    return error;
}

struct lq_error *
lq_image_reader_open(const char *path, const struct lq_image_probe *probe,
                     struct lq_job_progress *pr, unsigned int share,
                     struct lq_image_reader **readerp)
{
    *readerp = NULL;
    int fd;

    if (!strcmp(probe->format, "raw")) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "imagePath: \"%s\": "
                                "%s", path, strerror(errno));
        }
    } else {
        char *tmp = xasprintf("%s/lq-import-XXXXXX", lq_image_tmp_dir());
        int tfd = mkostemp(tmp, O_CLOEXEC);
        if (tfd < 0) {
            struct lq_error *e = lq_error_new(
                LQ_RESOURCE_EXHAUSTED, "cannot create a temporary file in "
                "%s: %s", lq_image_tmp_dir(), strerror(errno));
            free(tmp);
            return e;
        }
        close(tfd);
        struct lq_error *error = convert_to_raw(path, tmp, pr, share);
        fd = -1;
        if (!error) {
            fd = open(tmp, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                error = lq_error_new(LQ_INTERNAL, "cannot open the converted "
                                     "image: %s", ovs_strerror(errno));
            }
        }
        unlink(tmp);
        free(tmp);
        if (error) {
            return error;
        }
    }

    struct lq_image_reader *r = xmalloc(sizeof *r);
    r->fd = fd;
    r->size = probe->virtual_size;
    *readerp = r;
    return NULL;
}

void
lq_image_reader_close(struct lq_image_reader *r)
{
    if (r) {
        close(r->fd);
        free(r);
    }
}

bool
lq_image_next_data(const struct lq_image_reader *r, uint64_t offset,
                   uint64_t *startp, uint64_t *endp)
{
    if (offset >= r->size) {
        return false;
    }
    off_t data = lseek(r->fd, offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            return false;           /* Only a hole up to EOF. */
        }
        /* No SEEK_DATA support: treat everything as data. */
        *startp = offset;
        *endp = r->size;
        return true;
    }
    if ((uint64_t) data >= r->size) {
        return false;
    }
    off_t hole = lseek(r->fd, data, SEEK_HOLE);
    *startp = data;
    *endp = hole < 0 || (uint64_t) hole > r->size ? r->size : (uint64_t) hole;
    return true;
}

bool
lq_buffer_is_zero(const void *buf_, size_t n)
{
    const unsigned char *buf = buf_;

    /* Check the first 16 bytes, then compare the buffer with itself shifted
     * by 16: memcmp is vectorized, a hand loop is not. */
    for (size_t i = 0; i < n && i < 16; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return n <= 16 || !memcmp(buf, buf + 16, n - 16);
}
