/* testutil: temp dirs, recursive removal, small files, fd capture and a DAEMON_* environment for
 * the unit tests (see testutil.h). Not linked into the agent or the coordinator, and deliberately
 * not using fsutil. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIAS_CUSTOM_PREUPGRADE "WEMIXVISOR_CUSTOM_PREUPGRADE"

int tu_mkdtemp(char *buf, size_t size)
{
    int n = snprintf(buf, size, "/tmp/wv-%s-XXXXXX", program_invocation_short_name);
    if (n < 0 || (size_t)n >= size || mkdtemp(buf) == NULL)
        return -1;
    return 0;
}

static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_rm_rf(const char *path)
{
    return nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_tmpdir_setup(void **state)
{
    char *dir = malloc(PATH_MAX);
    if (dir == NULL || tu_mkdtemp(dir, PATH_MAX) != 0) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

int tu_tmpdir_teardown(void **state)
{
    tu_rm_rf(*state);
    free(*state);
    return 0;
}

void tu_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0 || chmod(path, mode) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- capturing fd 1 and 2 ---- */

static void s_read_back(FILE *f, char *buf, size_t size)
{
    int fd = fileno(f);
    size_t len = 0;
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
}

void tu_capture_begin(tu_capture_t *c)
{
    c->out = tmpfile();
    c->err = tmpfile();
    assert_non_null(c->out);
    assert_non_null(c->err);
    fflush(stdout);
    fflush(stderr);
    c->saved_out = dup(1);
    c->saved_err = dup(2);
    dup2(fileno(c->out), 1);
    dup2(fileno(c->err), 2);
}

void tu_capture_end(tu_capture_t *c, tu_output_t *o)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved_out, 1);
    dup2(c->saved_err, 2);
    close(c->saved_out);
    close(c->saved_err);
    s_read_back(c->out, o->out, sizeof o->out);
    s_read_back(c->err, o->err, sizeof o->err);
    fclose(c->out);
    fclose(c->err);
}

int tu_run_command(tu_output_t *o, tu_command_fn cmd, const wv_config_t *cfg, char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    tu_capture_t c;
    tu_capture_begin(&c);
    int rc = cmd(cfg, argc, argv);
    tu_capture_end(&c, o);
    return rc;
}

/* ---- a DAEMON_* environment, its config and layout ---- */

void tu_env_clear(void)
{
    for (int i = 0; i < CFG_COUNT; i++)
        unsetenv(config_var_name((cfg_var_t)i));
    unsetenv(ALIAS_CUSTOM_PREUPGRADE);
}

int tu_env_setup(tu_env_t *env)
{
    int port = tu_free_port();
    if (port < 0 || tu_mkdtemp(env->home, sizeof env->home) != 0)
        return -1;
    snprintf(env->rpc, sizeof env->rpc, "127.0.0.1:%d", port);
    tu_env_clear();
    setenv("DAEMON_HOME", env->home, 1);
    setenv("DAEMON_NAME", "wemixd", 1);
    setenv("DAEMON_RPC_ADDRESS", env->rpc, 1);
    wv_err_t err = {{0}};
    if (config_load(&env->cfg, NULL, &err) != 0 || layout_init(&env->l, &env->cfg, &err) != 0 ||
        layout_create(&env->l, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        config_free(&env->cfg);
        tu_rm_rf(env->home);
        return -1;
    }
    return 0;
}

void tu_env_teardown(tu_env_t *env)
{
    config_free(&env->cfg);
    tu_env_clear();
    tu_rm_rf(env->home);
}
