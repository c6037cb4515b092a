/* testutil: temp dirs, recursive removal and small files for the unit tests (see testutil.h).
 * Not linked into the agent or the coordinator, and deliberately not using fsutil. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int tu_mkdtemp(char *buf, size_t size)
{
    int n = snprintf(buf, size, "/tmp/wv-%s-XXXXXX", program_invocation_short_name);
    if (n < 0 || (size_t)n >= size || mkdtemp(buf) == NULL)
        return -1;
    return 0;
}

static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_rm_rf(const char *path)
{
    return nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_tmpdir_setup(void **state)
{
    char *dir = malloc(PATH_MAX);
    if (dir == NULL || tu_mkdtemp(dir, PATH_MAX) != 0) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

int tu_tmpdir_teardown(void **state)
{
    tu_rm_rf(*state);
    free(*state);
    return 0;
}

void tu_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0 || chmod(path, mode) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
}
