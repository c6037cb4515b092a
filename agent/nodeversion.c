/* nodeversion: version detection by running the binary with the usual version flags.
 * The first token shaped like a version wins; everything else in the output is ignored. */
#include "nodeversion.h"
#include "proc.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define OUTPUT_MAX 4096

/* Length of a version token starting at p (digits '.' digits ...), 0 if none. */
static size_t s_version_len(const char *p)
{
    const char *q = p;
    if (*q == 'v' || *q == 'V')
        q++;
    int groups = 0;
    for (;;) {
        if (!isdigit((unsigned char)*q))
            break;
        while (isdigit((unsigned char)*q))
            q++;
        groups++;
        if (*q != '.' || !isdigit((unsigned char)q[1]))
            break;
        q++;
    }
    if (groups < 2)
        return 0;
    /* pre-release or build suffix: -rc1, +abc, -stable-1a2b */
    while (*q == '-' || *q == '+') {
        const char *r = q + 1;
        while (isalnum((unsigned char)*r) || *r == '.')
            r++;
        if (r == q + 1)
            break;
        q = r;
    }
    return (size_t)(q - p);
}

int nodeversion_parse(const char *text, char *buf, size_t size)
{
    for (const char *p = text; *p; p++) {
        /* a '.' before a digit continues a word ("go1.21.5"), it does not start a token */
        bool at_token_start = p == text || (!isalnum((unsigned char)p[-1]) && p[-1] != '.');
        if (!at_token_start)
            continue;
        size_t len = s_version_len(p);
        if (len > 0) {
            snprintf(buf, size, "%.*s", (int)len, p);
            return 0;
        }
    }
    return -1;
}

int nodeversion_detect(const char *binary, char *buf, size_t size, wv_err_t *err)
{
    static const char *const flags[] = {"version", "--version", "-v"};
    char out[OUTPUT_MAX];
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *argv[] = {(char *)binary, (char *)flags[i], NULL};
        int code = proc_run_capture(binary, argv, NODEVERSION_TIMEOUT_MS, out, sizeof out, err);
        if (code == 0 && nodeversion_parse(out, buf, size) == 0)
            return 0;
        if (code < 0 && (strstr(err->msg, "cannot start") != NULL ||
                         strstr(err->msg, "did not finish") != NULL))
            return -1; /* not runnable, or hangs: no point trying the other flags */
    }
    return err_set(err, "%s printed no version for `version`, `--version` or `-v`", binary);
}
