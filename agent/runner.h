/* runner: `wemixvisor run`, the agent's one event loop and the upgrade switch.
 * It owns the loop, the signals, the supervisor and the watcher; it does not parse flags. */
#ifndef WV_RUNNER_H
#define WV_RUNNER_H

#include "config.h"

/* Runs the node with args (NULL-terminated, without argv[0]) until the agent is told to stop.
 * Returns the agent's exit code. */
int runner_main(const wv_config_t *cfg, char *const *args);

#endif
