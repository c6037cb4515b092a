/* Unit tests of agent/upgrade_info.h: the upgrade-info.json files accepted, and for each refused
 * one, what the operator is told. Not tested here: when the watcher reads the file (watcher.c). */
#include "upgrade_info.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* What a chain writes at the upgrade height. */
static const char s_valid_file[] =
    "{\n"
    "  \"name\": \"v2\",\n"
    "  \"height\": 1000000,\n"
    "  \"info\": {\"binaries\": {\"linux/amd64\": \"https://example.com/wemixd-v2.tar.gz\"}}\n"
    "}\n";

static int s_parse(const char *text, upgrade_info_t *ui, wv_err_t *err)
{
    return upgrade_info_parse(text, strlen(text), ui, err);
}

static void test_parse_with_an_info_object(void **state)
{
    (void)state;
    upgrade_info_t ui;
    wv_err_t err = {{0}};
    assert_int_equal(s_parse(s_valid_file, &ui, &err), 0);
    assert_string_equal(ui.name, "v2");
    assert_int_equal(ui.height, 1000000);
    /* info is kept as compact JSON for whoever downloads the binary */
    assert_string_equal(
        ui.info, "{\"binaries\":{\"linux/amd64\":\"https://example.com/wemixd-v2.tar.gz\"}}");
    upgrade_info_free(&ui);
    assert_null(ui.info);
    upgrade_info_free(&ui); /* twice is fine */
}

static void test_parse_with_an_info_string(void **state)
{
    (void)state;
    upgrade_info_t ui;
    wv_err_t err = {{0}};
    assert_int_equal(
        s_parse("{\"name\":\"v2\",\"height\":5,\"info\":\"https://example.com/v2.json\"}", &ui,
                &err),
        0);
    assert_string_equal(ui.name, "v2");
    assert_int_equal(ui.height, 5);
    assert_string_equal(ui.info, "\"https://example.com/v2.json\""); /* as JSON: quoted */
    upgrade_info_free(&ui);
}

static void test_parse_without_info(void **state)
{
    (void)state;
    upgrade_info_t ui;
    wv_err_t err = {{0}};
    assert_int_equal(s_parse("{\"name\":\"v1.2.3-rc1\",\"height\":1}", &ui, &err), 0);
    assert_string_equal(ui.name, "v1.2.3-rc1");
    assert_int_equal(ui.height, 1);
    assert_null(ui.info);
    upgrade_info_free(&ui);

    assert_int_equal(s_parse("{\"name\":\"v2\",\"height\":7,\"info\":null}", &ui, &err), 0);
    assert_null(ui.info); /* null is the same as absent */
    upgrade_info_free(&ui);
}

static void test_parse_refuses_each_bad_file_saying_why(void **state)
{
    (void)state;
    char truncated[sizeof s_valid_file];
    snprintf(truncated, sizeof s_valid_file / 2, "%s", s_valid_file); /* half of a valid file */
    const struct {
        const char *text;
        const char *says;
    } refused[] = {
        {"", "empty file"},
        {"{}", "\"name\" is missing"},
        {"[]", "not a JSON object"},
        {"42", "not valid JSON"}, /* jansson takes only an object or an array at the top */
        {"{\"height\":100}", "\"name\" is missing"},
        {"{\"name\":2,\"height\":100}", "\"name\" must be a string"},
        {"{\"name\":null,\"height\":100}", "\"name\" must be a string"},
        {"{\"name\":\"../x\",\"height\":100}", "upgrade name \"../x\""},
        {"{\"name\":\"a/b\",\"height\":100}", "upgrade name \"a/b\""},
        {"{\"name\":\"\",\"height\":100}", "1 to 128 characters"},
        {"{\"name\":\"genesis\",\"height\":100}", "reserved"},
        {"{\"name\":\"v2\"}", "\"height\" is missing"},
        {"{\"name\":\"v2\",\"height\":0}", "\"height\" is 0; it must be at least 1"},
        {"{\"name\":\"v2\",\"height\":-5}", "\"height\" is -5; it must be at least 1"},
        {"{\"name\":\"v2\",\"height\":1.5}", "\"height\" must be a whole number"},
        {"{\"name\":\"v2\",\"height\":\"100\"}", "\"height\" must be a whole number"},
        {"{\"name\":\"v2\",\"height\":100,\"info\":42}", "\"info\" must be an object, a string"},
        {"{\"name\":\"v2\",\"height\":100,\"info\":[]}", "\"info\" must be an object, a string"},
        {"{\"name\":\"v2\" \"height\":100}", "not valid JSON"},
        {truncated, "not valid JSON"},
        {"{\"name\":\"v2\",\"height\":100,\"name\":\"v3\"}", "duplicate"},
        {"{\"name\":\"v2\",\"height\":100} trailing", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        upgrade_info_t ui;
        wv_err_t err = {{0}};
        if (s_parse(refused[i].text, &ui, &err) != -1)
            fail_msg("accepted: %s", refused[i].text);
        tu_assert_contains(err.msg, refused[i].says);
        assert_null(ui.info); /* nothing to free after a refusal */
    }
}

static void test_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    static const char text[] = "{\"name\":\"v2\",\"height\":9}garbage after the length";
    upgrade_info_t ui;
    wv_err_t err = {{0}};
    assert_int_equal(upgrade_info_parse(text, strlen("{\"name\":\"v2\",\"height\":9}"), &ui, &err),
                     0);
    assert_int_equal(ui.height, 9);
    upgrade_info_free(&ui);
}

static void test_load_reads_a_file_and_names_it_on_error(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/upgrade-info.json", dir);
    upgrade_info_t ui;
    wv_err_t err = {{0}};

    assert_int_equal(upgrade_info_load(path, &ui, &err), -1); /* not there yet */
    tu_assert_contains(err.msg, path);

    tu_write_file(path, s_valid_file, 0644);
    assert_int_equal(upgrade_info_load(path, &ui, &err), 0);
    assert_string_equal(ui.name, "v2");
    assert_int_equal(ui.height, 1000000);
    upgrade_info_free(&ui);

    static const char no_height[] = "{\"name\":\"v2\"}";
    tu_write_file(path, no_height, 0644);
    assert_int_equal(upgrade_info_load(path, &ui, &err), -1);
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, "\"height\" is missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_with_an_info_object),
        cmocka_unit_test(test_parse_with_an_info_string),
        cmocka_unit_test(test_parse_without_info),
        cmocka_unit_test(test_parse_refuses_each_bad_file_saying_why),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test_setup_teardown(test_load_reads_a_file_and_names_it_on_error,
                                        tu_tmpdir_setup, tu_tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
