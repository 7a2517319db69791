/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the shared store suite (tests/store/test_*.c) needs from a backend.
 * fixture_sqlite.c and fixture_etcd.c implement it; the Makefile links one
 * of them into each test binary (store-sqlite, store-etcd).
 *
 * Every test runs in its own process (criterion) and opens its own store.
 * The suite compares revisions relative to the revision it reads at the
 * start, so a backend whose revision does not start at 0 (etcd) is fine.
 */
#ifndef BERTH_TESTS_STORE_FIXTURE_H
#define BERTH_TESTS_STORE_FIXTURE_H

#include "../../control/store/store.h"

/* A fresh store for one test: no keys, no watches. 0 or -errno. */
int store_fixture_open(struct berth_store **s);

/* Close s and throw its data away (the end of a test). */
void store_fixture_close(struct berth_store *s);

/* Close *s and open the same data again: a restart of berth-server. */
int store_fixture_restart(struct berth_store **s);

/*
 * The crash test's pair. suspend closes s but keeps the data; reopen opens
 * the same data again, either in this process or in a child forked after
 * suspend (the child writes, is killed with SIGKILL, then the parent
 * reopens). For SQLite the child opens the same file; for etcd the child is
 * a new client of the same, still running etcd.
 */
void store_fixture_suspend(struct berth_store *s);
int store_fixture_reopen(struct berth_store **s);

#endif
