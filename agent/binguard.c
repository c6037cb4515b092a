/* binguard: the upgrade binary switched to is the one verified (see binguard.h). */
#include "binguard.h"

#include "log.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPONENT "upgrade"
#define BIN_HASH_CHUNK (256 * 1024) /* an upgrade binary is hashed in reads this large */

/* What an upgrade binary that is not the verified one lacks (status's waiting_for says "its
 * binary (<this>)"). */
static const char s_bin_removed[] = "removed after it was verified";
static const char s_bin_changed[] = "changed after it was verified";
static const char s_bin_not_exec[] = "not executable any more";
static const char s_bin_unreadable[] = "unreadable";

/* The sha256 of a file as lower-case hex. */
static int s_file_sha256(const char *path, char hex[UPGRADE_SHA256_HEX + 1], wv_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot open %s", path);
    static unsigned char buf[BIN_HASH_CHUNK]; /* only the agent's loop hashes */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
                 ? 0
                 : err_set(err, "cannot hash %s: out of memory", path);
    ssize_t n = 0;
    while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0)
        rc = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1 ? 0 : err_set(err, "cannot hash %s", path);
    if (rc == 0 && n < 0)
        rc = err_sys(err, "cannot read %s", path);
    if (rc == 0 && (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len * 2 != UPGRADE_SHA256_HEX))
        rc = err_set(err, "cannot hash %s", path);
    EVP_MD_CTX_free(ctx);
    close(fd);
    for (unsigned int i = 0; rc == 0 && i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return rc;
}

/* The sha256 of the upgrade binary st describes, hashed again only when the file changed: a
 * rename, a rewrite or a chmod changes its identity (device, inode, size, mtime, ctime). The loop
 * hashes, as the quorum's vote does (gate.c): once per binary, not once per turn. */
static int s_binary_sha256(runner_t *self, const char *path, const struct stat *st,
                           char hex[UPGRADE_SHA256_HEX + 1], wv_err_t *err)
{
    char key[UPGRADE_BIN_KEY_MAX];
    snprintf(key, sizeof key, "%llu:%llu:%lld:%lld.%09ld:%lld.%09ld",
             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino, (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
             st->st_ctim.tv_nsec);
    if (strcmp(key, self->bin_seen_key) != 0) {
        if (s_file_sha256(path, self->bin_seen_sha256, err) != 0) {
            self->bin_seen_key[0] = '\0';
            return -1;
        }
        snprintf(self->bin_seen_key, sizeof self->bin_seen_key, "%s", key);
    }
    snprintf(hex, UPGRADE_SHA256_HEX + 1, "%s", self->bin_seen_sha256);
    return 0;
}

static void s_say_binary_problem(runner_t *self, const char *problem, const char *path,
                                 const char *sha, const char *detail, const char *node);

void binguard_forget(runner_t *self)
{
    self->bin_sha256[0] = self->bin_sha256_of[0] = self->bin_seen_key[0] = '\0';
    self->bin_problem = NULL;
    self->bin_said[0] = '\0';
    self->held_logged = false;
}

static bool s_validator(runner_t *self)
{
    return self->gossip != NULL && gossip_is_validator(self->gossip);
}

int binguard_verify(runner_t *self, const char *node)
{
    char path[PATH_MAX], hex[UPGRADE_SHA256_HEX + 1];
    struct stat st;
    wv_err_t err;
    if (layout_upgrade_bin(&self->layout, self->pending.name, path, sizeof path, &err) != 0 ||
        (stat(path, &st) != 0 && err_sys(&err, "cannot stat %s", path) != 0) ||
        s_binary_sha256(self, path, &st, hex, &err) != 0) {
        s_say_binary_problem(self, s_bin_unreadable, path, "", err.msg, node);
        return -1;
    }
    self->bin_problem = NULL;
    if (self->bin_sha256[0] != '\0' && strcmp(self->bin_sha256_of, self->pending.name) == 0) {
        log_info(COMPONENT,
                 "upgrade was ready before this agent restarted; its binary must still be the one "
                 "verified then",
                 LF_STR("name", self->pending.name), LF_STR("path", path),
                 LF_STR("verified_sha256", self->bin_sha256), LF_STR("sha256", hex));
        return 0;
    }
    snprintf(self->bin_sha256, sizeof self->bin_sha256, "%s", hex);
    snprintf(self->bin_sha256_of, sizeof self->bin_sha256_of, "%s", self->pending.name);
    log_info(COMPONENT, "upgrade binary verified", LF_STR("name", self->pending.name),
             LF_STR("path", path), LF_STR("sha256", self->bin_sha256));
    return 0;
}

/* Says once why the binary in place is not the one verified (and again for another file). */
static void s_say_binary_problem(runner_t *self, const char *problem, const char *path,
                                 const char *sha, const char *detail, const char *node)
{
    if (self->bin_problem == problem && strcmp(self->bin_said, sha) == 0)
        return;
    self->bin_problem = problem;
    snprintf(self->bin_said, sizeof self->bin_said, "%s", sha);
    const char *msg = problem == s_bin_removed
                          ? "upgrade binary was removed after it was verified; nothing is switched "
                            "until the verified binary is back at this path"
                      : problem == s_bin_changed
                          ? "upgrade binary changed after it was verified; it is not switched to: "
                            "put the verified binary back, or cancel the upgrade and schedule it "
                            "again to use the new one"
                      : problem == s_bin_not_exec
                          ? "upgrade binary is not executable any more; nothing is switched until "
                            "it is (chmod +x)"
                          : "upgrade binary cannot be read to check it; nothing is switched";
    if (problem == s_bin_changed)
        log_error(COMPONENT, msg, LF_STR("name", self->pending.name), LF_STR("path", path),
                  LF_STR("verified_sha256", self->bin_sha256), LF_STR("sha256", sha),
                  LF_STR("node", node));
    else if (problem == s_bin_unreadable && self->bin_sha256[0] == '\0') /* not verified yet */
        log_error(COMPONENT, msg, LF_STR("name", self->pending.name), LF_STR("path", path),
                  LF_STR("node", node), LF_STR("error", detail));
    else if (problem == s_bin_unreadable)
        log_error(COMPONENT, msg, LF_STR("name", self->pending.name), LF_STR("path", path),
                  LF_STR("verified_sha256", self->bin_sha256), LF_STR("node", node),
                  LF_STR("error", detail));
    else
        log_error(COMPONENT, msg, LF_STR("name", self->pending.name), LF_STR("path", path),
                  LF_STR("verified_sha256", self->bin_sha256), LF_STR("node", node));
}

bool binguard_still_verified(runner_t *self, bool may_reverify, bool due, const char *node)
{
    if (self->bin_sha256[0] == '\0')
        return true; /* resumed from a journal that kept no sha256: nothing to compare */
    char path[PATH_MAX], hex[UPGRADE_SHA256_HEX + 1] = "";
    struct stat st;
    wv_err_t err = {{0}};
    const char *problem = NULL;
    if (layout_upgrade_bin(&self->layout, self->pending.name, path, sizeof path, &err) != 0)
        problem = s_bin_unreadable;
    else if (stat(path, &st) != 0)
        problem = s_bin_removed;
    else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
        problem = s_bin_not_exec;
    else if (s_binary_sha256(self, path, &st, hex, &err) != 0)
        problem = s_bin_unreadable;
    else if (strcmp(hex, self->bin_sha256) != 0)
        problem = s_bin_changed;
    if (problem == s_bin_changed && may_reverify && s_validator(self)) {
        log_warn(COMPONENT,
                 "upgrade binary changed after it was verified; the vote is now for the new "
                 "binary, and the quorum decides",
                 LF_STR("name", self->pending.name), LF_STR("path", path),
                 LF_STR("was_sha256", self->bin_sha256), LF_STR("sha256", hex));
        snprintf(self->bin_sha256, sizeof self->bin_sha256, "%s", hex);
        wv_err_t jerr;
        if (journal_step_set_str(self->journal, "sha256", hex, &jerr) != 0 ||
            journal_save(self->journal, &jerr) != 0)
            log_error(COMPONENT, "cannot write the journal", LF_STR("error", jerr.msg));
        gate_reset(self); /* armed for the old sha256 means nothing for the new one */
        problem = NULL;
    }
    if (problem == NULL) {
        if (self->bin_problem != NULL)
            log_info(COMPONENT, "upgrade binary is the verified one again; the upgrade goes on",
                     LF_STR("name", self->pending.name), LF_STR("sha256", self->bin_sha256));
        self->bin_problem = NULL;
        self->bin_said[0] = '\0';
        self->held_logged = false;
        return true;
    }
    if (problem != s_bin_changed && may_reverify)
        gate_note_missing(self, due); /* no binary here, no vote (as before it came) */
    s_say_binary_problem(self, problem, path, hex, err.msg, node);
    return false;
}
