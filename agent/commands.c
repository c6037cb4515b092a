/* commands: init, version and config.
 * They print for a human on stdout and explain failures on stderr; they never start a node. */
#include "commands.h"
#include "agentlock.h"
#include "control.h"
#include "status.h"
#include "fleetview.h"
#include "fsutil.h"
#include "gossip.h"
#include "layout.h"
#include "nodeversion.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BINARY_MODE 0755
#define COMPARE_MAX (512 * 1024 * 1024)

static int s_fail(const char *what, const wv_err_t *err)
{
    fprintf(stderr, "wemixvisor: %s: %s\n", what, err->msg);
    return EXIT_FAIL;
}

/* Do two files hold the same bytes? */
static bool s_same_content(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    bool same = fs_read_file(a, COMPARE_MAX, &x, &xl, NULL) == 0 &&
                fs_read_file(b, COMPARE_MAX, &y, &yl, NULL) == 0 && xl == yl &&
                memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return same;
}

int cmd_init(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "wemixvisor init: give exactly one argument, the path to the node "
                        "binary (e.g. wemixvisor init /usr/local/bin/wemixd)\n");
        return EXIT_USAGE;
    }
    const char *src = argv[0];
    wv_err_t err;
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor init: %s\n", err.msg);
        return EXIT_USAGE;
    }
    struct stat st;
    if (stat(src, &st) != 0) {
        fprintf(stderr, "wemixvisor init: %s: %s; give the path to the node binary\n", src,
                strerror(errno));
        return EXIT_FAIL;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "wemixvisor init: %s is a directory; give the path to the node binary "
                "itself\n",
                src);
        return EXIT_FAIL;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "wemixvisor init: %s is not a regular file\n", src);
        return EXIT_FAIL;
    }
    struct stat cst;
    if (lstat(l.current, &cst) == 0 && !S_ISLNK(cst.st_mode)) {
        fprintf(stderr,
                "wemixvisor init: %s exists and is not a symlink; move it away and run "
                "init again\n",
                l.current);
        return EXIT_FAIL;
    }
    if (layout_create(&l, &err) != 0)
        return s_fail("init", &err);

    char dst[PATH_MAX];
    if (layout_upgrade_bin(&l, GENESIS_NAME, dst, sizeof dst, &err) != 0)
        return s_fail("init", &err);
    if (fs_is_file(dst)) {
        if (!s_same_content(src, dst)) {
            fprintf(stderr,
                    "wemixvisor init: %s already exists and differs from %s; the genesis "
                    "binary is never replaced silently: remove it first if you mean to\n",
                    dst, src);
            return EXIT_FAIL;
        }
        printf("genesis binary already in place: %s\n", dst);
    } else {
        if (fs_copy_file(src, dst, BINARY_MODE, &err) != 0)
            return s_fail("init", &err);
        printf("copied %s to %s\n", src, dst);
    }

    if (lstat(l.current, &cst) != 0) {
        if (fs_symlink_replace(GENESIS_NAME, l.current, &err) != 0)
            return s_fail("init", &err);
        printf("current -> %s\n", GENESIS_NAME);
    } else {
        char name[UPGRADE_NAME_MAX + 1];
        if (layout_current_upgrade(&l, name, sizeof name, &err) != 0)
            return s_fail("init", &err);
        printf("current already points at %s (left as it is)\n", name);
    }
    if (gossip_init_keys(&l, &err) != 0)
        return s_fail("init", &err);
    printf("initialised %s for %s\n", l.root, l.name);
    return EXIT_OK;
}

/* Parses the only option of version/config/status-like commands: [--json]. */
static int s_json_flag(const char *cmd, int argc, char **argv, bool *json)
{
    *json = argc == 1 && strcmp(argv[0], "--json") == 0;
    if (argc > 0 && !*json) {
        fprintf(stderr, "wemixvisor %s: unknown argument %s (only --json)\n", cmd, argv[0]);
        return -1;
    }
    return 0;
}

/* Prints a JSON document on stdout and releases it. */
static void s_print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(doc);
}

int cmd_version(const wv_config_t *cfg, int argc, char **argv)
{
    bool json;
    if (s_json_flag("version", argc, argv, &json) != 0)
        return EXIT_USAGE;
    json_t *out = json_pack("{s:s}", "wemixvisor", WV_VERSION);
    if (!json)
        printf("wemixvisor %s\n", WV_VERSION);
    int rc = EXIT_OK;
    if (cfg->home != NULL && cfg->name != NULL) {
        wv_err_t err;
        layout_t l;
        char bin[PATH_MAX], name[UPGRADE_NAME_MAX + 1], ver[64];
        if (layout_init(&l, cfg, &err) != 0 ||
            layout_current_upgrade(&l, name, sizeof name, &err) != 0 ||
            layout_current_bin(&l, bin, sizeof bin, &err) != 0 ||
            nodeversion_detect(bin, ver, sizeof ver, &err) != 0) {
            fprintf(stderr, "wemixvisor version: node version unknown: %s\n", err.msg);
            rc = EXIT_FAIL;
        } else {
            if (!json)
                printf("%s %s (current: %s)\n", l.name, ver, name);
            json_object_set_new(
                out, "node",
                json_pack("{s:s, s:s, s:s}", "name", l.name, "version", ver, "current", name));
        }
    }
    if (json)
        s_print_json(out);
    else
        json_decref(out);
    return rc;
}

int cmd_config(const wv_config_t *cfg, int argc, char **argv)
{
    bool json;
    if (s_json_flag("config", argc, argv, &json) != 0)
        return EXIT_USAGE;
    json_t *vars = json_object();
    if (!json && cfg->file != NULL)
        printf("# config file: %s\n", cfg->file);
    for (int i = 0; i < CFG_COUNT; i++) {
        char value[4096];
        config_value_text(cfg, (cfg_var_t)i, value, sizeof value);
        const char *src = config_source_name(cfg->source[i]);
        const char *name = cfg->env_name[i] ? cfg->env_name[i] : config_var_name((cfg_var_t)i);
        if (json)
            json_object_set_new(
                vars, config_var_name((cfg_var_t)i),
                json_pack("{s:s, s:s, s:s}", "value", value, "source", src, "read_as", name));
        else
            printf("%-32s %-24s %-8s # %s\n", name, value[0] ? value : "(unset)", src,
                   config_var_help((cfg_var_t)i));
    }
    json_t *out = json_pack("{s:o?, s:o}", "file", cfg->file ? json_string(cfg->file) : json_null(),
                            "variables", vars);
    if (json)
        s_print_json(out);
    else
        json_decref(out);
    return EXIT_OK;
}

/* Sends cmd to the running agent; prints its answer (a table, or JSON with --json). */
static int s_control(const wv_config_t *cfg, const char *cmd, int argc, char **argv)
{
    bool json;
    if (s_json_flag(cmd, argc, argv, &json) != 0)
        return EXIT_USAGE;
    wv_err_t err;
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor %s: %s\n", cmd, err.msg);
        return EXIT_USAGE;
    }
    pid_t agent = 0;
    if (!agentlock_running(l.root, &agent)) {
        if (json)
            s_print_json(json_pack("{s:b, s:s}", "running", 0, "error", "no agent is running"));
        fprintf(stderr,
                "wemixvisor %s: no wemixvisor agent is running for DAEMON_HOME=%s; start "
                "one with `wemixvisor run`\n",
                cmd, cfg->home);
        return EXIT_NOT_RUNNING;
    }
    char sock[PATH_MAX];
    json_t *reply = NULL;
    if (fs_join(sock, sizeof sock, &err, l.root, CONTROL_SOCKET_NAME, NULL) != 0 ||
        control_request(sock, cmd, CONTROL_TIMEOUT_MS, &reply, &err) != 0) {
        fprintf(stderr, "wemixvisor %s: agent pid %ld: %s\n", cmd, (long)agent, err.msg);
        return EXIT_FAIL;
    }
    bool ok = json_is_true(json_object_get(reply, "ok"));
    if (json) {
        s_print_json(reply);
    } else {
        if (!ok)
            fprintf(stderr, "wemixvisor %s: %s\n", cmd,
                    json_string_value(json_object_get(reply, "error")));
        else if (strcmp(cmd, "peers") == 0)
            fleetview_print(stdout, reply);
        else
            status_print(stdout, reply);
        if (ok && strcmp(cmd, "status") == 0 && json_is_object(json_object_get(reply, "gossip"))) {
            printf("\n");
            fleetview_print(stdout, json_object_get(reply, "gossip"));
        }
        json_decref(reply);
    }
    return ok ? EXIT_OK : EXIT_FAIL;
}

int cmd_status(const wv_config_t *cfg, int argc, char **argv)
{
    return s_control(cfg, "status", argc, argv);
}

int cmd_peers(const wv_config_t *cfg, int argc, char **argv)
{
    return s_control(cfg, "peers", argc, argv);
}

int cmd_start(const wv_config_t *cfg, int argc, char **argv)
{
    return s_control(cfg, "start", argc, argv);
}

int cmd_stop(const wv_config_t *cfg, int argc, char **argv)
{
    return s_control(cfg, "stop", argc, argv);
}

int cmd_restart(const wv_config_t *cfg, int argc, char **argv)
{
    return s_control(cfg, "restart", argc, argv);
}
