/* upgrade_info: the strict reader of upgrade-info.json (DESIGN section 5).
 * It only parses and validates; finding the binary and switching are elsewhere. */
#ifndef WV_UPGRADE_INFO_H
#define WV_UPGRADE_INFO_H

#include "err.h"
#include "layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPGRADE_INFO_MAX_BYTES (1024 * 1024)

typedef struct {
    char name[UPGRADE_NAME_MAX + 1]; /* validated by upgrade_name_check() */
    int64_t height;                  /* > 0 */
    char *info;                      /* the "info" value as compact JSON, or NULL if absent */
    bool rolling; /* "mode": "rolling": validators switch one restart slot at a time before the
                     height (DESIGN section 7); absent or "at-height": all at height - 1 */
} upgrade_info_t;

/* Parses text (len bytes). Refuses: empty input, a non-object, a missing or invalid name, a
 * height that is missing, not an integer, zero or negative, an info that is neither an object,
 * a string, nor absent, a "mode" other than "at-height" or "rolling". */
int upgrade_info_parse(const char *text, size_t len, upgrade_info_t *out, wv_err_t *err);

/* Reads and parses a file; err names the file. */
int upgrade_info_load(const char *path, upgrade_info_t *out, wv_err_t *err);

void upgrade_info_free(upgrade_info_t *ui);

#endif
