/* commands: the agent's subcommands other than `run`, one function each.
 * Each returns the process exit code: 0 success, 1 failure, 2 bad usage or configuration. */
#ifndef WV_COMMANDS_H
#define WV_COMMANDS_H

#include "config.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3 /* status/start/stop/restart: no agent runs for DAEMON_HOME */

int cmd_init(const wv_config_t *cfg, int argc, char **argv);
int cmd_version(const wv_config_t *cfg, int argc, char **argv);
int cmd_config(const wv_config_t *cfg, int argc, char **argv);
/* status [--json], start, stop, restart: asked of the running agent over its control socket. */
int cmd_status(const wv_config_t *cfg, int argc, char **argv);
/* peers [--json]: the gossip as the running agent sees it; id: this agent's public key. */
int cmd_peers(const wv_config_t *cfg, int argc, char **argv);
int cmd_id(const wv_config_t *cfg, int argc, char **argv);
int cmd_start(const wv_config_t *cfg, int argc, char **argv);
int cmd_stop(const wv_config_t *cfg, int argc, char **argv);
int cmd_restart(const wv_config_t *cfg, int argc, char **argv);
/* backup create|list|verify|restore|clean: archives of $DAEMON_HOME/data (agent/backup.h). */
int cmd_backup(const wv_config_t *cfg, int argc, char **argv);
/* prepare-upgrade [name]: downloads and installs an upgrade's binary ahead of its height. */
int cmd_prepare_upgrade(const wv_config_t *cfg, int argc, char **argv);

#endif
