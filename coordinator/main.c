/* wvcoord: the optional fleet coordinator's command line.
 * For now it only documents itself; the fleet view is built on the gossip protocol (proto/). */
#include <stdio.h>
#include <string.h>

static const char s_help[] =
    "usage: wvcoord <command> [options]\n"
    "\n"
    "wvcoord subscribes to the Wemixvisor agents of a validator fleet and shows their state.\n"
    "\n"
    "commands (planned, not yet available in this version):\n"
    "  status [--json]   one look at the fleet\n"
    "  watch             a live table in the terminal\n"
    "  serve             web dashboard, /api/fleet and /metrics\n"
    "\n"
    "options:\n"
    "  -h, --help        this help\n"
    "  --version         print the version\n";

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("wvcoord %s\n", WV_VERSION);
        return 0;
    }
    fputs(s_help, stderr);
    if (argc >= 2)
        fprintf(stderr, "\nwvcoord: \"%s\" is not available in this version\n", argv[1]);
    return 2;
}
