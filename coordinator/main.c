/* wvcoord: the fleet coordinator's command line: status, watch, serve.
 * Options come from flags, then the same environment variables the agents use; every value is
 * checked before anything connects. The fleet itself is coord.c's; the web side is web.c's. */
#include "coord.h"
#include "fleetview.h"
#include "log.h"
#include "value.h"
#include "web.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_OK 0
#define EXIT_PROBLEM 1 /* status: something needs the operator */
#define EXIT_USAGE 2
#define DEFAULT_LISTEN "127.0.0.1:8080"
/* status listens this long, whoever it has heard: a live agent's current state arrives within a
 * heartbeat of the connection, and replaces any older copy (relayed, or replayed by a peer) that
 * came first. Ending as soon as everyone was heard once could show such an old copy. */
#define STATUS_WAIT_BEATS 2

static const char s_help[] =
    "usage: wvcoord [options] <command> [command options]\n"
    "\n"
    "wvcoord subscribes to the Wemixvisor agents of a validator fleet, checks every message as an\n"
    "agent does, and shows the fleet: nodes, heights, versions, upgrades and their quorum. It\n"
    "never votes and cannot change anything on an agent.\n"
    "\n"
    "commands:\n"
    "  status [--json]              one look at the fleet (listens for two heartbeats); exit 0\n"
    "                               when all is well, 1 when a node is down, silent, stalled or\n"
    "                               failed or an upgrade is blocked or short of quorum\n"
    "  watch                        a live table in the terminal, redrawn every heartbeat\n"
    "  serve [--listen HOST:PORT]   web dashboard at /, JSON at /api/fleet and /api/upgrades,\n"
    "                               Prometheus /metrics, /healthz (default " DEFAULT_LISTEN ")\n"
    "\n"
    "options (each also read from the environment variable shown):\n"
    "  --agents LIST        WVCOORD_AGENTS          the agents' PUB endpoints, comma-separated\n"
    "                                               (their WEMIXVISOR_LISTEN), e.g.\n"
    "                                               tcp://10.0.0.1:7600,tcp://10.0.0.2:7600\n"
    "  --chain ID           WEMIXVISOR_CHAIN_ID     the chain id the agents use\n"
    "  --validators KEYS    WEMIXVISOR_VALIDATORS   the validators' agent keys (`wemixvisor id`)\n"
    "  --observers KEYS     WEMIXVISOR_OBSERVERS    keys of non-validator agents (optional)\n"
    "  --heartbeat DUR      WEMIXVISOR_HEARTBEAT    the agents' heartbeat (default 1s)\n"
    "  --quorum-rule RULE   WEMIXVISOR_QUORUM_RULE  wbft (default) or ceil2n3\n"
    "  --listen HOST:PORT   WVCOORD_LISTEN          serve: where the dashboard listens\n"
    "  CURVE: WEMIXVISOR_CURVE=true, WVCOORD_CURVE_CERT (this coordinator's secret zcert; its\n"
    "  public half goes into every agent's curve/peers) and WEMIXVISOR_CURVE_PEERS (the agents'\n"
    "  public certs, each with its endpoint metadata).\n"
    "  --log-format text|json, --log-level debug|info|warn|error\n"
    "  -h, --help, --version\n";

typedef struct {
    coord_opts_t opts;
    const char *listen;
    const char *command;
    bool json;
} cli_t;

static int s_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int s_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wvcoord: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see wvcoord --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Flags, then environment for what the flags left unset; every value validated. */
static int s_parse(int argc, char **argv, cli_t *cli)
{
    static const struct {
        const char *flag, *env;
        size_t offset;
    } strs[] = {
        {"--agents", "WVCOORD_AGENTS", offsetof(coord_opts_t, agents)},
        {"--chain", "WEMIXVISOR_CHAIN_ID", offsetof(coord_opts_t, chain)},
        {"--validators", "WEMIXVISOR_VALIDATORS", offsetof(coord_opts_t, validators)},
        {"--observers", "WEMIXVISOR_OBSERVERS", offsetof(coord_opts_t, observers)},
        {"--quorum-rule", "WEMIXVISOR_QUORUM_RULE", offsetof(coord_opts_t, quorum_rule)},
        {NULL, "WVCOORD_CURVE_CERT", offsetof(coord_opts_t, curve_cert)},
        {NULL, "WEMIXVISOR_CURVE_PEERS", offsetof(coord_opts_t, curve_peers)},
    };
    const char *heartbeat = NULL;
    wv_err_t err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc, matched = false;
        for (size_t k = 0; k < sizeof strs / sizeof strs[0] && !matched; k++) {
            if (strs[k].flag != NULL && strcmp(a, strs[k].flag) == 0) {
                if (!has)
                    return s_usage("%s needs a value", a);
                *(char **)((char *)&cli->opts + strs[k].offset) = argv[++i];
                matched = true;
            }
        }
        if (matched)
            continue;
        if (strcmp(a, "--heartbeat") == 0 || strcmp(a, "--listen") == 0 ||
            strcmp(a, "--log-format") == 0 || strcmp(a, "--log-level") == 0) {
            if (!has)
                return s_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--heartbeat") == 0)
                heartbeat = v;
            else if (strcmp(a, "--listen") == 0)
                cli->listen = v;
            else if (strcmp(a, "--log-format") == 0) {
                log_format_t f;
                if (log_parse_format(v, &f) != 0)
                    return s_usage("--log-format \"%s\": use text or json", v);
                log_set_format(f);
            } else {
                log_level_t l;
                if (log_parse_level(v, &l) != 0)
                    return s_usage("--log-level \"%s\": use debug, info, warn or error", v);
                log_set_level(l);
            }
        } else if (strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (a[0] == '-') {
            return s_usage("unknown option %s", a);
        } else if (cli->command == NULL) {
            cli->command = a;
        } else {
            return s_usage("unexpected argument %s", a);
        }
    }
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
        char **slot = (char **)((char *)&cli->opts + strs[k].offset);
        const char *env = getenv(strs[k].env);
        if (*slot == NULL && env != NULL && env[0] != '\0')
            *slot = (char *)env;
    }
    if (heartbeat == NULL)
        heartbeat = getenv("WEMIXVISOR_HEARTBEAT");
    cli->opts.heartbeat_ms = 1000;
    if (heartbeat != NULL && heartbeat[0] != '\0' &&
        value_parse_duration("WEMIXVISOR_HEARTBEAT", heartbeat, 10, 3600 * 1000,
                             &cli->opts.heartbeat_ms, &err) != 0)
        return s_usage("%s", err.msg);
    const char *curve = getenv("WEMIXVISOR_CURVE");
    if (curve != NULL && curve[0] != '\0' &&
        value_parse_bool("WEMIXVISOR_CURVE", curve, &cli->opts.curve, &err) != 0)
        return s_usage("%s", err.msg);
    if (cli->listen == NULL)
        cli->listen = getenv("WVCOORD_LISTEN");
    if (cli->listen == NULL || cli->listen[0] == '\0')
        cli->listen = DEFAULT_LISTEN;
    if (value_parse_host_port("--listen", cli->listen, &err) != 0)
        return s_usage("%s", err.msg);
    return 0;
}

/* --- status ------------------------------------------------------------------------------- */

typedef struct {
    coord_t *coord;
    int64_t deadline;
} status_wait_t;

/* Ends the loop at the deadline (STATUS_WAIT_BEATS). */
static int s_on_status_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    status_wait_t *w = arg;
    return zclock_mono() >= w->deadline ? -1 : 0;
}

static void s_print_problems(FILE *out, json_t *problems)
{
    size_t i;
    json_t *p;
    if (json_array_size(problems) == 0) {
        fprintf(out, "\nall nodes running, no upgrade blocked\n");
        return;
    }
    fprintf(out, "\nPROBLEMS\n");
    json_array_foreach(problems, i, p) fprintf(out, "  %s\n", json_string_value(p));
}

static int s_status(zloop_t *loop, coord_t *coord, bool json)
{
    status_wait_t w = {coord,
                       zclock_mono() + STATUS_WAIT_BEATS * (int64_t)coord_heartbeat_ms(coord)};
    zloop_timer(loop, 20, 0, s_on_status_tick, &w);
    zloop_start(loop);
    json_t *doc = coord_fleet_json(coord);
    json_t *problems = json_object_get(doc, "problems");
    int rc = json_array_size(problems) == 0 ? EXIT_OK : EXIT_PROBLEM;
    if (json) {
        char *text = json_dumps(doc, JSON_INDENT(2));
        if (text != NULL)
            puts(text);
        free(text);
    } else {
        fleetview_print(stdout, doc);
        s_print_problems(stdout, problems);
    }
    json_decref(doc);
    return rc;
}

/* --- watch -------------------------------------------------------------------------------- */

static int s_on_watch_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    coord_t *coord = arg;
    json_t *doc = coord_fleet_json(coord);
    fputs("\033[H\033[2J", stdout); /* home, clear */
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
    printf("wvcoord watch — %s — chain %s — Ctrl-C to quit\n\n", when,
           json_string_value(json_object_get(doc, "chain")));
    fleetview_print(stdout, doc);
    s_print_problems(stdout, json_object_get(doc, "problems"));
    fflush(stdout);
    json_decref(doc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(s_help, stdout);
        return EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("wvcoord %s\n", WV_VERSION);
        return EXIT_OK;
    }
    cli_t cli = {0};
    int rc = s_parse(argc, argv, &cli);
    if (rc != 0)
        return rc;
    if (cli.command == NULL)
        return s_usage("%s", "give a command: status, watch or serve");
    bool status = strcmp(cli.command, "status") == 0, watch = strcmp(cli.command, "watch") == 0,
         serve = strcmp(cli.command, "serve") == 0;
    if (!status && !watch && !serve)
        return s_usage("unknown command \"%s\"; use status, watch or serve", cli.command);
    zsys_init();
    zloop_t *loop = zloop_new();
    wv_err_t err;
    coord_t *coord = coord_new(loop, &cli.opts, &err);
    if (coord == NULL) {
        fprintf(stderr, "wvcoord: %s\n", err.msg);
        zloop_destroy(&loop);
        return EXIT_USAGE;
    }
    web_t *web = NULL;
    if (status) {
        rc = s_status(loop, coord, cli.json);
    } else if (watch) {
        s_on_watch_tick(loop, 0, coord);
        zloop_timer(loop, coord_heartbeat_ms(coord), 0, s_on_watch_tick, coord);
        zloop_start(loop);
        rc = EXIT_OK;
    } else {
        web = web_new(loop, coord, cli.listen, &err);
        if (web == NULL) {
            fprintf(stderr, "wvcoord serve: %s\n", err.msg);
            rc = EXIT_PROBLEM;
        } else {
            log_info("wvcoord", "serving the dashboard", LF_STR("listen", cli.listen),
                     LF_INT("port", web_port(web)), LF_INT("agents", coord_members(coord)));
            zloop_start(loop); /* until SIGINT or SIGTERM */
            log_info("wvcoord", "stopping");
            rc = EXIT_OK;
        }
    }
    web_destroy(&web);
    coord_destroy(&coord);
    zloop_destroy(&loop);
    return rc;
}
