/* upgrade_info: parsing upgrade-info.json with jansson, refusing anything ambiguous.
 * A refused file changes nothing; the caller logs the message and keeps the node as it is. */
#include "upgrade_info.h"
#include "fsutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int upgrade_info_parse(const char *text, size_t len, upgrade_info_t *out, wv_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return err_set(err, "empty file; expected {\"name\": ..., \"height\": ...}");
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return err_set(err, "not valid JSON (line %d: %s)", jerr.line, jerr.text);
    int rc = -1;
    if (!json_is_object(root)) {
        err_set(err, "not a JSON object; expected {\"name\": ..., \"height\": ...}");
        goto done;
    }
    json_t *name = json_object_get(root, "name");
    if (name == NULL) {
        err_set(err, "\"name\" is missing");
        goto done;
    }
    if (!json_is_string(name)) {
        err_set(err, "\"name\" must be a string");
        goto done;
    }
    if (upgrade_name_check(json_string_value(name), err) != 0)
        goto done;
    json_t *height = json_object_get(root, "height");
    if (height == NULL) {
        err_set(err, "\"height\" is missing");
        goto done;
    }
    if (!json_is_integer(height)) {
        err_set(err, "\"height\" must be a whole number (a block height)");
        goto done;
    }
    if (json_integer_value(height) <= 0) {
        err_set(err, "\"height\" is %lld; it must be at least 1",
                (long long)json_integer_value(height));
        goto done;
    }
    json_t *info = json_object_get(root, "info");
    if (info != NULL && !json_is_object(info) && !json_is_string(info) && !json_is_null(info)) {
        err_set(err, "\"info\" must be an object, a string or absent");
        goto done;
    }
    json_t *mode = json_object_get(root, "mode");
    if (mode != NULL && !json_is_null(mode) &&
        (!json_is_string(mode) || (strcmp(json_string_value(mode), "at-height") != 0 &&
                                   strcmp(json_string_value(mode), "rolling") != 0))) {
        err_set(err, "\"mode\" must be \"at-height\" (the default) or \"rolling\"");
        goto done;
    }
    out->rolling =
        mode != NULL && json_is_string(mode) && strcmp(json_string_value(mode), "rolling") == 0;
    snprintf(out->name, sizeof out->name, "%s", json_string_value(name));
    out->height = json_integer_value(height);
    if (info != NULL && !json_is_null(info)) {
        out->info = json_dumps(info, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        if (out->info == NULL) {
            err_set(err, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int upgrade_info_load(const char *path, upgrade_info_t *out, wv_err_t *err)
{
    char *text;
    size_t len;
    memset(out, 0, sizeof *out);
    if (fs_read_file(path, UPGRADE_INFO_MAX_BYTES, &text, &len, err) != 0)
        return -1;
    int rc = upgrade_info_parse(text, len, out, err);
    free(text);
    if (rc != 0)
        return err_wrap(err, "%s", path);
    return 0;
}

void upgrade_info_free(upgrade_info_t *ui)
{
    free(ui->info);
    ui->info = NULL;
}
