/* exec.h: the one way limiquantix-node runs an external command.
 *
 * Always an argv array through posix_spawn (never a shell, so no argument
 * can be re-parsed), with a timeout, optional extra environment, and
 * captured stdout/stderr.  A failure becomes an lq_error whose message
 * carries the program name and the tail of its stderr. */
#ifndef LQ_EXEC_H
#define LQ_EXEC_H 1

#include "limiquantix/error.h"

struct lq_exec_result {
    int status;         /* Exit status, or 128+signal. */
    char *out;          /* Captured stdout (NUL-terminated), owned. */
    char *err;          /* Captured stderr, owned. */
};

/* Runs argv[0] (looked up in PATH) with 'env_extra' ("NAME=value" strings,
 * NULL-terminated, may be NULL) added to the environment.  Waits at most
 * 'timeout_ms'; then kills it.  Returns an error if it could not run, timed
 * out, or exited non-zero; 'result' (if nonnull) is filled either way and
 * must be cleared with lq_exec_result_clear(). */
struct lq_error *lq_exec(const char *const argv[], const char *const env_extra[],
                         int timeout_ms, struct lq_exec_result *result);
void lq_exec_result_clear(struct lq_exec_result *);

#endif
