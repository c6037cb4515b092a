/* fuzz_upgrade_info: upgrade-info.json, which the node writes from an on-chain proposal, through
 * upgrade_info_parse and then, as prepare-upgrade does, the "info" through download_pick_url and
 * the URL through download_parse_ref. Not fuzzed here: reading the file (fsutil) or downloading. */
#include "download.h"
#include "fuzzutil.h"
#include "upgrade_info.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("upgrade_info");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UPGRADE_INFO_MAX_BYTES)
        return 0; /* upgrade_info_load never passes more */
    upgrade_info_t ui;
    wv_err_t err = {{0}};
    if (upgrade_info_parse((const char *)data, size, &ui, &err) != 0) {
        FZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL && err.msg[0] != '\0');
        FZ_CHECK(ui.info == NULL);
        return 0;
    }
    /* what the parser promises the rest of the agent */
    FZ_CHECK(upgrade_name_check(ui.name, &err) == 0);
    FZ_CHECK(ui.height > 0);
    if (ui.info != NULL) {
        char url[sizeof(((download_ref_t *)0)->url)];
        download_ref_t ref;
        if (download_pick_url(ui.info, download_os_arch(), url, sizeof url, &err) == 0 &&
            download_parse_ref(url, &ref, &err) == 0) {
            FZ_CHECK(strlen(ref.url) <= strlen(url));
            FZ_CHECK(ref.kind == DIGEST_NONE ||
                     strlen(ref.hex) == (ref.kind == DIGEST_SHA256 ? 64u : 128u));
        }
    }
    upgrade_info_free(&ui);
    FZ_CHECK(ui.info == NULL);
    return 0;
}
