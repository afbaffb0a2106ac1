/* image.h: reading a local disk image file (raw or qcow2) for import.
 *
 * Backends import from one thing: a file descriptor of raw bytes plus its
 * data extents (SEEK_DATA/SEEK_HOLE), so they can skip holes and all-zero
 * blocks and keep the new volume thin.  A raw file is read as is; a qcow2
 * file is first converted by `qemu-img convert -O raw` into a sparse
 * temporary file (unlinked as soon as it is open, so nothing is left
 * behind once the import ends).  Formats other than raw and qcow2, and
 * qcow2 files with a backing file, an external data file or encryption
 * are refused: an import must read exactly the file it was given. */
#ifndef LQ_STORAGE_IMAGE_H
#define LQ_STORAGE_IMAGE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limiquantix/error.h"

struct lq_job_progress;

struct lq_image_probe {
    char *format;               /* "raw" or "qcow2". */
    uint64_t virtual_size;      /* Bytes the guest sees. */
};
void lq_image_probe_clear(struct lq_image_probe *);

/* Where temporary images go: $TMPDIR, else /var/tmp (images are large). */
const char *lq_image_tmp_dir(void);

/* Checks 'path' ('field' names it in errors): exists, is a regular file,
 * is raw or a self-contained qcow2.  Fast (`qemu-img info`). */
struct lq_error *lq_image_probe(const char *field, const char *path,
                                struct lq_image_probe *);

/* Parses `qemu-img info --output=json` (exposed for unit tests). */
struct lq_error *lq_image_parse_info(const char *field, const char *json,
                                     struct lq_image_probe *);

struct lq_image_reader {
    int fd;                     /* Raw bytes, possibly sparse. */
    uint64_t size;              /* Virtual size. */
};

/* Opens 'path' as probed.  For qcow2 this runs the conversion, updating
 * 'progress' from 0 to 'convert_share' percent and stopping (LQ_CANCELED)
 * when progress->cancel is set. */
struct lq_error *lq_image_reader_open(const char *path,
                                      const struct lq_image_probe *,
                                      struct lq_job_progress *,
                                      unsigned int convert_share,
                                      struct lq_image_reader **);
void lq_image_reader_close(struct lq_image_reader *);

/* The next extent [*startp, *endp) at or after 'offset' that may hold data;
 * false when there is none.  Holes are skipped where the file system says
 * so; elsewhere it returns everything up to the size. */
bool lq_image_next_data(const struct lq_image_reader *, uint64_t offset,
                        uint64_t *startp, uint64_t *endp);

/* True if all 'n' bytes are zero. */
bool lq_buffer_is_zero(const void *, size_t n);

/* "(12.50/100%)" in qemu-img -p output -> 12 (the last one in 'text');
 * -1 if none.  Exposed for unit tests. */
int lq_qemu_img_progress(const char *text, size_t len);

/* Runs a long qemu-img command (argv[0] "qemu-img", with -p) without a
 * shell: its "(P/100%)" progress is mapped to base + P * share / 100 in
 * 'pr->percent', and it is killed (LQ_CANCELED) once 'pr->cancel' is set.
 * 'pr' may be NULL.  Failures carry the end of its stderr. */
struct lq_error *lq_qemu_img_run(const char *const argv[],
                                 struct lq_job_progress *pr,
                                 unsigned int base, unsigned int share);

#endif
