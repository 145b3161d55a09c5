/* logring.c — fixed-capacity event ring (see logring.h). */
#include "logring.h"

#include <string.h>

void carve__ring_init(carve__ring *r) {
    memset(r, 0, sizeof *r);
    r->next_seq = 1;
}

uint64_t carve__ring_push(carve__ring *r, double time, int kind, int level, double progress, const char *text) {
    uint64_t seq = r->next_seq++;
    carve__event *e = &r->ev[seq % CARVE__RING_CAP];
    e->seq = seq;
    e->time = time;
    e->kind = kind;
    e->level = level;
    e->progress = progress;
    size_t n = text ? strlen(text) : 0;
    if (n >= CARVE__RING_MSG) {
        /* cut at a UTF-8 character boundary */
        n = CARVE__RING_MSG - 1;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
    }
    if (n) memcpy(e->text, text, n);
    e->text[n] = 0;
    return seq;
}

uint64_t carve__ring_first(const carve__ring *r) {
    return r->next_seq > CARVE__RING_CAP ? r->next_seq - CARVE__RING_CAP : 1;
}

const carve__event *carve__ring_get(const carve__ring *r, uint64_t seq) {
    if (seq < carve__ring_first(r) || seq >= r->next_seq) return NULL;
    return &r->ev[seq % CARVE__RING_CAP];
}
