/* peercert: a linear scan of the peers directory; it holds a handful of certs. */
#include "peercert.h"
#include "fsutil.h"

#include <dirent.h>
#include <string.h>

zcert_t *peercert_find(const char *dir, const char *endpoint)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    zcert_t *found = NULL;
    struct dirent *e;
    while (found == NULL && (e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        if (e->d_name[0] == '.' || fs_join(path, sizeof path, NULL, dir, e->d_name, NULL) != 0 ||
            !fs_is_file(path))
            continue;
        zcert_t *c = zcert_load(path);
        const char *ep = c ? zcert_meta(c, "endpoint") : NULL;
        if (ep != NULL && strcmp(ep, endpoint) == 0)
            found = c;
        else
            zcert_destroy(&c);
    }
    closedir(d);
    return found;
}
