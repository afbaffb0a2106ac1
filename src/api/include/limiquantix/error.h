/* limiquantix/error.h: the one error model of limiquantix-node.
 *
 * Every fallible function in the C API returns `struct lq_error *`: NULL on
 * success, otherwise a newly allocated error that the caller owns and frees
 * with lq_error_free().  An error is created once, where the failure is first
 * understood, with a code and a human message; callers pass it up unchanged
 * (or add context with lq_error_prefix()), never replace it.
 *
 * The codes are the Connect/gRPC status codes, so the RPC layer maps them to
 * the wire 1:1 ("invalid_argument", HTTP 400, ...).  Messages must never
 * contain secrets (cephx keys, CHAP secrets, TLS keys). */
#ifndef LIMIQUANTIX_ERROR_H
#define LIMIQUANTIX_ERROR_H 1

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lq_code {
    LQ_OK = 0,
    LQ_CANCELED,
    LQ_UNKNOWN,
    LQ_INVALID_ARGUMENT,
    LQ_DEADLINE_EXCEEDED,
    LQ_NOT_FOUND,
    LQ_ALREADY_EXISTS,
    LQ_PERMISSION_DENIED,
    LQ_RESOURCE_EXHAUSTED,
    LQ_FAILED_PRECONDITION,
    LQ_ABORTED,
    LQ_OUT_OF_RANGE,
    LQ_UNIMPLEMENTED,
    LQ_INTERNAL,
    LQ_UNAVAILABLE,
    LQ_DATA_LOSS,
    LQ_UNAUTHENTICATED,
    LQ_N_CODES
};

struct lq_error {
    enum lq_code code;
    char *message;              /* Owned; never NULL. */
};

struct lq_error *lq_error_new(enum lq_code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void lq_error_free(struct lq_error *);

/* Prepends "PREFIX: " to the message of 'error' and returns 'error'. */
struct lq_error *lq_error_prefix(struct lq_error *error,
                                 const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* "invalid_argument", ... (the Connect wire names); "ok" for LQ_OK. */
const char *lq_code_name(enum lq_code);
/* Parses a wire name; returns false if unknown. */
bool lq_code_from_name(const char *name, enum lq_code *);
/* The HTTP status the Connect protocol uses for the code. */
int lq_code_http_status(enum lq_code);

/* For __attribute__((cleanup)): `LQ_AUTO_ERROR struct lq_error *e = ...;` */
void lq_error_freep(struct lq_error **);
#define LQ_AUTO_ERROR __attribute__((cleanup(lq_error_freep)))

#ifdef __cplusplus
}
#endif

#endif /* limiquantix/error.h */
