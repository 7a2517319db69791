/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * meta.k8s.io/v1 Table output: the columns kubectl shows per kind
 * (priority 1 columns are the -o wide ones); NAME and AGE otherwise.
 */
#ifndef BERTH_APISERVER_TABLE_H
#define BERTH_APISERVER_TABLE_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "registry.h"

/* An empty Table with r's column definitions. */
struct json_object *berth_table_new(const struct berth_resource *r);
/* Append obj's row; include is includeObject: None, Metadata (default), Object. */
void berth_table_add(struct json_object *table, const struct berth_resource *r,
		     struct json_object *obj, const char *include);
/* "5m", "3h20m", "2d": kubectl's human-readable age. */
void berth_human_duration(time_t secs, char *buf, size_t size);

#endif
