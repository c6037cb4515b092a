/* Unit tests of shared/value.h: what each parser accepts, what it refuses and what it says then.
 * Not tested here: which variable uses which parser and with which bounds (test_config.c). */
#include "value.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS (3600ULL * 1000)

/* A refusal must name the variable and quote the value as the operator wrote it. */
static void s_assert_names_value(const wv_err_t *err, const char *name, const char *text)
{
    char quoted[256];
    snprintf(quoted, sizeof quoted, "%s=\"%s\"", name, text);
    tu_assert_contains(err->msg, quoted);
}

/* --- durations --- */

static void test_duration_accepts_each_unit(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ms;
    } cases[] = {
        {"300ms", 300}, {"5s", 5000}, {"2m", 120000},          {"1h", HOUR_MS},
        {"0", 0},       {"0s", 0},    {"90m", 90 * 60 * 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ms = 12345;
        wv_err_t err = {{0}};
        assert_int_equal(
            value_parse_duration("DAEMON_POLL_INTERVAL", cases[i].text, 0, UINT64_MAX, &ms, &err),
            0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_duration_refuses_what_is_not_a_number_with_a_unit(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "",                      /* nothing */
        "5",                     /* a number without a unit: seconds? milliseconds? */
        "abc",                   /* no number */
        "5 s",                   /* a space before the unit */
        "-1s",                   /* negative */
        "1.5s",                  /* not whole */
        "5x",                    /* unknown unit */
        "5S",                    /* units are lower case */
        "99999999999999999999h", /* does not fit in 64 bits */
        "9999999999999h",        /* fits, but not once in milliseconds */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint64_t ms = 12345;
        wv_err_t err = {{0}};
        assert_int_equal(
            value_parse_duration("DAEMON_POLL_INTERVAL", refused[i], 0, UINT64_MAX, &ms, &err), -1);
        assert_int_equal(ms, 12345); /* untouched */
        s_assert_names_value(&err, "DAEMON_POLL_INTERVAL", refused[i]);
        tu_assert_contains(err.msg, "ms, s, m or h");
    }
}

static void test_duration_out_of_range_names_the_range(void **state)
{
    (void)state;
    uint64_t ms = 12345;
    wv_err_t err = {{0}};

    assert_int_equal(value_parse_duration("DAEMON_POLL_INTERVAL", "5ms", 10, HOUR_MS, &ms, &err),
                     -1);
    s_assert_names_value(&err, "DAEMON_POLL_INTERVAL", "5ms");
    tu_assert_contains(err.msg, "between 10ms and 1h");

    assert_int_equal(value_parse_duration("DAEMON_POLL_INTERVAL", "61m", 10, HOUR_MS, &ms, &err),
                     -1);
    s_assert_names_value(&err, "DAEMON_POLL_INTERVAL", "61m");
    tu_assert_contains(err.msg, "between 10ms and 1h");
    assert_int_equal(ms, 12345);

    /* the bounds themselves are in range */
    assert_int_equal(value_parse_duration("DAEMON_POLL_INTERVAL", "10ms", 10, HOUR_MS, &ms, &err),
                     0);
    assert_int_equal(ms, 10);
    assert_int_equal(value_parse_duration("DAEMON_POLL_INTERVAL", "60m", 10, HOUR_MS, &ms, &err),
                     0);
    assert_int_equal(ms, HOUR_MS);
}

static void test_duration_format_uses_the_largest_exact_unit(void **state)
{
    (void)state;
    static const struct {
        uint64_t ms;
        const char *text;
    } cases[] = {
        {0, "0s"},      {300, "300ms"},  {1500, "1500ms"},    {5000, "5s"},          {90000, "90s"},
        {120000, "2m"}, {HOUR_MS, "1h"}, {90 * 60000, "90m"}, {24 * HOUR_MS, "24h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        value_format_duration(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_duration_format_round_trips_through_parse(void **state)
{
    (void)state;
    // clang-format off
    static const uint64_t values[] = {
        0, 1, 999, 1000, 1001, 59999, 60000, 61000,
        HOUR_MS - 1, HOUR_MS, HOUR_MS + 60000, 7 * 24 * HOUR_MS,
    };
    // clang-format on
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32];
        uint64_t back = 12345;
        wv_err_t err = {{0}};
        value_format_duration(values[i], buf, sizeof buf);
        assert_int_equal(value_parse_duration("X", buf, 0, UINT64_MAX, &back, &err), 0);
        assert_int_equal(back, values[i]);
    }
}

/* --- booleans --- */

static void test_bool_accepts_true_and_false_in_any_case(void **state)
{
    (void)state;
    bool b = false;
    wv_err_t err = {{0}};
    assert_int_equal(value_parse_bool("VALIDATOR_MODE", "true", &b, &err), 0);
    assert_true(b);
    assert_int_equal(value_parse_bool("VALIDATOR_MODE", "FALSE", &b, &err), 0);
    assert_false(b);
    assert_int_equal(value_parse_bool("VALIDATOR_MODE", "True", &b, &err), 0);
    assert_true(b);
}

static void test_bool_refuses_anything_else(void **state)
{
    (void)state;
    static const char *const refused[] = {"yes", "1", "", "0", "on", "true ", "truee"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        bool b = true;
        wv_err_t err = {{0}};
        assert_int_equal(value_parse_bool("VALIDATOR_MODE", refused[i], &b, &err), -1);
        assert_true(b); /* untouched */
        s_assert_names_value(&err, "VALIDATOR_MODE", refused[i]);
        tu_assert_contains(err.msg, "true or false");
    }
}

/* --- integers --- */

static void test_int_accepts_decimals_within_the_bounds(void **state)
{
    (void)state;
    int64_t v = 12345;
    wv_err_t err = {{0}};
    assert_int_equal(value_parse_int("DAEMON_MAX_RESTARTS", "0", 0, 1000, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(value_parse_int("DAEMON_MAX_RESTARTS", "1000", 0, 1000, &v, &err), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(value_parse_int("OFFSET", "-5", -10, 10, &v, &err), 0);
    assert_int_equal(v, -5);
    /* "-0" is zero: the sign of nothing changes nothing, so it is accepted */
    assert_int_equal(value_parse_int("DAEMON_MAX_RESTARTS", "-0", 0, 1000, &v, &err), 0);
    assert_int_equal(v, 0);
}

static void test_int_covers_the_whole_int64_range(void **state)
{
    (void)state;
    int64_t v = 12345;
    wv_err_t err = {{0}};
    assert_int_equal(value_parse_int("N", "9223372036854775807", INT64_MIN, INT64_MAX, &v, &err),
                     0);
    assert_true(v == INT64_MAX);
    assert_int_equal(value_parse_int("N", "-9223372036854775808", INT64_MIN, INT64_MAX, &v, &err),
                     0);
    assert_true(v == INT64_MIN);

    v = 12345;
    assert_int_equal(value_parse_int("N", "9223372036854775808", INT64_MIN, INT64_MAX, &v, &err),
                     -1);
    tu_assert_contains(err.msg, "out of range");
    assert_int_equal(value_parse_int("N", "-9223372036854775809", INT64_MIN, INT64_MAX, &v, &err),
                     -1);
    tu_assert_contains(err.msg, "out of range");
    assert_int_equal(v, 12345);
}

static void test_int_out_of_bounds_names_the_bounds(void **state)
{
    (void)state;
    static const char *const refused[] = {"1001", "-1", "99999"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int64_t v = 12345;
        wv_err_t err = {{0}};
        assert_int_equal(value_parse_int("DAEMON_MAX_RESTARTS", refused[i], 0, 1000, &v, &err), -1);
        assert_int_equal(v, 12345);
        s_assert_names_value(&err, "DAEMON_MAX_RESTARTS", refused[i]);
        tu_assert_contains(err.msg, "out of range");
        tu_assert_contains(err.msg, "from 0 to 1000");
    }
}

static void test_int_refuses_sign_tricks_and_garbage(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "",                     /* nothing */
        "-",                    /* a sign without digits */
        "+5",                   /* only a minus sign is a sign */
        "007",                  /* leading zeros: octal to some readers */
        "-07",                  /* the same, negative */
        "00",                   /* zero is written 0 */
        "5x",                   /* trailing garbage */
        "5 ",                   /* trailing space */
        " 5",                   /* leading space */
        "1e3",                  /* an exponent */
        "0x10",                 /* hex */
        "1.0",                  /* not whole */
        "99999999999999999999", /* more digits than 64 bits hold */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int64_t v = 12345;
        wv_err_t err = {{0}};
        assert_int_equal(value_parse_int("DAEMON_MAX_RESTARTS", refused[i], 0, 1000, &v, &err), -1);
        assert_int_equal(v, 12345);
        s_assert_names_value(&err, "DAEMON_MAX_RESTARTS", refused[i]);
        tu_assert_contains(err.msg, "from 0 to 1000");
    }
}

/* --- absolute paths --- */

static void test_abs_path_accepts_paths_from_the_root(void **state)
{
    (void)state;
    wv_err_t err = {{0}};
    assert_int_equal(value_parse_abs_path("DAEMON_HOME", "/var/lib/wemixd", &err), 0);
    assert_int_equal(value_parse_abs_path("DAEMON_HOME", "/", &err), 0);
}

static void test_abs_path_refuses_relative_paths(void **state)
{
    (void)state;
    static const char *const refused[] = {"", "var/lib/wemixd", "./home", "~/node"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        wv_err_t err = {{0}};
        assert_int_equal(value_parse_abs_path("DAEMON_HOME", refused[i], &err), -1);
        s_assert_names_value(&err, "DAEMON_HOME", refused[i]);
        tu_assert_contains(err.msg, "absolute path");
    }
}

static void test_abs_path_refuses_paths_longer_than_path_max(void **state)
{
    (void)state;
    char path[PATH_MAX + 1];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';

    path[PATH_MAX - 1] = '\0'; /* PATH_MAX - 1 bytes: the longest a path can be */
    wv_err_t err = {{0}};
    assert_int_equal(value_parse_abs_path("DAEMON_HOME", path, &err), 0);

    path[PATH_MAX - 1] = 'a';
    path[PATH_MAX] = '\0';
    assert_int_equal(value_parse_abs_path("DAEMON_HOME", path, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_HOME");
    tu_assert_contains(err.msg, "longer than");
}

/* --- host:port --- */

static void test_host_port_accepts_names_and_addresses(void **state)
{
    (void)state;
    static const char *const accepted[] = {"localhost:8545", "127.0.0.1:8545", "[::1]:8545",
                                           "rpc-1.example.com:1", "node_a:65535"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        wv_err_t err = {{0}};
        if (value_parse_host_port("DAEMON_RPC_ADDRESS", accepted[i], &err) != 0)
            fail_msg("%s refused: %s", accepted[i], err.msg);
    }
}

static void test_host_port_refuses_missing_parts_and_bad_ports(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *says;
    } refused[] = {
        {"localhost", "host:port"},
        {":8545", "host:port"},
        {"", "host:port"},
        {"host:0", "1 to 65535"},
        {"host:65536", "1 to 65535"},
        {"host:abc", "1 to 65535"},
        {"host:", "1 to 65535"},
        {"host:+80", "1 to 65535"},
        {"local host:8545", "invalid character"},
        {"[::1:8545", "brackets"},
        {"::1:8545", "brackets"}, /* an IPv6 address without brackets is ambiguous */
        {"[]:8545", "brackets"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        wv_err_t err = {{0}};
        if (value_parse_host_port("DAEMON_RPC_ADDRESS", refused[i].text, &err) != -1)
            fail_msg("%s accepted", refused[i].text);
        s_assert_names_value(&err, "DAEMON_RPC_ADDRESS", refused[i].text);
        tu_assert_contains(err.msg, refused[i].says);
    }
}

/* --- sizes --- */

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define SIZE_LOW (4 * KIB) /* bounds as a config might set them: 4KiB to 64GiB */
#define SIZE_HIGH (64 * GIB)

static void test_size_accepts_bytes_and_binary_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"4096", 4096},        {"4096B", 4096},      {"4KiB", 4 * KIB}, {"4KB", 4 * KIB},
        {"100MiB", 100 * MIB}, {"100MB", 100 * MIB}, {"1GiB", GIB},     {"1GB", GIB},
        {"64GiB", SIZE_HIGH}, /* the upper bound is in range */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t bytes = 12345;
        wv_err_t err = {{0}};
        if (value_parse_size("DAEMON_LOG_MAX_SIZE", cases[i].text, SIZE_LOW, SIZE_HIGH, &bytes,
                             &err) != 0)
            fail_msg("%s refused: %s", cases[i].text, err.msg);
        assert_int_equal(bytes, cases[i].bytes);
    }
}

static void test_size_refuses_what_is_not_a_number_with_a_known_unit(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *says;
    } refused[] = {
        {"", "not a size"},
        {"abc", "not a size"},
        {"MiB", "not a size"},                    /* a unit without a number */
        {"-5MiB", "not a size"},                  /* negative */
        {"5 MiB", "unknown unit \" MiB\""},       /* a space before the unit */
        {"5mb", "unknown unit \"mb\""},           /* units are written as documented */
        {"1TiB", "unknown unit \"TiB\""},         /* larger than GiB is not a unit here */
        {"1.5GiB", "unknown unit \".5GiB\""},     /* not whole */
        {"99999999999999999999GiB", "too large"}, /* more digits than 64 bits hold */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint64_t bytes = 12345;
        wv_err_t err = {{0}};
        if (value_parse_size("DAEMON_LOG_MAX_SIZE", refused[i].text, SIZE_LOW, SIZE_HIGH, &bytes,
                             &err) != -1)
            fail_msg("%s accepted", refused[i].text);
        assert_int_equal(bytes, 12345); /* untouched */
        s_assert_names_value(&err, "DAEMON_LOG_MAX_SIZE", refused[i].text);
        tu_assert_contains(err.msg, refused[i].says);
        tu_assert_contains(err.msg, "KiB, MiB or GiB");
    }
}

static void test_size_out_of_range_names_the_range(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "0",              /* below the minimum */
        "4095",           /* one byte short */
        "65GiB",          /* above the maximum */
        "17179869184GiB", /* 2^64 bytes: the number fits, the size does not */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint64_t bytes = 12345;
        wv_err_t err = {{0}};
        assert_int_equal(
            value_parse_size("DAEMON_LOG_MAX_SIZE", refused[i], SIZE_LOW, SIZE_HIGH, &bytes, &err),
            -1);
        assert_int_equal(bytes, 12345);
        s_assert_names_value(&err, "DAEMON_LOG_MAX_SIZE", refused[i]);
        tu_assert_contains(err.msg, "out of range; use a size between 4KiB and 64GiB");
    }
}

static void test_size_format_uses_the_largest_exact_unit(void **state)
{
    (void)state;
    static const struct {
        uint64_t bytes;
        const char *text;
    } cases[] = {
        {0, "0"},
        {512, "512"},
        {1536, "1536"},
        {4 * KIB, "4KiB"},
        {1536 * KIB, "1536KiB"},
        {100 * MIB, "100MiB"},
        {1536 * MIB, "1536MiB"},
        {GIB, "1GiB"},
        {GIB + 1, "1073741825"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        value_format_size(cases[i].bytes, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_size_format_round_trips_through_parse(void **state)
{
    (void)state;
    // clang-format off
    static const uint64_t values[] = {
        0, 1, 1023, KIB, KIB + 1, 4 * KIB, MIB - 1, MIB, 100 * MIB, GIB - KIB, GIB, 64 * GIB,
        UINT64_MAX / GIB * GIB, UINT64_MAX,
    };
    // clang-format on
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32];
        uint64_t back = 12345;
        wv_err_t err = {{0}};
        value_format_size(values[i], buf, sizeof buf);
        if (value_parse_size("X", buf, 0, UINT64_MAX, &back, &err) != 0)
            fail_msg("%s refused: %s", buf, err.msg);
        assert_true(back == values[i]);
    }
}

/* --- gossip endpoints and keys --- */

static void test_endpoint_accepts_tcp_and_ipc(void **state)
{
    (void)state;
    wv_err_t err;
    const char *ok[] = {"tcp://127.0.0.1:7600", "tcp://*:7600", "tcp://node-1.example:7600",
                        "tcp://[::1]:7600", "ipc:///run/wemixvisor/gossip"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(value_parse_endpoint("WEMIXVISOR_LISTEN", ok[i], &err), 0);
}

static void test_endpoint_refuses_other_transports_and_bad_ports(void **state)
{
    (void)state;
    wv_err_t err;
    const char *refused[] = {"127.0.0.1:7600", "udp://1.2.3.4:7600", "tcp://host",
                             "tcp://host:0",   "tcp://host:70000",   "tcp://*:x",
                             "ipc://relative", "tcp://:7600",        ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(value_parse_endpoint("WEMIXVISOR_LISTEN", refused[i], &err), -1);
        s_assert_names_value(&err, "WEMIXVISOR_LISTEN", refused[i]);
    }
}

static void test_list_checks_every_item_and_names_the_bad_one(void **state)
{
    (void)state;
    wv_err_t err;
    assert_int_equal(
        value_parse_list("WEMIXVISOR_PEERS", "tcp://a:1,tcp://b:2", 8, value_parse_endpoint, &err),
        0);
    assert_int_equal(
        value_parse_list("WEMIXVISOR_PEERS", "tcp://a:1,b:2", 8, value_parse_endpoint, &err), -1);
    tu_assert_contains(err.msg, "\"b:2\"");
    assert_int_equal(
        value_parse_list("WEMIXVISOR_PEERS", "tcp://a:1,,tcp://b:2", 8, value_parse_endpoint, &err),
        -1);
    tu_assert_contains(err.msg, "empty item");
    assert_int_equal(
        value_parse_list("WEMIXVISOR_PEERS", "tcp://a:1,", 8, value_parse_endpoint, &err), -1);
    assert_int_equal(value_parse_list("WEMIXVISOR_PEERS", "tcp://a:1,tcp://a:2,tcp://a:3", 2,
                                      value_parse_endpoint, &err),
                     -1);
    tu_assert_contains(err.msg, "more than 2");
}

static void test_pubkey_is_64_hex_digits(void **state)
{
    (void)state;
    wv_err_t err;
    char key[65];
    memset(key, 'a', 64);
    key[64] = '\0';
    assert_int_equal(value_parse_pubkey("WEMIXVISOR_VALIDATORS", key, &err), 0);
    key[10] = 'G';
    assert_int_equal(value_parse_pubkey("WEMIXVISOR_VALIDATORS", key, &err), -1);
    tu_assert_contains(err.msg, "wemixvisor id");
    key[63] = '\0';
    key[10] = 'a';
    assert_int_equal(value_parse_pubkey("WEMIXVISOR_VALIDATORS", key, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_accepts_each_unit),
        cmocka_unit_test(test_duration_refuses_what_is_not_a_number_with_a_unit),
        cmocka_unit_test(test_duration_out_of_range_names_the_range),
        cmocka_unit_test(test_duration_format_uses_the_largest_exact_unit),
        cmocka_unit_test(test_duration_format_round_trips_through_parse),
        cmocka_unit_test(test_bool_accepts_true_and_false_in_any_case),
        cmocka_unit_test(test_bool_refuses_anything_else),
        cmocka_unit_test(test_int_accepts_decimals_within_the_bounds),
        cmocka_unit_test(test_int_covers_the_whole_int64_range),
        cmocka_unit_test(test_int_out_of_bounds_names_the_bounds),
        cmocka_unit_test(test_int_refuses_sign_tricks_and_garbage),
        cmocka_unit_test(test_abs_path_accepts_paths_from_the_root),
        cmocka_unit_test(test_abs_path_refuses_relative_paths),
        cmocka_unit_test(test_abs_path_refuses_paths_longer_than_path_max),
        cmocka_unit_test(test_host_port_accepts_names_and_addresses),
        cmocka_unit_test(test_host_port_refuses_missing_parts_and_bad_ports),
        cmocka_unit_test(test_size_accepts_bytes_and_binary_units),
        cmocka_unit_test(test_size_refuses_what_is_not_a_number_with_a_known_unit),
        cmocka_unit_test(test_size_out_of_range_names_the_range),
        cmocka_unit_test(test_size_format_uses_the_largest_exact_unit),
        cmocka_unit_test(test_size_format_round_trips_through_parse),
        cmocka_unit_test(test_endpoint_accepts_tcp_and_ipc),
        cmocka_unit_test(test_endpoint_refuses_other_transports_and_bad_ports),
        cmocka_unit_test(test_list_checks_every_item_and_names_the_bad_one),
        cmocka_unit_test(test_pubkey_is_64_hex_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
