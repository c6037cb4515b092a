/* Unit tests for agent/health: the verdicts from sequences of probe results and times.
 * Probes are made-up results; no node and no RPC are involved. */
#include "health.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define INTERVAL 1000

static probe_result_t s_ok(int64_t height)
{
    probe_result_t r = {.ok = true, .height = height};
    snprintf(r.client_version, sizeof r.client_version, "Geth/v1.13.5");
    return r;
}

static probe_result_t s_fail(const char *why)
{
    probe_result_t r = {.ok = false};
    snprintf(r.error, sizeof r.error, "%s", why);
    return r;
}

static void test_a_node_that_produces_blocks_is_healthy(void **state)
{
    (void)state;
    health_t h;
    health_init(&h, INTERVAL);
    assert_int_equal(h.state, HEALTH_DOWN);
    health_node_started(&h, 0);
    probe_result_t r = s_ok(10);
    assert_int_equal(health_update(&h, &r, 100), HEALTH_STARTING); /* one answer proves nothing */
    r = s_ok(11);
    assert_int_equal(health_update(&h, &r, 600), HEALTH_HEALTHY);
    assert_int_equal(h.height, 11);
    assert_string_equal(h.client_version, "Geth/v1.13.5");
    assert_string_equal(health_name(h.state), "healthy");
}

static void test_a_height_that_stops_is_stalled_after_two_intervals(void **state)
{
    (void)state;
    health_t h;
    health_init(&h, INTERVAL);
    health_node_started(&h, 0);
    probe_result_t r = s_ok(10);
    health_update(&h, &r, 100);
    r = s_ok(11);
    health_update(&h, &r, 500);
    assert_int_equal(health_update(&h, &r, 500 + 2 * INTERVAL - 1), HEALTH_HEALTHY);
    assert_int_equal(health_update(&h, &r, 500 + 2 * INTERVAL), HEALTH_STALLED);
    r = s_ok(12); /* it moves again */
    assert_int_equal(health_update(&h, &r, 5000), HEALTH_HEALTHY);
}

static void test_no_answer_is_unresponsive_after_its_window(void **state)
{
    (void)state;
    health_t h;
    health_init(&h, INTERVAL);
    health_node_started(&h, 0);
    probe_result_t r = s_fail("connection refused");
    /* since the start: two intervals of grace */
    assert_int_equal(health_update(&h, &r, INTERVAL), HEALTH_STARTING);
    assert_int_equal(health_update(&h, &r, 2 * INTERVAL), HEALTH_UNRESPONSIVE);
    assert_string_equal(h.error, "connection refused");
    /* after answering: one interval */
    r = s_ok(5);
    health_update(&h, &r, 3000);
    r = s_ok(6);
    assert_int_equal(health_update(&h, &r, 3500), HEALTH_HEALTHY);
    assert_string_equal(h.error, "");
    r = s_fail("timed out");
    assert_int_equal(health_update(&h, &r, 3500 + INTERVAL - 1), HEALTH_HEALTHY);
    assert_int_equal(health_update(&h, &r, 3500 + INTERVAL), HEALTH_UNRESPONSIVE);
}

static void test_syncing_wins_and_a_stopped_node_is_down(void **state)
{
    (void)state;
    health_t h;
    health_init(&h, INTERVAL);
    health_node_started(&h, 0);
    probe_result_t r = s_ok(1);
    r.syncing = true;
    assert_int_equal(health_update(&h, &r, 100), HEALTH_SYNCING);
    health_node_stopped(&h);
    assert_int_equal(h.state, HEALTH_DOWN);
    r = s_ok(2); /* a late answer does not revive it */
    assert_int_equal(health_update(&h, &r, 200), HEALTH_DOWN);
    assert_int_equal(h.height, 1); /* the last height is kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_node_that_produces_blocks_is_healthy),
        cmocka_unit_test(test_a_height_that_stops_is_stalled_after_two_intervals),
        cmocka_unit_test(test_no_answer_is_unresponsive_after_its_window),
        cmocka_unit_test(test_syncing_wins_and_a_stopped_node_is_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
