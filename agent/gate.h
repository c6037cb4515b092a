/* gate: what the validators' quorum means for the upgrade in hand (DESIGN section 7): the own
 * STATE the gossip publishes (phases ready, armed, blocked, switching, done, failed), arming
 * once a quorum is ready for the same (name, height, sha256), blocking at the height without
 * one, and the restart slots of rolling upgrades. Without gossip, or for an observer, it lets
 * every due upgrade through, as Cosmovisor would. Internal to `wemixvisor run`. */
#ifndef WV_GATE_H
#define WV_GATE_H

#include "wire.h"

#include <stdbool.h>
#include <stdint.h>

struct runner;

#define GATE_SHA_KEY_MAX (WIRE_NAME_MAX + 96) /* upgrade name and file identity */

typedef struct {
    char sha_of[GATE_SHA_KEY_MAX]; /* the binary whose sha256 is cached, "" if none */
    uint8_t sha[WIRE_SHA256_LEN];
    char done_of[GATE_SHA_KEY_MAX]; /* the same for the upgrade `current` points at */
    uint8_t done_sha[WIRE_SHA256_LEN];
    bool armed;                       /* sticky until the upgrade in hand changes */
    bool blocked;                     /* due, and not armed */
    bool rolling_early;               /* took a restart slot before the height */
    char reason[WIRE_REASON_MAX + 1]; /* why blocked, or why a rolling upgrade waits */
} gate_t;

/* May the upgrade in hand stop the node now? due: its height (or an immediate request) is
 * reached. True for every due upgrade without gossip or for an observer; for a validator only
 * when armed, or, for a rolling upgrade before its height, when it holds a restart slot. */
bool gate_allows(struct runner *self, bool due);
/* The upgrade in hand is due and its binary is missing here: the reason (for status and the
 * STATE) counts the votes the others cast for it under any sha256 they agree on most. */
void gate_note_missing(struct runner *self, bool due);
/* The upgrade in hand changed or ended. */
void gate_reset(struct runner *self);
/* The height the validators agree the chain has reached (0 without gossip). */
int64_t gate_network_height(struct runner *self);
/* Why the upgrade in hand waits for the quorum ("" if it does not), for status. */
const char *gate_problem(const struct runner *self);
/* The gossip's fill callback: the own STATE. */
void gate_fill_state(wire_state_t *st, void *arg);

#endif
