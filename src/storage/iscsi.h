/* iscsi.h: pieces of the iSCSI driver that are pure logic, exposed for
 * unit tests. */
#ifndef LQ_STORAGE_ISCSI_H
#define LQ_STORAGE_ISCSI_H 1

#include <stdbool.h>
#include <stddef.h>
#include "limiquantix/error.h"

/* Longest volume id in an iscsi pool: the LUN's SCSI unit serial number
 * carries it, and tgt keeps at most 36 bytes (a UUID fits). */
#define LQ_ISCSI_MAX_ID 36

/* "host", "host:port", "[v6]" or "[v6]:port" (default port 3260) into
 * host (without brackets) and port; invalid_argument naming 'field'. */
struct lq_error *lq_iscsi_parse_portal(const char *field, const char *portal,
                                       char **hostp, int *portp);

/* An iSCSI name: "iqn.YYYY-MM.reverse.domain[:anything]", "eui.<16 hex>"
 * or "naa.<16 or 32 hex>"; lower case letters, digits, '.', '-', ':'
 * only, at most 223 bytes. */
struct lq_error *lq_iscsi_check_iqn(const char *field, const char *iqn);

/* A CHAP user or secret: printable ASCII without spaces or ',' (tgtadm
 * parses them), user 1..255 bytes, secret 12..255 bytes.  The message
 * names 'field' and never contains the value. */
struct lq_error *lq_iscsi_check_chap(const char *field, const char *value,
                                     bool secret);

/* One target in `tgtadm --mode target --op show` output. */
struct lq_tgt_lun {
    int lun;
    char *serial;               /* "SCSI SN" */
    char *path;                 /* "Backing store path" */
    unsigned long long size_mb; /* "Size: N MB" */
};

struct lq_tgt_target {
    int tid;                    /* 0: not found. */
    size_t n_nexus;             /* Logged-in sessions (I_T nexus). */
    struct lq_tgt_lun *luns;
    size_t n_luns;
    char **accounts;            /* "user" or "user (outgoing)" */
    size_t n_accounts;
    char **acls;
    size_t n_acls;
};

/* Finds target 'iqn' in 'text'; '*max_tidp' gets the highest tid seen. */
void lq_tgt_parse_show(const char *text, const char *iqn,
                       struct lq_tgt_target *, int *max_tidp);
void lq_tgt_target_clear(struct lq_tgt_target *);

#endif
