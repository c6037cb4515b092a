/* fleetview: the fleet as a JSON document, for `wemixvisor peers`, `status --json` and wvcoord.
 * It renders; it decides nothing (the arithmetic is fleet.c's). */
#ifndef WV_FLEETVIEW_H
#define WV_FLEETVIEW_H

#include "fleet.h"

#include <jansson.h>
#include <stdint.h>

/* {"rule","validators","quorum","tolerated","network_height",
 *  "members":[{"key","role","self","height","version","node","health","heard_ms_ago","direct",
 *              "live","upgrades":[{"name","height","sha256","phase","mode","reason"}]}],
 *  "upgrades":[{"name","height","sha256","mode","ready","quorum","validators","armed",
 *               "switching","done","blocked","conflicts","missing","quorum_reached","phase",
 *               "reasons":[...]}]}
 * self_key (may be NULL) marks our own member, and "phase" of an upgrade is then our own phase
 * for it (null if we have none). A member never heard has heard_ms_ago null. A state older than
 * fresh_ms is not live and its votes are not counted. Returns a new reference, NULL if out of
 * memory. */
json_t *fleetview_json(fleet_t *fleet, const uint8_t *self_key, int64_t now_ms, int64_t fresh_ms);

/* Prints the document of fleetview_json as two tables (members, upgrades) for people. */
void fleetview_print(FILE *out, json_t *doc);

#endif
