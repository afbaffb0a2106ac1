/* exec.c: run a command from an argv array with a timeout (see exec.h).
 *
 * posix_spawnp with stdout/stderr on pipes, read with poll() until both
 * close; the deadline covers the whole run.  stdin is /dev/null so a
 * command can never wait for input. */
#include <config.h>
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

extern char **environ;

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static char **
build_env(const char *const extra[])
{
    size_t n_env = 0, n_extra = 0;
    while (environ[n_env]) {
        n_env++;
    }
    while (extra && extra[n_extra]) {
        n_extra++;
    }
    char **env = xcalloc(n_env + n_extra + 1, sizeof *env);
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        /* Drop variables that 'extra' overrides. */
        bool overridden = false;
        for (size_t j = 0; j < n_extra; j++) {
            size_t len = strcspn(extra[j], "=");
            if (!strncmp(environ[i], extra[j], len + 1)) {
                overridden = true;
            }
        }
        if (!overridden) {
            env[n++] = environ[i];
        }
    }
    for (size_t j = 0; j < n_extra; j++) {
        env[n++] = (char *) extra[j];
    }
    return env;
}

/* The end of stderr, at most 400 bytes and without trailing newlines, for
 * error messages.  Caller frees. */
static char *
stderr_tail(const char *err)
{
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) {
        n--;
    }
    size_t start = n > 400 ? n - 400 : 0;
    return xmemdup0(err + start, n - start);
}

struct lq_error *
lq_exec(const char *const argv[], const char *const env_extra[],
        int timeout_ms, struct lq_exec_result *result)
{
    struct lq_exec_result local;
    struct lq_exec_result *r = result ? result : &local;
    int out_pipe[2], err_pipe[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;

    memset(r, 0, sizeof *r);
    r->status = -1;
    if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
        return lq_error_new(LQ_INTERNAL, "%s: pipe: %s", argv[0],
                            strerror(errno));
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

    char **env = build_env(env_extra);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char **) argv,
                          env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return lq_error_new(LQ_INTERNAL, "%s: cannot run: %s", argv[0],
                            strerror(rc));
    }

    struct ds out = DS_EMPTY_INITIALIZER, err = DS_EMPTY_INITIALIZER;
    struct pollfd pfd[2] = { { out_pipe[0], POLLIN, 0 },
                             { err_pipe[0], POLLIN, 0 } };
    long long deadline = now_ms() + timeout_ms;
    bool timed_out = false;
    int open_fds = 2;
    while (open_fds) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(pfd, 2, left) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd >= 0 && pfd[i].revents) {
                char buf[4096];
                ssize_t n = read(pfd[i].fd, buf, sizeof buf);
                if (n > 0) {
                    ds_put_buffer(i ? &err : &out, buf, n);
                } else if (n == 0 || errno != EINTR) {
                    close(pfd[i].fd);
                    pfd[i].fd = -1;
                    open_fds--;
                }
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (pfd[i].fd >= 0) {
            close(pfd[i].fd);
        }
    }
    if (timed_out) {
        kill(pid, SIGKILL);
    }

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        continue;
    }
    r->status = WIFEXITED(status) ? WEXITSTATUS(status)
                : 128 + WTERMSIG(status);
    r->out = ds_steal_cstr(&out);
    r->err = ds_steal_cstr(&err);

    struct lq_error *error = NULL;
    if (timed_out) {
        error = lq_error_new(LQ_DEADLINE_EXCEEDED, "%s: timed out after "
                             "%d ms", argv[0], timeout_ms);
    } else if (r->status) {
        char *tail = stderr_tail(r->err);
        error = lq_error_new(LQ_INTERNAL, "%s exited with status %d%s%s",
                             argv[0], r->status, *tail ? ": " : "", tail);
        free(tail);
    }
    if (!result) {
        lq_exec_result_clear(r);
    }
    return error;
}

void
lq_exec_result_clear(struct lq_exec_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
