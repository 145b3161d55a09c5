/* store_sqlite_internal.h — the SQLite store's state, shared by
 * store_sqlite.c (jobs, files, palettes) and store_tunings.c (tunings). */
#ifndef CARVE_SRV_STORE_SQLITE_INTERNAL_H
#define CARVE_SRV_STORE_SQLITE_INTERNAL_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#define N_READERS 4

/* One write connection (serialised by mu; commits fsync) and a few read
 * connections: in WAL mode readers never wait for the writer's fsync. */
typedef struct sq_store {
    carve__store ops;
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3 *rdb[N_READERS];
    pthread_mutex_t rmu[N_READERS];
    atomic_uint rnext;
    int lock_fd; /* flock on data_dir/carved.lock: one carved per data dir */
    char dir[4096];
} sq_store;

#define RDB(s, k) ((k) < 0 ? (s)->db : (s)->rdb[k])

/* a read connection (round robin); release with carve__sq_reader_put */
int carve__sq_reader_get(sq_store *s);
void carve__sq_reader_put(sq_store *s, int k);
char *carve__sq_dup(const unsigned char *t);

/* Runs one write statement under the write lock; bind fills its
 * parameters.  0, 1 when it changed no row, -1 on error (the store's
 * message: "sqlite: <what>: <sqlite's message>"). */
typedef void (*carve__sq_bind_fn)(sqlite3_stmt *q, const void *arg);
int carve__sq_write(sq_store *s, const char *sql, carve__sq_bind_fn bind, const void *arg, const char *what);
/* Runs one query that reads at most one row, on a read connection (on the
 * write connection when writer); row fills out from it (0, or -1 when out
 * of memory).  0, 1 when there is no row, -1 on error (message as above). */
typedef int (*carve__sq_row_fn)(sqlite3_stmt *q, void *out);
int carve__sq_read_one(sq_store *s, bool writer, const char *sql, carve__sq_bind_fn bind, const void *arg,
                       carve__sq_row_fn row, void *out, const char *what);
/* Runs one query on a read connection; row takes each row (0: go on, 1:
 * enough, -1: error).  0, or -1 on error (message as above). */
int carve__sq_read_rows(sq_store *s, const char *sql, carve__sq_bind_fn bind, const void *arg, carve__sq_row_fn row,
                        void *out, const char *what);
/* a list of job/tuning ids for carve__sq_id_row (column 0; at most max) */
typedef struct carve__sq_ids { char (*ids)[33]; int max; int *n; } carve__sq_ids;
int carve__sq_id_row(sqlite3_stmt *q, void *out);
/* binds arg (a string) as parameter 1 */
void carve__sq_bind_text1(sqlite3_stmt *q, const void *arg);

/* store_tunings.c */
extern const char *const carve__sq_tunings_schema;
void carve__sq_tunings_wire(carve__store *ops);

#endif
