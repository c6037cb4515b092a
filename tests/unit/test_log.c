/* Unit tests of shared/log.h: the text and JSON line formats, level and format names, and
 * log_emit's level filter, read back through a pipe. Not tested here: concurrent writers. */
#include "log.h"
#include "testutil.h"

#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_TEST 8192 /* log.c's LOG_LINE_MAX: longer lines are cut */
#define TIMESTAMP_LEN 24   /* 2024-05-01T12:34:56.789Z */

/* RFC 3339 UTC with milliseconds: each 'd' of the template is a digit, the rest literal. */
static bool s_is_timestamp(const char *t, size_t len)
{
    static const char template[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (len != sizeof template - 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (template[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != template[i])
            return false;
    }
    return true;
}

/* Checks a text line as `<level> <time> <rest>` and returns <rest>. */
static const char *s_after_timestamp(const char *line, const char *level)
{
    size_t n = strlen(level);
    if (strncmp(line, level, n) != 0 || line[n] != ' ')
        fail_msg("line does not start with \"%s \": %s", level, line);
    const char *ts = line + n + 1;
    if (!s_is_timestamp(ts, TIMESTAMP_LEN) || ts[TIMESTAMP_LEN] != ' ')
        fail_msg("no timestamp after the level: %s", line);
    return ts + TIMESTAMP_LEN + 1;
}

static void test_text_line_is_level_time_component_message_fields(void **state)
{
    (void)state;
    log_field_t fields[] = {LF_INT("pid", 4242), LF_STR("binary", "/node/current/bin/wemixd"),
                            LF_BOOL("validator", true), LF_BOOL("restart", false),
                            LF_INT("delta", -5)};
    char line[512];
    int len = log_format_line(line, sizeof line, LOG_FORMAT_TEXT, LL_INFO, "supervisor",
                              "node started", fields, 5);
    assert_int_equal(len, (int)strlen(line));
    assert_string_equal(s_after_timestamp(line, "info"),
                        "supervisor node started pid=4242 binary=/node/current/bin/wemixd "
                        "validator=true restart=false delta=-5\n");
}

static void test_text_values_are_quoted_when_a_reader_could_misread_them(void **state)
{
    (void)state;
    log_field_t fields[] = {
        LF_STR("path", "/home/my node"), LF_STR("said", "say \"hi\""), LF_STR("kv", "a=b"),
        LF_STR("error", "line1\nline2"), LF_STR("empty", ""),          LF_STR("none", NULL),
        LF_STR("backslash", "C:\\node"), LF_STR("tab", "a\tb"),
    };
    char line[512];
    log_format_line(line, sizeof line, LOG_FORMAT_TEXT, LL_WARN, "watcher", "refused", fields, 8);
    assert_string_equal(s_after_timestamp(line, "warn"),
                        "watcher refused path=\"/home/my node\" said=\"say \\\"hi\\\"\" "
                        "kv=\"a=b\" error=\"line1\\nline2\" empty=\"\" none=\"\" "
                        "backslash=\"C:\\\\node\" tab=\"a\\x09b\"\n");
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1); /* one line, always */
}

static void test_text_line_reports_its_full_length_when_cut(void **state)
{
    (void)state;
    log_field_t fields[] = {LF_STR("upgrade", "v2")};
    char small[16];
    int len = log_format_line(small, sizeof small, LOG_FORMAT_TEXT, LL_ERROR, "runner",
                              "upgrade failed", fields, 1);
    assert_true(len > (int)sizeof small - 1); /* like snprintf: what it needed */
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "error ", 6);
}

static void test_json_line_has_level_time_component_msg_and_fields(void **state)
{
    (void)state;
    log_field_t fields[] = {LF_INT("height", 1000000), LF_BOOL("validator", true),
                            LF_STR("error", "say \"no\"\nthen stop"), LF_STR("none", NULL)};
    char line[1024];
    int len = log_format_line(line, sizeof line, LOG_FORMAT_JSON, LL_ERROR, "runner",
                              "upgrade failed", fields, 4);
    assert_int_equal(len, (int)strlen(line));
    assert_ptr_equal(strchr(line, '\n'), line + len - 1); /* one line, always */

    json_error_t jerr;
    json_t *obj = json_loads(line, 0, &jerr);
    if (obj == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, line);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(obj, "component")), "runner");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")), "upgrade failed");
    const char *ts = json_string_value(json_object_get(obj, "time"));
    assert_non_null(ts);
    assert_true(s_is_timestamp(ts, strlen(ts)));
    assert_int_equal(json_integer_value(json_object_get(obj, "height")), 1000000);
    assert_true(json_is_true(json_object_get(obj, "validator")));
    assert_string_equal(json_string_value(json_object_get(obj, "error")), "say \"no\"\nthen stop");
    assert_string_equal(json_string_value(json_object_get(obj, "none")), "");
    assert_int_equal(json_object_size(obj), 8);
    json_decref(obj);
}

static void test_level_and_format_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        log_level_t level;
    } levels[] = {{"debug", LL_DEBUG}, {"info", LL_INFO}, {"WARN", LL_WARN}, {"Error", LL_ERROR}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        log_level_t level = LL_ERROR;
        assert_int_equal(log_parse_level(levels[i].name, &level), 0);
        assert_int_equal(level, levels[i].level);
    }
    log_level_t level = LL_INFO;
    assert_int_equal(log_parse_level("warning", &level), -1);
    assert_int_equal(log_parse_level("", &level), -1);
    assert_int_equal(level, LL_INFO); /* untouched */

    log_format_t format = LOG_FORMAT_TEXT;
    assert_int_equal(log_parse_format("JSON", &format), 0);
    assert_int_equal(format, LOG_FORMAT_JSON);
    assert_int_equal(log_parse_format("text", &format), 0);
    assert_int_equal(format, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("xml", &format), -1);
    assert_int_equal(format, LOG_FORMAT_TEXT);
}

/* log_emit's lines go to a pipe; each test reads back what was written. */
typedef struct {
    int fds[2];
    char buf[4 * LINE_MAX_TEST];
} pipe_fixture_t;

static int s_pipe_setup(void **state)
{
    pipe_fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || pipe2(fx->fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(fx);
        return -1;
    }
    log_set_fd(fx->fds[1]);
    log_set_level(LL_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    *state = fx;
    return 0;
}

static int s_pipe_teardown(void **state)
{
    pipe_fixture_t *fx = *state;
    log_set_fd(STDERR_FILENO);
    log_set_level(LL_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    close(fx->fds[0]);
    close(fx->fds[1]);
    free(fx);
    return 0;
}

/* Everything written so far (log_emit writes before it returns, so nothing is in flight). */
static const char *s_read_all(pipe_fixture_t *fx)
{
    size_t len = 0;
    ssize_t n;
    while ((n = read(fx->fds[0], fx->buf + len, sizeof fx->buf - 1 - len)) > 0)
        len += (size_t)n;
    fx->buf[len] = '\0';
    return fx->buf;
}

static void test_emit_drops_lines_below_the_level(void **state)
{
    pipe_fixture_t *fx = *state;
    log_set_level(LL_INFO);
    log_debug("runner", "polling");
    log_info("runner", "upgrade found", LF_STR("name", "v2"), LF_INT("height", 100));
    assert_int_equal(log_get_level(), LL_INFO);

    const char *out = s_read_all(fx);
    assert_string_equal(s_after_timestamp(out, "info"),
                        "runner upgrade found name=v2 height=100\n");

    log_set_level(LL_WARN);
    log_info("runner", "dropped");
    log_error("runner", "kept");
    out = s_read_all(fx);
    assert_string_equal(s_after_timestamp(out, "error"), "runner kept\n");
}

static void test_emit_in_json(void **state)
{
    pipe_fixture_t *fx = *state;
    log_set_format(LOG_FORMAT_JSON);
    log_warn("supervisor", "node exited on its own", LF_INT("pid", 77));

    json_error_t jerr;
    json_t *obj = json_loads(s_read_all(fx), 0, &jerr);
    if (obj == NULL)
        fail_msg("not JSON: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")), "node exited on its own");
    assert_int_equal(json_integer_value(json_object_get(obj, "pid")), 77);
    json_decref(obj);
}

static void test_emit_cuts_a_long_line_but_keeps_it_one_line(void **state)
{
    pipe_fixture_t *fx = *state;
    char *msg = malloc(2 * LINE_MAX_TEST);
    assert_non_null(msg);
    memset(msg, 'x', 2 * LINE_MAX_TEST - 1);
    msg[2 * LINE_MAX_TEST - 1] = '\0';
    log_info("runner", msg);
    free(msg);

    const char *out = s_read_all(fx);
    size_t len = strlen(out);
    assert_int_equal(len, LINE_MAX_TEST - 1);
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
}

int main(void)
{
#define PIPE_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_pipe_setup, s_pipe_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line_is_level_time_component_message_fields),
        cmocka_unit_test(test_text_values_are_quoted_when_a_reader_could_misread_them),
        cmocka_unit_test(test_text_line_reports_its_full_length_when_cut),
        cmocka_unit_test(test_json_line_has_level_time_component_msg_and_fields),
        cmocka_unit_test(test_level_and_format_names),
        PIPE_TEST(test_emit_drops_lines_below_the_level),
        PIPE_TEST(test_emit_in_json),
        PIPE_TEST(test_emit_cuts_a_long_line_but_keeps_it_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
