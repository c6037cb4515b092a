/* cmd_id: `wemixvisor id`, this agent's public key for the other agents' WEMIXVISOR_VALIDATORS,
 * and with --curve-cert its public CURVE cert for their WEMIXVISOR_CURVE_PEERS directory. */
#include "commands.h"
#include "fsutil.h"
#include "gossip.h"
#include "identity.h"
#include "layout.h"
#include "value.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

static int s_usage(void)
{
    fprintf(stderr, "usage: wemixvisor id [--curve-cert FILE [--endpoint tcp://HOST:PORT]]\n");
    return EXIT_USAGE;
}

/* Writes our public CURVE cert to out, with the endpoint peers reach us at as metadata. */
static int s_curve_cert(const layout_t *l, const char *out, const char *endpoint)
{
    char path[PATH_MAX], secret[PATH_MAX + 8];
    wv_err_t err;
    if (fs_join(path, sizeof path, &err, l->root, GOSSIP_CURVE_CERT, NULL) != 0) {
        fprintf(stderr, "wemixvisor id: %s\n", err.msg);
        return EXIT_FAIL;
    }
    snprintf(secret, sizeof secret, "%s_secret", path);
    zcert_t *cert = fs_is_file(secret) ? zcert_load(secret) : NULL;
    if (cert == NULL) {
        fprintf(stderr, "wemixvisor id: %s is missing or unreadable; run `wemixvisor init`\n",
                secret);
        return EXIT_FAIL;
    }
    if (endpoint != NULL)
        zcert_set_meta(cert, "endpoint", "%s", endpoint);
    int rc = zcert_save_public(cert, out);
    zcert_destroy(&cert);
    if (rc != 0) {
        fprintf(stderr, "wemixvisor id: cannot write %s\n", out);
        return EXIT_FAIL;
    }
    printf("wrote %s%s%s\n", out, endpoint ? " for endpoint " : "", endpoint ? endpoint : "");
    return EXIT_OK;
}

int cmd_id(const wv_config_t *cfg, int argc, char **argv)
{
    const char *cert_out = NULL, *endpoint = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--curve-cert") == 0 && i + 1 < argc)
            cert_out = argv[++i];
        else if (strcmp(argv[i], "--endpoint") == 0 && i + 1 < argc)
            endpoint = argv[++i];
        else
            return s_usage();
    }
    wv_err_t err;
    layout_t l;
    char path[PATH_MAX];
    if (layout_init(&l, cfg, &err) != 0 ||
        fs_join(path, sizeof path, &err, l.root, GOSSIP_IDENTITY_FILE, NULL) != 0) {
        fprintf(stderr, "wemixvisor id: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (endpoint != NULL && cert_out == NULL) {
        fprintf(stderr, "wemixvisor id: --endpoint goes with --curve-cert FILE\n");
        return EXIT_USAGE;
    }
    if (endpoint != NULL && value_parse_endpoint("--endpoint", endpoint, &err) != 0) {
        fprintf(stderr, "wemixvisor id: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (cert_out != NULL)
        return s_curve_cert(&l, cert_out, endpoint);
    if (!fs_is_file(path)) {
        fprintf(stderr, "wemixvisor id: %s is missing; run `wemixvisor init` to create it\n", path);
        return EXIT_FAIL;
    }
    identity_t *id = identity_load(path, &err);
    if (id == NULL) {
        fprintf(stderr, "wemixvisor id: %s\n", err.msg);
        return EXIT_FAIL;
    }
    char hex[IDENTITY_HEX_LEN + 1];
    identity_hex(identity_pubkey(id), hex);
    identity_destroy(&id);
    printf("%s\n", hex);
    return EXIT_OK;
}
