/* journal: state.json kept as a jansson object, written atomically on every save.
 * It is the agent's memory, not its log: only what a restarted agent needs to decide. */
#include "journal.h"
#include "fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_VERSION 1
#define JOURNAL_MODE 0600

struct journal {
    char *path;
    json_t *root; /* {"version":1,"applied":[{"name","height","time"}],"step":{...}} */
};

static bool s_valid(json_t *root)
{
    if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")))
        return false;
    json_t *applied = json_object_get(root, "applied");
    if (!json_is_array(applied))
        return false;
    size_t i;
    json_t *entry;
    json_array_foreach(applied, i, entry)
    {
        if (!json_is_string(json_object_get(entry, "name")) ||
            !json_is_integer(json_object_get(entry, "height")))
            return false;
    }
    json_t *step = json_object_get(root, "step");
    return step == NULL || json_is_null(step) ||
           (json_is_string(json_object_get(step, "upgrade")) &&
            json_is_string(json_object_get(step, "step")));
}

journal_t *journal_load(const char *path, wv_err_t *err)
{
    journal_t *self = calloc(1, sizeof *self);
    if (self == NULL || (self->path = strdup(path)) == NULL) {
        free(self);
        err_set(err, "out of memory");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        self->root = json_pack("{s:i, s:[]}", "version", JOURNAL_VERSION, "applied");
    } else if (fs_read_file(path, JOURNAL_MAX_BYTES, &text, &len, err) == 0) {
        json_error_t jerr;
        self->root = json_loadb(text, len, 0, &jerr);
        free(text);
        if (self->root == NULL || !s_valid(self->root)) {
            err_set(err,
                    "journal %s is corrupt (%s); it records which upgrades were applied: "
                    "restore it from a backup, or move it away if you are sure `current` "
                    "is right",
                    path, self->root == NULL ? jerr.text : "unexpected structure");
            journal_destroy(&self);
            return NULL;
        }
    } else {
        journal_destroy(&self);
        return NULL;
    }
    if (self->root == NULL) {
        err_set(err, "out of memory");
        journal_destroy(&self);
        return NULL;
    }
    return self;
}

void journal_destroy(journal_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    journal_t *self = *self_p;
    json_decref(self->root);
    free(self->path);
    free(self);
    *self_p = NULL;
}

int journal_save(journal_t *self, wv_err_t *err)
{
    char *text = json_dumps(self->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return err_set(err, "out of memory");
    size_t len = strlen(text);
    int rc = fs_write_atomic(self->path, text, len, JOURNAL_MODE, err);
    free(text);
    if (rc != 0)
        return err_wrap(err, "saving the journal");
    return 0;
}

bool journal_applied(const journal_t *self, const char *name)
{
    return journal_applied_height(self, name) > 0;
}

int64_t journal_applied_height(const journal_t *self, const char *name)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(self->root, "applied"), i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "name")), name) == 0) {
            int64_t h = json_integer_value(json_object_get(entry, "height"));
            return h > 0 ? h : 1;
        }
    }
    return 0;
}

int64_t journal_last_height(const journal_t *self)
{
    json_t *applied = json_object_get(self->root, "applied");
    size_t n = json_array_size(applied);
    if (n == 0)
        return 0;
    return json_integer_value(json_object_get(json_array_get(applied, n - 1), "height"));
}

static void s_now_utc(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int journal_record_applied(journal_t *self, const char *name, int64_t height, wv_err_t *err)
{
    json_t *applied = json_object_get(self->root, "applied");
    char when[32];
    s_now_utc(when, sizeof when);
    json_t *entry =
        json_pack("{s:s, s:I, s:s}", "name", name, "height", (json_int_t)height, "time", when);
    if (entry == NULL || json_array_append_new(applied, entry) != 0)
        return err_set(err, "out of memory");
    while (json_array_size(applied) > JOURNAL_APPLIED_KEEP)
        json_array_remove(applied, 0);
    return 0;
}

static json_t *s_failed(const journal_t *self)
{
    json_t *failed = json_object_get(self->root, "failed");
    if (!json_is_array(failed)) {
        failed = json_array();
        json_object_set_new(self->root, "failed", failed);
    }
    return failed;
}

bool journal_failed(const journal_t *self, const char *name)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(self->root, "failed"), i, entry)
    {
        const char *n = json_string_value(json_object_get(entry, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

int journal_record_failed(journal_t *self, const char *name, int64_t height, const char *reason,
                          wv_err_t *err)
{
    char when[32];
    s_now_utc(when, sizeof when);
    json_t *entry = json_pack("{s:s, s:I, s:s, s:s}", "name", name, "height", (json_int_t)height,
                              "reason", reason, "time", when);
    json_t *failed = s_failed(self);
    if (entry == NULL || failed == NULL || json_array_append_new(failed, entry) != 0)
        return err_set(err, "out of memory");
    while (json_array_size(failed) > JOURNAL_APPLIED_KEEP)
        json_array_remove(failed, 0);
    return 0;
}

void journal_forget_failed(journal_t *self, const char *name)
{
    json_t *failed = json_object_get(self->root, "failed");
    for (size_t i = json_array_size(failed); i > 0; i--) {
        const char *n = json_string_value(json_object_get(json_array_get(failed, i - 1), "name"));
        if (n != NULL && strcmp(n, name) == 0)
            json_array_remove(failed, i - 1);
    }
}

int journal_step_set_str(journal_t *self, const char *key, const char *value, wv_err_t *err)
{
    json_t *step = json_object_get(self->root, "step");
    if (!json_is_object(step))
        return err_set(err, "no step in progress");
    if (json_object_set_new(step, key, json_string(value)) != 0)
        return err_set(err, "out of memory");
    return 0;
}

const char *journal_step_str(const journal_t *self, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(self->root, "step"), key));
    return s ? s : "";
}

int64_t journal_height(const journal_t *self)
{
    return json_integer_value(json_object_get(self->root, "height"));
}

void journal_set_height(journal_t *self, int64_t height)
{
    json_object_set_new(self->root, "height", json_integer(height));
}

const char *journal_step(const journal_t *self)
{
    const char *s = json_string_value(json_object_get(json_object_get(self->root, "step"), "step"));
    return s ? s : "";
}

const char *journal_step_upgrade(const journal_t *self)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(self->root, "step"), "upgrade"));
    return s ? s : "";
}

int64_t journal_step_height(const journal_t *self)
{
    return json_integer_value(json_object_get(json_object_get(self->root, "step"), "height"));
}

int journal_set_step(journal_t *self, const char *upgrade, int64_t height, const char *step,
                     wv_err_t *err)
{
    if (upgrade == NULL || step == NULL || step[0] == '\0')
        return json_object_set_new(self->root, "step", json_null()) == 0
                   ? 0
                   : err_set(err, "out of memory");
    char when[32];
    s_now_utc(when, sizeof when);
    /* the same upgrade moving on keeps its details (previous binary, backup archive...) */
    json_t *cur = json_object_get(self->root, "step");
    const char *cur_name = json_string_value(json_object_get(cur, "upgrade"));
    if (json_is_object(cur) && cur_name != NULL && strcmp(cur_name, upgrade) == 0) {
        if (json_object_set_new(cur, "step", json_string(step)) != 0 ||
            json_object_set_new(cur, "since", json_string(when)) != 0)
            return err_set(err, "out of memory");
        return 0;
    }
    json_t *s = json_pack("{s:s, s:I, s:s, s:s}", "upgrade", upgrade, "height", (json_int_t)height,
                          "step", step, "since", when);
    if (s == NULL || json_object_set_new(self->root, "step", s) != 0)
        return err_set(err, "out of memory");
    return 0;
}
