/* binguard: the upgrade binary switched to is the one verified. When an upgrade becomes ready its
 * binary's sha256 is taken (logged, kept in the journal's step as "sha256"); the file is checked
 * again on every turn of a ready upgrade, right before the switch and before the new node starts,
 * and hashed again only when it changed (device, inode, size, mtime, ctime). A binary removed,
 * replaced or no longer executable is never switched to nor started: the upgrade waits for the
 * verified one, and says once why (status's waiting_for: "its binary (<bin_problem>)"). */
#ifndef WV_BINGUARD_H
#define WV_BINGUARD_H

#include "agent.h"

#include <stdbool.h>

/* Forgets the verified sha256 and what was said (a new pending upgrade, or none). */
void binguard_forget(runner_t *self);

/* The upgrade becomes ready: its binary's sha256 is what will be switched to. An agent restarted
 * while the upgrade was ready keeps the sha256 its journal had (upgrade_resume), so a binary
 * replaced meanwhile is caught as well. node says what happens to the node meanwhile (logged
 * with a problem). -1 when the binary cannot be read. */
int binguard_verify(runner_t *self, const char *node);

/* Is the upgrade binary still the file verified when the upgrade became ready? A validator's
 * binary may be replaced on purpose (the quorum votes on its sha256, docs/operator.md): while
 * ready (may_reverify), the new file becomes the verified one and the vote starts over; the
 * quorum then decides. due: the upgrade's height is reached; node as in binguard_verify. */
bool binguard_still_verified(runner_t *self, bool may_reverify, bool due, const char *node);

#endif
