/* fuzz_value: every parser of shared/value.h on the same text, as an operator's environment or
 * config file would hand it over, with the round trips and agreements the parsers promise:
 * format(parse(x)) parses to the same value, a pubkey is what identity_parse_hex reads, a host:port
 * makes a tcp:// endpoint. Not fuzzed here: which variable gets which parser (fuzz_config). */
#include "fuzzutil.h"
#include "identity.h"
#include "value.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_TEXT_MAX 65536 /* the config file caps one value at 20 KiB; the environment less */
#define LIST_ITEMS_MAX 256   /* CONFIG_LIST_MAX */
#define PORT_MAX 65535
#define FORMAT_MAX 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("value");
    return 0;
}

static void s_duration(const char *text, uint64_t min, uint64_t max)
{
    uint64_t ms = 0, again = 0;
    wv_err_t err;
    if (value_parse_duration("D", text, min, max, &ms, &err) != 0)
        return;
    FZ_CHECK(ms >= min && ms <= max);
    char buf[FORMAT_MAX];
    value_format_duration(ms, buf, sizeof buf);
    FZ_CHECK(value_parse_duration("D", buf, min, max, &again, &err) == 0 && again == ms);
}

static void s_size(const char *text, uint64_t min, uint64_t max)
{
    uint64_t bytes = 0, again = 0;
    wv_err_t err;
    if (value_parse_size("S", text, min, max, &bytes, &err) != 0)
        return;
    FZ_CHECK(bytes >= min && bytes <= max);
    char buf[FORMAT_MAX];
    value_format_size(bytes, buf, sizeof buf);
    FZ_CHECK(value_parse_size("S", buf, min, max, &again, &err) == 0 && again == bytes);
}

static void s_int(const char *text, int64_t min, int64_t max)
{
    int64_t v = 0, again = 0;
    wv_err_t err;
    if (value_parse_int("I", text, min, max, &v, &err) != 0)
        return;
    FZ_CHECK(v >= min && v <= max);
    char buf[FORMAT_MAX];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    FZ_CHECK(value_parse_int("I", buf, min, max, &again, &err) == 0 && again == v);
}

static int s_check_host_port(const char *name, const char *item, wv_err_t *err)
{
    return value_parse_host_port(name, item, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > VALUE_TEXT_MAX)
        return 0;
    char *text = fz_strndup(data, size);
    wv_err_t err;
    bool flag;

    s_duration(text, 0, UINT64_MAX);
    s_duration(text, 10, 3600ULL * 1000); /* DAEMON_POLL_INTERVAL's bounds */
    s_size(text, 0, UINT64_MAX);
    s_size(text, 4096, 1ULL << 40); /* DAEMON_LOG_MAX_SIZE's */
    s_int(text, INT64_MIN, INT64_MAX);
    s_int(text, 1, PORT_MAX);
    s_int(text, 0, 100);
    if (value_parse_bool("B", text, &flag, &err) == 0)
        FZ_CHECK(strlen(text) == (flag ? 4u : 5u));
    if (value_parse_abs_path("P", text, &err) == 0)
        FZ_CHECK(text[0] == '/' && strlen(text) < PATH_MAX);

    /* a host:port is a tcp:// endpoint too */
    if (value_parse_host_port("H", text, &err) == 0 && size < VALUE_TEXT_MAX - 8) {
        char *endpoint = malloc(size + 8);
        FZ_CHECK(endpoint != NULL);
        snprintf(endpoint, size + 8, "tcp://%s", text);
        FZ_CHECK(value_parse_endpoint("E", endpoint, &err) == 0);
        free(endpoint);
    }
    value_parse_endpoint("E", text, &err);

    /* the config's pubkey check and the key parser agree on what a key is */
    uint8_t key[IDENTITY_PUBKEY_LEN];
    bool pubkey = value_parse_pubkey("K", text, &err) == 0;
    FZ_CHECK(pubkey == (identity_parse_hex(text, key, &err) == 0));

    value_parse_list("L", text, LIST_ITEMS_MAX, value_parse_endpoint, &err);
    value_parse_list("L", text, LIST_ITEMS_MAX, value_parse_pubkey, &err);
    value_parse_list("L", text, 2, s_check_host_port, &err);
    free(text);
    return 0;
}
