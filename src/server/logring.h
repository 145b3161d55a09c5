/* logring.h — a per-job ring of log and progress events: fixed capacity,
 * O(1) append (no allocation), monotonically increasing sequence numbers so
 * that Server-Sent-Events clients resume with Last-Event-ID.  Not locked:
 * the owner (the job) serialises access with its mutex. */
#ifndef CARVE_SRV_LOGRING_H
#define CARVE_SRV_LOGRING_H

#include <stddef.h>
#include <stdint.h>

#define CARVE__RING_CAP 256
#define CARVE__RING_MSG 200

enum { CARVE__EV_LOG = 0, CARVE__EV_PROGRESS = 1, CARVE__EV_STATE = 2 };

typedef struct carve__event {
    uint64_t seq;   /* 1, 2, 3, ... */
    double time;    /* unix seconds */
    int kind;       /* CARVE__EV_* */
    int level;      /* CARVE_LOG_* for logs */
    double progress;
    char text[CARVE__RING_MSG]; /* message, stage or state name */
} carve__event;

typedef struct carve__ring {
    carve__event ev[CARVE__RING_CAP];
    uint64_t next_seq; /* seq of the next event (first = 1) */
} carve__ring;

void carve__ring_init(carve__ring *r);
/** Appends an event (overwriting the oldest when full); returns its seq. */
uint64_t carve__ring_push(carve__ring *r, double time, int kind, int level, double progress, const char *text);
/** Oldest seq still held (next_seq when empty). */
uint64_t carve__ring_first(const carve__ring *r);
/** The event with seq, or NULL when it is not (or no longer) held. */
const carve__event *carve__ring_get(const carve__ring *r, uint64_t seq);

#endif
