/* webhook.h — carved's webhooks (webhook.c): callback URL policy, signed
 * deliveries from the store's durable outbox, retries with exponential
 * backoff, on one thread per node (workers never wait for a delivery). */
#ifndef CARVE_SRV_WEBHOOK_H
#define CARVE_SRV_WEBHOOK_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct carve__srv carve__srv;

/** True when carved was built with libcurl (webhooks can be delivered). */
int carve__hook_available(void);

/** Checks a callback URL at submission: http:// or https://, no user
 *  info, a host whose every address is public or inside `allow` (comma-
 *  separated CIDRs).  0, or -1 with a message naming the problem. */
int carve__hook_check_url(const char *url, const char *allow, char *msg, size_t mlen);

/** The address policy (also applied when delivering, against DNS changes):
 *  1 when carved may connect to sa. */
int carve__hook_addr_allowed(const struct sockaddr *sa, const char *allow);

/** hex HMAC-SHA256(key, data) into out[65]. */
void carve__hook_sign(const char *key, const void *data, size_t len, char out[65]);

/** Starts / stops the delivery thread; wake makes it look at the outbox now. */
int carve__hook_start(carve__srv *s);
void carve__hook_stop(carve__srv *s);
void carve__hook_wake(carve__srv *s);

#endif
