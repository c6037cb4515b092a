/* nodeversion: asks a node binary for its version (`version`, `--version`, `-v`).
 * It runs the binary briefly with a time-out; it never starts a node. */
#ifndef WV_NODEVERSION_H
#define WV_NODEVERSION_H

#include "err.h"

#include <stddef.h>

#define NODEVERSION_TIMEOUT_MS 2000

/* Finds the first version-looking token (v1.2.3, 1.2.3-rc1, 1.10) in text. */
int nodeversion_parse(const char *text, char *buf, size_t size);

/* Tries each of the version commands in turn; -1 with err if none gives a version. */
int nodeversion_detect(const char *binary, char *buf, size_t size, wv_err_t *err);

#endif
