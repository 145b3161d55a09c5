/* store_err.c — the store's error messages: one slot per (store, thread).
 *
 * A store handle is shared by every thread of carved (HTTP connections,
 * workers, the sweeper, the webhook and tuning threads), so "the message of
 * the last failed call" must be kept per thread: each store owns a
 * pthread key whose value, on each thread that had an error on it, is a
 * slot holding that thread's last message.  Slots are freed when their
 * thread exits (the key's destructor) or when the store closes. */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_ERRMSG_MAX 1024

typedef struct err_slot {
    struct err_slot *prev, *next; /* the store's list of live slots (under mu) */
    carve__store_errs *owner;
    char msg[STORE_ERRMSG_MAX];
} err_slot;

struct carve__store_errs {
    pthread_key_t key;
    pthread_mutex_t mu;
    err_slot *slots;
};

static void unlink_slot(carve__store_errs *e, err_slot *t) {
    if (t->prev) t->prev->next = t->next;
    else e->slots = t->next;
    if (t->next) t->next->prev = t->prev;
}

/* the key's destructor: the thread exits while the store is open */
static void slot_free(void *p) {
    err_slot *t = p;
    carve__store_errs *e = t->owner;
    pthread_mutex_lock(&e->mu);
    unlink_slot(e, t);
    pthread_mutex_unlock(&e->mu);
    free(t);
}

int carve__store_errs_init(carve__store *s) {
    carve__store_errs *e = calloc(1, sizeof *e);
    if (!e) return -1;
    if (pthread_key_create(&e->key, slot_free)) {
        free(e);
        return -1;
    }
    pthread_mutex_init(&e->mu, NULL);
    s->errs = e;
    return 0;
}

void carve__store_errs_fini(carve__store *s) {
    carve__store_errs *e = s ? s->errs : NULL;
    if (!e) return;
    /* after pthread_key_delete no destructor runs: free what is left */
    pthread_key_delete(e->key);
    for (err_slot *t = e->slots, *n; t; t = n) {
        n = t->next;
        free(t);
    }
    pthread_mutex_destroy(&e->mu);
    free(e);
    s->errs = NULL;
}

/* the calling thread's slot (created on its first error), or NULL (OOM) */
static err_slot *slot_of(carve__store_errs *e) {
    err_slot *t = pthread_getspecific(e->key);
    if (t) return t;
    if (!(t = calloc(1, sizeof *t))) return NULL;
    t->owner = e;
    if (pthread_setspecific(e->key, t)) {
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    t->next = e->slots;
    if (e->slots) e->slots->prev = t;
    e->slots = t;
    pthread_mutex_unlock(&e->mu);
    return t;
}

void carve__store_seterr(carve__store *s, const char *fmt, ...) {
    err_slot *t = s && s->errs ? slot_of(s->errs) : NULL;
    if (!t) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    /* libpq's messages end with a newline */
    size_t l = strlen(t->msg);
    while (l && (t->msg[l - 1] == '\n' || t->msg[l - 1] == ' ')) t->msg[--l] = 0;
}

const char *carve__store_errmsg(const carve__store *s) {
    if (!s || !s->errs) return "";
    err_slot *t = pthread_getspecific(s->errs->key);
    return t ? t->msg : "";
}
