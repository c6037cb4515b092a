/* wemixvisor: the agent's command line; finds the command, loads the configuration, runs it.
 * No command logic lives here, only dispatch, global flags and help texts. */
#include "commands.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "runner.h"
#include "plan.h"
#include "schedule.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define AGENT_UMASK 027 /* no access for others, no writes for the group */

typedef int(command_fn)(const wv_config_t *cfg, int argc, char **argv);

typedef struct {
    const char *name;
    command_fn *fn;
    bool needs_config; /* loads the configuration first (and exits 2 if it is invalid) */
    const char *summary;
    const char *usage;
} command_t;

static int s_run(const wv_config_t *cfg, int argc, char **argv)
{
    (void)argc;
    return runner_main(cfg, argv);
}

static int s_help(const wv_config_t *cfg, int argc, char **argv);

static const command_t s_commands[] = {
    {"init", cmd_init, true, "set up $DAEMON_HOME/wemixvisor with a genesis binary",
     "usage: wemixvisor init <path-to-node-binary>\n"
     "\n"
     "Creates the layout under $DAEMON_HOME (wemixvisor/genesis/bin, upgrades/, plans/, data/),\n"
     "copies the binary to wemixvisor/genesis/bin/$DAEMON_NAME with its execute bits and points\n"
     "wemixvisor/current at genesis. Safe to run twice: an identical genesis binary and an\n"
     "existing current are left alone; a different genesis binary is refused.\n"
     "Also creates, when missing, this agent's gossip key wemixvisor/identity.key (Ed25519,\n"
     "0600) and its CURVE key pair wemixvisor/curve.cert + curve.cert_secret (0600), and the\n"
     "directory wemixvisor/curve/peers for the other agents' public certs.\n"
     "Needs DAEMON_HOME (absolute) and DAEMON_NAME.\n"},
    {"id", cmd_id, true, "print this agent's public key (for WEMIXVISOR_VALIDATORS)",
     "usage: wemixvisor id\n"
     "       wemixvisor id --curve-cert FILE [--endpoint tcp://HOST:PORT]\n"
     "\n"
     "Prints the public key of wemixvisor/identity.key as 64 hex digits: list it in every\n"
     "agent's WEMIXVISOR_VALIDATORS (or WEMIXVISOR_OBSERVERS). With --curve-cert, writes this\n"
     "agent's public CURVE cert to FILE, with the endpoint the other agents reach it at; copy\n"
     "it into their WEMIXVISOR_CURVE_PEERS directory. Run `wemixvisor init` first.\n"},
    {"peers", cmd_peers, true, "show the validators' gossip: peers, votes, quorum",
     "usage: wemixvisor peers [--json]\n"
     "\n"
     "Asks the running agent for the fleet as its gossip sees it: per member its key, role,\n"
     "height, version, node state and when it was last heard (directly or relayed); per\n"
     "upgrade (name, height, sha256) the validators ready against the quorum, conflicting\n"
     "votes, this agent's phase (ready, armed, blocked, switching, done, failed) and why an\n"
     "upgrade is blocked; with --json also the messages received, sent, relayed and dropped\n"
     "by reason. Exit 3 if no agent runs, 1 if the gossip is not configured.\n"},
    {"run", s_run, true, "run the node under supervision and apply upgrades",
     "usage: wemixvisor run [--] <node arguments...>\n"
     "\n"
     "Starts $DAEMON_HOME/wemixvisor/current/bin/$DAEMON_NAME with the arguments exactly as\n"
     "given (a leading -- is dropped), output passed through or to DAEMON_LOG_FILE. Watches\n"
     "$DAEMON_HOME/data/upgrade-info.json; when a new valid one appears and its binary is in\n"
     "wemixvisor/upgrades/<name>/bin/, stops the node (SIGTERM, DAEMON_SHUTDOWN_GRACE, SIGQUIT,\n"
     "5s, SIGKILL), switches current atomically, waits DAEMON_RESTART_DELAY and starts the new\n"
     "binary (or exits 0 when DAEMON_RESTART_AFTER_UPGRADE is false).\n"
     "SIGTERM/SIGINT stop the node, then the agent; SIGQUIT and SIGHUP are forwarded.\n"},
    {"status", cmd_status, true, "ask the running agent how the node is",
     "usage: wemixvisor status [--json]\n"
     "\n"
     "Asks the agent running for $DAEMON_HOME (over wemixvisor/agent.sock) for the node's state,\n"
     "health, pid, versions, current upgrade, height, restarts, uptime and last exit.\n"
     "Exit codes: 0 answered, 1 the agent did not answer, 3 no agent is running.\n"},
    {"start", cmd_start, true, "start the node (also from failed)",
     "usage: wemixvisor start [--json]\n"
     "\n"
     "Asks the running agent to start its node: after `stop`, or after it gave up as failed\n"
     "(the count of restarts starts again). Prints the status. Exit 3 if no agent runs.\n"},
    {"stop", cmd_stop, true, "stop the node gracefully; the agent stays",
     "usage: wemixvisor stop [--json]\n"
     "\n"
     "Asks the running agent to stop its node (SIGTERM, DAEMON_SHUTDOWN_GRACE, SIGQUIT, 5s,\n"
     "SIGKILL). The node stays stopped, and is not restarted, until `wemixvisor start`.\n"
     "Exit 3 if no agent runs.\n"},
    {"restart", cmd_restart, true, "stop the node gracefully and start it again",
     "usage: wemixvisor restart [--json]\n"
     "\n"
     "Asks the running agent to stop its node gracefully and start it again.\n"
     "Exit 3 if no agent runs.\n"},
    {"upgrade", cmd_upgrade, true, "schedule, list and cancel upgrades at a height",
     "usage: wemixvisor upgrade schedule <name> --height H (--binary PATH | --url URL)\n"
     "                                  [--mode at-height|rolling]\n"
     "       wemixvisor upgrade list [--json]\n"
     "       wemixvisor upgrade cancel <name>\n"
     "\n"
     "schedule writes $DAEMON_HOME/data/upgrades/<H>/upgrade-info.json and, with --binary, copies\n"
     "the binary to wemixvisor/upgrades/<name>/bin/$DAEMON_NAME (mode 0755). A height the chain\n"
     "has passed (H <= height + 1) is refused: the node is stopped at H - 1. The running agent\n"
     "picks the schedule up by itself; at height H - 1 it stops the node, backs up the data,\n"
     "runs the pre-upgrade scripts, switches current and starts the new binary.\n"},
    {"plan", cmd_plan, true, "add, list, show and cancel batch upgrade plans",
     "usage: wemixvisor plan add <file.json>\n"
     "       wemixvisor plan list [--json]\n"
     "       wemixvisor plan show <name> [--json]\n"
     "       wemixvisor plan cancel <name>\n"
     "\n"
     "A plan is {\"name\": N, \"upgrades\": [{\"name\", \"height\", \"info\" | \"binary\", "
     "\"mode\"}, ...]}.\n"
     "add validates it as a whole (names valid and unique, heights strictly increasing and ahead "
     "of\n"
     "the chain, no clash with scheduled upgrades, every binary present or downloadable with a\n"
     "checksum), lists every problem it finds, and only then schedules its upgrades and stores it\n"
     "in wemixvisor/plans/<name>-<UTC time>.json. The agent runs them in height order through the\n"
     "ordinary pipeline; a failed upgrade stops the rest of its plan.\n"},
    {"prepare-upgrade", cmd_prepare_upgrade, true, "download and verify an upgrade's binary now",
     "usage: wemixvisor prepare-upgrade [name]\n"
     "\n"
     "Downloads the binary of the named upgrade (or of the next one: the lowest scheduled height\n"
     "not applied yet, or data/upgrade-info.json) from its info.binaries entry for this machine\n"
     "(linux/amd64, then any), verifies its ?checksum=sha256:|sha512: while it streams in,\n"
     "unpacks archives (.tar.gz, .tar.zst, .zip) and installs upgrades/<name>/bin/$DAEMON_NAME\n"
     "with one rename. Needs DAEMON_ALLOW_DOWNLOAD_BINARIES=true; a URL without a checksum is\n"
     "refused unless UNSAFE_SKIP_CHECKSUM=true. The running agent does this by itself as soon\n"
     "as it knows an upgrade whose binary is missing.\n"},
    {"backup", cmd_backup, true, "create, list, verify, restore and clean data backups",
     "usage: wemixvisor backup create [--label L] [--compression zstd|gzip|none]\n"
     "       wemixvisor backup list [--json]\n"
     "       wemixvisor backup verify <archive>\n"
     "       wemixvisor backup restore <archive> [--force]\n"
     "       wemixvisor backup clean [--max-age DURATION] [--keep N]\n"
     "       wemixvisor backup size\n"
     "\n"
     "Archives of $DAEMON_HOME/data in DAEMON_DATA_BACKUP_DIR (0700; archives 0600, each with a\n"
     ".sha256 beside it). restore verifies the archive and swaps the data dir atomically; it\n"
     "refuses while an agent runs the node unless --force. size prints the bytes of the data dir\n"
     "(what a backup needs room for). create exits 4 when the archive does not fit.\n"},
    {"version", cmd_version, true, "print the agent's version and the node binary's",
     "usage: wemixvisor version [--json]\n"
     "\n"
     "Prints the agent's version and, when DAEMON_HOME and DAEMON_NAME are set, the version of\n"
     "current/bin/$DAEMON_NAME (asked with `version`, `--version`, then `-v`).\n"},
    {"config", cmd_config, true, "print every effective setting and where it came from",
     "usage: wemixvisor config [--json]\n"
     "\n"
     "Prints each variable, its effective value, and its source: default, file\n"
     "($DAEMON_HOME/wemixvisor/config.json or --config FILE) or env. The environment wins\n"
     "over the file. An invalid value is reported and the command exits 2.\n"},
    {"help", s_help, false, "show help for a command", "usage: wemixvisor help [command]\n"},
};

#define N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static const char s_global_help[] =
    "usage: wemixvisor [global options] <command> [arguments]\n"
    "\n"
    "Wemixvisor runs beside a WBFT blockchain node, keeps it running and upgrades its binary.\n"
    "\n"
    "global options:\n"
    "  --config FILE        read settings from FILE (default $DAEMON_HOME/wemixvisor/config.json)\n"
    "  --log-format FORMAT  text (default) or json\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help           this help; `wemixvisor <command> --help` for a command\n"
    "\n"
    "commands:\n";

static void s_print_global_help(FILE *out)
{
    fputs(s_global_help, out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", s_commands[i].name, s_commands[i].summary);
    fputs("\nEvery setting is an environment variable; see `wemixvisor config` and "
          "docs/operator.md.\n",
          out);
}

static const command_t *s_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(s_commands[i].name, name) == 0)
            return &s_commands[i];
    }
    return NULL;
}

static int s_help(const wv_config_t *cfg, int argc, char **argv)
{
    (void)cfg;
    if (argc == 0) {
        s_print_global_help(stdout);
        return EXIT_OK;
    }
    const command_t *c = s_find(argv[0]);
    if (c == NULL) {
        fprintf(stderr, "wemixvisor: unknown command \"%s\"; see wemixvisor help\n", argv[0]);
        return EXIT_USAGE;
    }
    fputs(c->usage, stdout);
    return EXIT_OK;
}

/* Parses one global option at argv[*i]; 1 if it was one, 0 if not, -1 on error. */
static int s_global_option(int argc, char **argv, int *i, const char **config_file)
{
    const char *a = argv[*i];
    bool has_value = *i + 1 < argc;
    if (strcmp(a, "--config") == 0 || strcmp(a, "--log-format") == 0 ||
        strcmp(a, "--log-level") == 0) {
        if (!has_value) {
            fprintf(stderr, "wemixvisor: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (strcmp(a, "--config") == 0) {
            *config_file = v;
        } else if (strcmp(a, "--log-format") == 0) {
            log_format_t f;
            if (log_parse_format(v, &f) != 0) {
                fprintf(stderr, "wemixvisor: --log-format \"%s\": use text or json\n", v);
                return -1;
            }
            log_set_format(f);
        } else {
            log_level_t l;
            if (log_parse_level(v, &l) != 0) {
                fprintf(stderr, "wemixvisor: --log-level \"%s\": use debug, info, warn or error\n",
                        v);
                return -1;
            }
            log_set_level(l);
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* czmq must not install its own SIGINT/SIGTERM handlers: the runner reads signals itself. */
    zsys_handler_set(NULL);
    /* Everything the agent writes is closed to other users (keys, journal, backups are tighter
     * still, by explicit modes); the node and hooks keep the operator's umask. */
    mode_t operator_umask = umask(AGENT_UMASK);
    proc_set_child_umask(operator_umask | 002);

    const char *config_file = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_print_global_help(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("wemixvisor %s\n", WV_VERSION);
            return EXIT_OK;
        }
        int g = s_global_option(argc, argv, &i, &config_file);
        if (g < 0)
            return EXIT_USAGE;
        if (g == 0)
            break;
    }
    if (i >= argc) {
        s_print_global_help(stderr);
        return EXIT_USAGE;
    }
    const command_t *cmd = s_find(argv[i]);
    if (cmd == NULL) {
        fprintf(stderr, "wemixvisor: unknown command \"%s\"; see wemixvisor --help\n", argv[i]);
        return EXIT_USAGE;
    }
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    bool is_run = cmd->fn == s_run;

    if (is_run) {
        /* The node's arguments pass through verbatim; only a lone --help is ours. */
        if (sub_argc == 1 &&
            (strcmp(sub_argv[0], "--help") == 0 || strcmp(sub_argv[0], "-h") == 0)) {
            fputs(cmd->usage, stdout);
            return EXIT_OK;
        }
        if (sub_argc > 0 && strcmp(sub_argv[0], "--") == 0) {
            sub_argc--;
            sub_argv++;
        }
    } else {
        /* Other commands take the global options after their name too. */
        int kept = 0;
        for (int j = 0; j < sub_argc; j++) {
            if (strcmp(sub_argv[j], "-h") == 0 || strcmp(sub_argv[j], "--help") == 0) {
                fputs(cmd->usage, stdout);
                return EXIT_OK;
            }
            int g = s_global_option(sub_argc, sub_argv, &j, &config_file);
            if (g < 0)
                return EXIT_USAGE;
            if (g == 0)
                sub_argv[kept++] = sub_argv[j];
        }
        sub_argc = kept;
        sub_argv[kept] = NULL;
    }

    wv_config_t cfg = {0};
    if (cmd->needs_config) {
        wv_err_t err;
        if (config_load(&cfg, config_file, &err) != 0) {
            fprintf(stderr, "wemixvisor: invalid configuration: %s\n", err.msg);
            return EXIT_USAGE;
        }
    }
    int rc = cmd->fn(&cfg, sub_argc, sub_argv);
    config_free(&cfg);
    return rc;
}
