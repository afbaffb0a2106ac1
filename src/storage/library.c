/* library.c: the image library (ListImages): a pool's imported base
 * images, as Nova's image cache and Proxmox's templates list them.
 *
 * Design decisions:
 * - An image is a volume created from a file or URL (its canonical create
 *   spec, storage.c, says "image=" or "url="): nothing extra is stored,
 *   so images imported before this are listed too, and an image stays
 *   one as long as its volume exists.
 * - What it came from is shown without query or fragment (CreateVolume
 *   refuses user info): a signed URL's query is a credential (download.c never logs it
 *   either).  A file import says only "file": the API names no host
 *   paths.
 * - 'clones' counts the volumes whose parent is the image (VMs' linked
 *   clones, CreateVM's imageVolumeId), so a caller sees what deleting
 *   it would need flattening. */
#include <config.h>
#include "limiquantix/storage.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The value of "key=" in a canonical spec (one "key=value" per line). */
static char *
spec_value(const char *spec, const char *key)
{
    size_t len = strlen(key);
    for (const char *line = spec; line && *line; ) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t) (end - line) : strlen(line);
        if (n > len && !strncmp(line, key, len) && line[len] == '=') {
            return xmemdup0(line + len + 1, n - len - 1);
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* CreateVolume refuses URLs with user info, so only the query and the
 * fragment go. */
char *
lq_image_public_url(const char *url)
{
    return xmemdup0(url, strcspn(url, "?#"));
}

static bool
is_image(const struct lq_volume_info *v, struct lq_image_info *img)
{
    if (!v->create_spec) {
        return false;
    }
    char *url = spec_value(v->create_spec, "url");
    char *file = url ? NULL : spec_value(v->create_spec, "image");
    if (!url && !file) {
        return false;
    }
    memset(img, 0, sizeof *img);
    img->source = xstrdup(url ? "url" : "file");
    img->url = url ? lq_image_public_url(url) : NULL;
    char *sha = url ? spec_value(v->create_spec, "sha256") : NULL;
    img->sha256 = sha && *sha ? sha : NULL;
    if (!img->sha256) {
        free(sha);
    }
    free(url);
    free(file);
    return true;
}

struct lq_error *
lq_image_list(struct lq_storage *s, const char *pool_id,
              struct lq_image_info **imagesp, size_t *np)
{
    *imagesp = NULL;
    *np = 0;
    struct lq_volume_list all;
    struct lq_error *e = lq_volume_list(s, pool_id, &all);
    if (e) {
        return e;
    }
    struct lq_image_info *images = xcalloc(all.n + 1, sizeof *images);
    size_t n = 0;
    for (size_t i = 0; i < all.n; i++) {
        struct lq_image_info *img = &images[n];
        if (is_image(all.volumes[i], img)) {
            for (size_t j = 0; j < all.n; j++) {
                const char *parent = all.volumes[j]->parent_volume_id;
                img->clones += parent && !strcmp(parent, all.volumes[i]->id);
            }
            img->volume = all.volumes[i];       /* Taken below. */
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < all.n; j++) {
            if (all.volumes[j] == images[i].volume) {
                all.volumes[j] = NULL;          /* Now the image's. */
            }
        }
    }
    for (size_t i = 0; i < all.n; i++) {
        lq_volume_info_free(all.volumes[i]);
    }
    free(all.volumes);
    *imagesp = images;
    *np = n;
    return NULL;
}

void
lq_image_info_free_array(struct lq_image_info *images, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lq_volume_info_free(images[i].volume);
        free(images[i].source);
        free(images[i].url);
        free(images[i].sha256);
    }
    free(images);
}
