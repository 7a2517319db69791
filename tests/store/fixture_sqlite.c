// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The shared store suite's fixture for SQLite: each test gets a new
 * database in its own temporary directory, removed at the end.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

static char dir[PATH_MAX];
static char path[PATH_MAX + 16];

int store_fixture_open(struct berth_store **s)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/berth-store.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	return berth_store_open_sqlite(s, path);
}

static void remove_data(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char file[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffix[i]);
		unlink(file);
	}
	rmdir(dir);
}

void store_fixture_close(struct berth_store *s)
{
	berth_store_close(s);
	remove_data();
}

void store_fixture_suspend(struct berth_store *s)
{
	berth_store_close(s);
}

int store_fixture_reopen(struct berth_store **s)
{
	return berth_store_open_sqlite(s, path);
}

int store_fixture_restart(struct berth_store **s)
{
	store_fixture_suspend(*s);
	*s = NULL;
	return store_fixture_reopen(s);
}
