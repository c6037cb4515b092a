/* replay_main: the main() of a fuzz target built without libFuzzer (gcc, valgrind, any build).
 * It runs LLVMFuzzerTestOneInput once on each file named, or on each file of each directory named
 * (a missing directory is skipped), in name order; options ("-runs=0", ...) are ignored. It does
 * not fuzz: it keeps the corpus and every fixed crash passing in the ordinary test runs. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_FILE_MAX (16 * 1024 * 1024) /* no corpus file comes near this */

static int s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    if (st.st_size > REPLAY_FILE_MAX) {
        fprintf(stderr, "replay: %s is larger than %d bytes\n", path, REPLAY_FILE_MAX);
        fclose(f);
        return -1;
    }
    /* exactly the file's bytes, so that ASan sees a read past the input as one */
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size > 0 ? size : 1);
    size_t len = data != NULL ? fread(data, 1, size, f) : 0;
    fclose(f);
    if (data == NULL || len != size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int s_by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every regular file of dir; returns how many, or -1 on an error. */
static int s_run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, s_by_name);
    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        if (names[i]->d_name[0] != '.' &&
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (s_run_file(path) != 0)
                ran = -1;
            else if (ran >= 0)
                ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-')
            continue;
        int ran = stat(argv[i], &st) == 0 && S_ISREG(st.st_mode) ? (s_run_file(argv[i]) == 0)
                                                                 : s_run_dir(argv[i]);
        if (ran < 0) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            return 1;
        }
        total += ran;
    }
    fprintf(stderr, "replay: %d inputs ran without a crash\n", total);
    return 0;
}
