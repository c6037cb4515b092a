/* fault: fault points for the crash-safety tests. Built only with -DWV_FAULT_INJECTION=ON (the
 * test build); in a release build fault_point() is nothing. At a point whose name equals
 * $WEMIXVISOR_FAULT the agent kills itself with SIGKILL, as a power cut would. */
#ifndef WV_FAULT_H
#define WV_FAULT_H

#ifdef WV_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static inline void fault_point(const char *name)
{
    const char *want = getenv("WEMIXVISOR_FAULT");
    if (want != NULL && strcmp(want, name) == 0)
        raise(SIGKILL);
}

/* At a pause point whose name equals $WEMIXVISOR_FAULT_PAUSE the process stops itself (SIGSTOP),
 * the first time only, so that a test can change the world under it (fill the disk) without
 * racing it, then let it go on with SIGCONT. */
static inline void fault_pause(const char *name)
{
    static int paused;
    const char *want = getenv("WEMIXVISOR_FAULT_PAUSE");
    if (!paused && want != NULL && strcmp(want, name) == 0) {
        paused = 1;
        raise(SIGSTOP);
    }
}
#else
static inline void fault_point(const char *name)
{
    (void)name;
}

static inline void fault_pause(const char *name)
{
    (void)name;
}
#endif

#endif
