/* err: formatting of error messages for the 0/-1 convention.
 * It does not log; the caller decides where a message goes. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(wv_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int err_sys(wv_err_t *err, const char *fmt, ...)
{
    int saved = errno;
    if (err == NULL)
        return -1;
    char head[WV_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%s: %s", head, strerror(saved));
    errno = saved;
    return -1;
}

int err_wrap(wv_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    char head[WV_ERR_MAX];
    char old[WV_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
    return -1;
}

void err_clear(wv_err_t *err)
{
    if (err != NULL)
        err->msg[0] = '\0';
}
