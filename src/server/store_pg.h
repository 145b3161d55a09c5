/* store_pg.h — the PostgreSQL store (store_pg.c): private to src/server.
 *
 * Several carved nodes share one database: job rows are the queue (claimed
 * with FOR UPDATE SKIP LOCKED, held with a lease renewed by heartbeats),
 * files are chunked bytea rows, new jobs and cancellations are announced with
 * NOTIFY.  The schema is created and migrated by carved (table
 * carve_schema_version, forward-only migrations). */
#ifndef CARVE_SRV_STORE_PG_H
#define CARVE_SRV_STORE_PG_H

#include "store.h"

/** The newest schema version this carved knows. */
int carve__store_pg_schema_version(void);

/** Opens a pool of `conns` connections to conninfo (a libpq URI or
 *  key=value string), migrates the schema to the newest version and starts
 *  the LISTEN thread, into *out.  CARVE_OK, or CARVE_ERR_IO with errctx's
 *  message naming the host and the reason (CARVE_ERR_NOMEM). */
carve_status carve__store_pg_open(const char *conninfo, int conns, carve_ctx *errctx, carve__store **out);

/** For tests: applies the migrations up to version `upto` only (no pool, no
 *  listener).  CARVE_OK, or CARVE_ERR_IO with the message in errctx. */
carve_status carve__store_pg_migrate(const char *conninfo, int upto, carve_ctx *errctx);

#endif
