/* Unit tests of proto/seqgen.h: a sender's seq rises across restarts and clock steps, and the
 * reservation on disk is always ahead of it. Not tested here: how receivers judge a seq
 * (test_wire). */
#include "seqgen.h"
#include "fsutil.h"
#include "testutil.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000000ULL /* a plausible clock, in microseconds */

typedef struct {
    char dir[64];
    char path[PATH_MAX];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/gossip.seq", fx->dir);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

/* The reservation the file holds now. */
static uint64_t s_file_value(const char *path)
{
    char *text = NULL;
    wv_err_t err = {{0}};
    if (fs_read_file(path, 64, &text, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    char *end = NULL;
    uint64_t v = strtoull(text, &end, 10);
    assert_string_equal(end, "\n");
    free(text);
    return v;
}

static void s_open(seqgen_t *g, const char *path, uint64_t now)
{
    wv_err_t err = {{0}};
    if (seqgen_open(g, path, now, &err) != 0)
        fail_msg("seqgen_open: %s", err.msg);
}

static uint64_t s_next(seqgen_t *g, uint64_t now)
{
    wv_err_t err = {{0}};
    uint64_t seq = 0;
    if (seqgen_next(g, now, &seq, &err) != 0)
        fail_msg("seqgen_next: %s", err.msg);
    return seq;
}

static void test_first_start_follows_the_clock_and_reserves(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    assert_true(fs_is_file(fx->path)); /* the first reservation is written at once */
    assert_true(s_file_value(fx->path) >= T0 + SEQGEN_RESERVE_US);
    assert_int_equal(g.reserved, s_file_value(fx->path));

    assert_int_equal(s_next(&g, T0), T0);
    assert_int_equal(s_next(&g, T0 + 500), T0 + 500);
    assert_int_equal(g.last, T0 + 500);
}

static void test_seq_rises_even_when_the_clock_does_not(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    uint64_t prev = s_next(&g, T0);
    /* the same microsecond, and a clock that goes back: still rising, by one */
    for (int i = 0; i < 1000; i++) {
        uint64_t now = (i % 3 == 0) ? T0 : T0 - 1000000;
        uint64_t seq = s_next(&g, now);
        assert_int_equal(seq, prev + 1);
        prev = seq;
    }
    /* the clock ahead again: the seq jumps to it */
    assert_int_equal(s_next(&g, T0 + 5000000), T0 + 5000000);
}

static void test_restart_continues_above_every_seq_handed_out(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    uint64_t highest = 0;
    for (uint64_t i = 0; i < 100; i++)
        highest = s_next(&g, T0 + i * 1000);

    /* restarted with a clock stepped back an hour */
    uint64_t back = T0 - 3600ULL * 1000 * 1000;
    seqgen_t again;
    s_open(&again, fx->path, back);
    uint64_t seq = s_next(&again, back);
    assert_true(seq > highest);
    assert_true(s_next(&again, back) > seq);
    /* and the new reservation is above what it hands out */
    assert_true(s_file_value(fx->path) > seq);

    /* restarted again at the same instant as before (a crash loop): still above */
    uint64_t before = s_next(&again, back);
    seqgen_t third;
    s_open(&third, fx->path, back);
    assert_true(s_next(&third, back) > before);
}

static void test_reservation_is_rewritten_before_it_is_reached(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    uint64_t reserved = s_file_value(fx->path);

    /* below the reservation: the file is left alone */
    uint64_t seq = s_next(&g, reserved - 1);
    assert_int_equal(seq, reserved - 1);
    assert_int_equal(s_file_value(fx->path), reserved);

    /* reaching it: a new reservation is on disk before the seq is handed out */
    seq = s_next(&g, reserved);
    assert_int_equal(seq, reserved);
    uint64_t now_reserved = s_file_value(fx->path);
    assert_true(now_reserved > seq);
    assert_int_equal(now_reserved, seq + SEQGEN_RESERVE_US);
    assert_int_equal(g.reserved, now_reserved);

    /* a clock that jumps far past it: the same */
    seq = s_next(&g, now_reserved + 10 * SEQGEN_RESERVE_US);
    assert_true(s_file_value(fx->path) > seq);
}

/* Every seq ever handed out stays below what the file says, whatever the clock does. */
static void test_file_is_always_ahead_of_the_seq(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    uint64_t now = T0;
    srand(7);
    for (int i = 0; i < 500; i++) {
        /* steps of up to 2 minutes either way */
        int64_t step = (int64_t)(rand() % 240000001) - 120000000;
        now = (uint64_t)((int64_t)now + step);
        uint64_t seq = s_next(&g, now);
        assert_true(seq < s_file_value(fx->path));
    }
}

static void test_no_seq_without_a_reservation_on_disk(void **state)
{
    fixture_t *fx = *state;
    seqgen_t g;
    s_open(&g, fx->path, T0);
    uint64_t reserved = g.reserved;
    uint64_t seq = s_next(&g, T0);

    /* the directory goes away: nothing can be written */
    assert_int_equal(tu_rm_rf(fx->dir), 0);
    wv_err_t err = {{0}};
    uint64_t out = 0;
    /* below the reservation, no write is needed */
    assert_int_equal(seqgen_next(&g, T0 + 1, &out, &err), 0);
    assert_int_equal(out, T0 + 1);
    /* at the reservation, it must fail, and hand nothing out */
    out = 0;
    assert_int_equal(seqgen_next(&g, reserved + 5, &out, &err), -1);
    tu_assert_contains(err.msg, fx->path);
    assert_int_equal(out, 0);
    assert_int_equal(g.last, T0 + 1);
    assert_int_equal(g.reserved, reserved);
    assert_true(seq < g.reserved);

    /* once the directory is back, it goes on */
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(s_next(&g, reserved + 5), reserved + 5);
    assert_true(s_file_value(fx->path) > reserved + 5);
}

static void test_corrupt_file_is_an_error_naming_it(void **state)
{
    fixture_t *fx = *state;
    static const char *const corrupt[] = {
        "",                        /* empty */
        "\n",                      /* no digits */
        "123",                     /* no newline */
        "12a\n",                   /* not a number */
        "-5\n",                    /* signed */
        " 5\n",                    /* space */
        "5\n5\n",                  /* two numbers */
        "18446744073709551616\n",  /* 2^64: too large */
        "123456789012345678901\n", /* 21 digits */
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        tu_write_file(fx->path, corrupt[i], 0644);
        seqgen_t g;
        wv_err_t err = {{0}};
        if (seqgen_open(&g, fx->path, T0, &err) == 0)
            fail_msg("\"%s\" was accepted", corrupt[i]);
        tu_assert_contains(err.msg, fx->path);
    }
    /* the file is left as it was, for the operator to look at */
    char *text = NULL;
    wv_err_t err = {{0}};
    assert_int_equal(fs_read_file(fx->path, 64, &text, NULL, &err), 0);
    assert_string_equal(text, "123456789012345678901\n");
    free(text);

    /* a file far too long, and a directory in its place */
    tu_write_file(fx->path, "1111111111111111111111111111111111111111111111111111\n", 0644);
    seqgen_t g;
    assert_int_equal(seqgen_open(&g, fx->path, T0, &err), -1);
    tu_assert_contains(err.msg, fx->path);
    assert_int_equal(unlink(fx->path), 0);
    assert_int_equal(mkdir(fx->path, 0700), 0);
    assert_int_equal(seqgen_open(&g, fx->path, T0, &err), -1);
    tu_assert_contains(err.msg, fx->path);
}

static void test_reservation_far_ahead_of_the_clock_wins(void **state)
{
    fixture_t *fx = *state;
    /* a reservation far ahead of the clock (written by a host whose clock was wrong) still
     * wins over the clock */
    char text[32];
    uint64_t ahead = T0 + 86400ULL * 1000 * 1000;
    snprintf(text, sizeof text, "%" PRIu64 "\n", ahead);
    tu_write_file(fx->path, text, 0644);
    seqgen_t g;
    s_open(&g, fx->path, T0);
    assert_int_equal(s_next(&g, T0), ahead);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_follows_the_clock_and_reserves, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_rises_even_when_the_clock_does_not, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_continues_above_every_seq_handed_out, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_reservation_is_rewritten_before_it_is_reached, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_file_is_always_ahead_of_the_seq, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_seq_without_a_reservation_on_disk, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_is_an_error_naming_it, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_reservation_far_ahead_of_the_clock_wins, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
