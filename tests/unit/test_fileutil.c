/* lq_allowed_file_resolve(): which caller-named host files the node uses
 * (issue 13).  A private directory tree with files, a directory, a FIFO,
 * symlinks inside and out, and a device node from the host. */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileutil.h"
#include "util.h"

static char root[] = "/tmp/lq-fileutil-XXXXXX";
static char *images, *other;

static void
touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int
setup(void **state)
{
    (void) state;
    assert_non_null(mkdtemp(root));
    images = xasprintf("%s/images", root);
    other = xasprintf("%s/other", root);
    assert_int_equal(mkdir(images, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);
    char *p;
    touch(p = xasprintf("%s/disk.qcow2", images)); free(p);
    touch(p = xasprintf("%s/secret", other)); free(p);
    assert_int_equal(mkdir(p = xasprintf("%s/sub", images), 0700), 0); free(p);
    touch(p = xasprintf("%s/sub/k", images)); free(p);
    assert_int_equal(mkfifo(p = xasprintf("%s/fifo", images), 0600), 0);
    free(p);
    p = xasprintf("%s/inside", images);
    assert_int_equal(symlink("sub/k", p), 0);
    free(p);
    p = xasprintf("%s/out", images);
    char *t = xasprintf("%s/secret", other);
    assert_int_equal(symlink(t, p), 0);
    free(t);
    free(p);
    p = xasprintf("%s/dev", images);
    assert_int_equal(symlink("/dev/null", p), 0);
    free(p);
    /* An image directory named through a symlink works too. */
    p = xasprintf("%s/alias", root);
    assert_int_equal(symlink(images, p), 0);
    free(p);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    char *cmd[] = { "rm", "-rf", root, NULL };
    pid_t pid = fork();
    if (!pid) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    free(images);
    free(other);
    return 0;
}

/* 'path' relative to root ("" prefix for absolute). */
static void
expect(const char *rel, bool abs, const char *fragment, const char *want)
{
    char *dirs[] = { images };
    char *path = abs ? xstrdup(rel) : xasprintf("%s/%s", root, rel);
    char *resolved = (void *) 1;
    struct lq_error *e = lq_allowed_file_resolve("source.imagePath", path,
                                                 dirs, 1, &resolved);
    if (fragment) {
        assert_non_null(e);
        assert_int_equal(e->code, LQ_INVALID_ARGUMENT);
        assert_true(!strncmp(e->message, "source.imagePath: ", 18));
        if (!strstr(e->message, fragment)) {
            fail_msg("%s: expected \"%s\" in \"%s\"", path, fragment,
                     e->message);
        }
        assert_null(resolved);
        lq_error_free(e);
    } else {
        if (e) {
            fail_msg("%s: %s", path, e->message);
        }
        char *w = xasprintf("%s/%s", root, want);
        assert_string_equal(resolved, w);
        free(w);
        free(resolved);
    }
    free(path);
}

static void
test_allowed_files(void **state)
{
    (void) state;
    expect("images/disk.qcow2", false, NULL, "images/disk.qcow2");
    expect("images/sub/k", false, NULL, "images/sub/k");
    expect("images/inside", false, NULL, "images/sub/k");
    expect("images/sub/../disk.qcow2", false, NULL, "images/disk.qcow2");
    expect("alias/disk.qcow2", false, NULL, "images/disk.qcow2");

    const char *out = "is not inside one of the node's image directories";
    expect("/etc/shadow", true, out, NULL);
    expect("/dev/null", true, out, NULL);
    expect("other/secret", false, out, NULL);
    expect("images/out", false, out, NULL);
    expect("images/dev", false, out, NULL);
    expect("images/../other/secret", false, out, NULL);
    expect("images", false, out, NULL);         /* The directory itself. */
    expect("images/sub", false, "is not a regular file", NULL);
    expect("images/fifo", false, "is not a regular file", NULL);
    expect("images/missing", false, "No such file or directory", NULL);
    expect("relative/x", true, "is not an absolute path", NULL);
    expect("/x\ny", true, "control characters", NULL);
    expect("", true, "required", NULL);

    /* No image directories: nothing at all. */
    char *p = xasprintf("%s/disk.qcow2", images), *r;
    struct lq_error *e = lq_allowed_file_resolve("spec.kernelPath", p, NULL,
                                                 0, &r);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "hypervisor.image_dirs is empty"));
    lq_error_free(e);
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
