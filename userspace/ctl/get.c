// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl get: tables come from the server (meta.k8s.io Table), so the
 * columns are the ones kubectl shows; -o json|yaml|name print the objects.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define TABLE_MEDIA "application/json;as=Table;v=v1;g=meta.k8s.io"

/* KIND NAME..., KIND/NAME, or KIND */
struct target {
	struct ctl_res r;
	const char *const *names;
	int nnames;
	const char *one; /* the name of KIND/NAME */
	bool prefix; /* several kinds: names as kind.group/name */
};

/* kubectl's "all" category, in its order; those the server has */
static const char *const all_kinds[] = { "pods",
					 "replicationcontrollers",
					 "services",
					 "daemonsets",
					 "deployments",
					 "replicasets",
					 "statefulsets",
					 "horizontalpodautoscalers",
					 "cronjobs",
					 "jobs",
					 NULL };

static int parse_target(struct ctl *c, const char *kind, struct target *t)
{
	if (ctl_resolve(c, kind, &t->r))
		return CTL_ERR;
	t->names = (const char *const *)c->argv + 1;
	t->nnames = c->argc - 1;
	return 0;
}

static int query(struct ctl *c, char *buf, size_t len, bool table)
{
	snprintf(buf, len, "%s", table ? "?includeObject=Metadata" : "");
	return ctl_add_selector(c, buf, len);
}

static const char *list_ns(struct ctl *c, const struct ctl_res *r)
{
	return r->namespaced && !c->all_ns ? ctl_ns(c) : NULL;
}

static void no_resources(struct ctl *c, const struct ctl_res *r)
{
	if (r->namespaced && !c->all_ns)
		fprintf(stderr, "No resources found in %s namespace.\n",
			ctl_ns(c));
	else
		fprintf(stderr, "No resources found\n");
}

/* ---- tables ---- */

static void cell_str(json_object *cell, char *buf, size_t len)
{
	if (!cell || json_object_is_type(cell, json_type_null))
		snprintf(buf, len, "<none>");
	else if (json_object_is_type(cell, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(cell));
	else
		snprintf(buf, len, "%s", json_object_to_json_string(cell));
}

static bool column_shown(struct ctl *c, json_object *col)
{
	bool wide = c->output && !strcmp(c->output, "wide");

	return wide || ctl_int(col, "priority", 0) == 0;
}

static void prefix_name(char *buf, size_t len, const char *kg)
{
	size_t n = strlen(kg) + 1;

	if (strlen(buf) + n >= len)
		return;
	memmove(buf + n, buf, strlen(buf) + 1);
	memcpy(buf, kg, n - 1);
	buf[n - 1] = '/';
}

/* the table's rows into @t; the header too if @t is new */
static void table_rows(struct ctl *c, struct target *tg, json_object *table,
		       bool ns_col, struct ctl_table **t)
{
	char kg[160];

	json_object *cols = ctl_get(table, "columnDefinitions");
	json_object *rows = ctl_get(table, "rows");
	size_t ncols = cols ? json_object_array_length(cols) : 0;
	size_t nrows = rows ? json_object_array_length(rows) : 0;
	const char *cells[64];
	char buf[64][512];
	int n = 0;

	if (!*t) {
		if (ns_col)
			cells[n++] = "NAMESPACE";
		for (size_t i = 0; i < ncols && n < 64; i++) {
			json_object *col = json_object_array_get_idx(cols, i);
			const char *name = ctl_str(col, "name");

			if (!column_shown(c, col))
				continue;
			snprintf(buf[n], sizeof(buf[n]), "%s",
				 name ? name : "");
			for (char *p = buf[n]; *p; p++)
				*p = toupper((unsigned char)*p);
			cells[n] = buf[n];
			n++;
		}
		*t = ctl_table_new(n);
		if (!*t)
			return;
		if (!c->no_headers)
			ctl_table_add(*t, cells);
	}
	for (size_t r = 0; r < nrows; r++) {
		json_object *row = json_object_array_get_idx(rows, r);
		json_object *rc = ctl_get(row, "cells");

		n = 0;
		if (ns_col)
			cells[n++] = ctl_str(row, "object.metadata.namespace");
		for (size_t i = 0; i < ncols && n < 64; i++) {
			if (!column_shown(c,
					  json_object_array_get_idx(cols, i)))
				continue;
			cell_str(rc ? json_object_array_get_idx(rc, i) : NULL,
				 buf[n], sizeof(buf[n]));
			if (tg->prefix && i == 0) {
				ctl_kind_group(kg, sizeof(kg), &tg->r);
				prefix_name(buf[n], sizeof(buf[n]), kg);
			}
			cells[n] = buf[n];
			n++;
		}
		ctl_table_add(*t, cells);
	}
}

static int get_table(struct ctl *c, struct target *tg, bool *printed)
{
	bool ns_col = c->all_ns && tg->r.namespaced;
	struct ctl_table *t = NULL;
	char path[2048], q[1200];
	int ret = CTL_OK, st;
	json_object *o;

	if (query(c, q, sizeof(q), true))
		return CTL_USAGE;
	berth_kube_set_accept(ctl_kube(c), TABLE_MEDIA);
	for (int i = 0; i < (tg->nnames ? tg->nnames : 1); i++) {
		ctl_path(path, sizeof(path), &tg->r,
			 tg->nnames ? ctl_ns(c) : list_ns(c, &tg->r),
			 tg->nnames ? tg->names[i] : NULL, q);
		o = NULL;
		st = berth_kube_get(ctl_kube(c), path, &o);
		if (st != 200 || !o)
			ret = ctl_server_error(o, st);
		else
			table_rows(c, tg, o, ns_col, &t);
		json_object_put(o);
	}
	berth_kube_set_accept(ctl_kube(c), NULL);
	if (t && ctl_table_rows(t) > (c->no_headers ? 0u : 1u)) {
		if (*printed)
			putchar('\n');
		ctl_table_print(t, stdout);
		*printed = true;
	}
	ctl_table_free(t);
	return ret;
}

/* ---- objects ---- */

/* list items carry no kind/apiVersion: kubectl's output sets them */
static void set_type(json_object *o, const struct ctl_res *r)
{
	char av[128];

	snprintf(av, sizeof(av), "%s%s%s", r->group, r->group[0] ? "/" : "",
		 r->version);
	if (!ctl_str(o, "kind"))
		json_object_object_add(o, "kind",
				       json_object_new_string(r->kind));
	if (!ctl_str(o, "apiVersion"))
		json_object_object_add(o, "apiVersion",
				       json_object_new_string(av));
}

static void print_obj(struct ctl *c, json_object *o)
{
	json_object *md = ctl_get(o, "metadata");
	json_object *items = ctl_get(o, "items");

	/* kubectl hides them unless --show-managed-fields */
	if (md)
		json_object_object_del(md, "managedFields");
	for (size_t i = 0; items && i < json_object_array_length(items); i++)
		json_object_object_del(
			ctl_get(json_object_array_get_idx(items, i),
				"metadata"),
			"managedFields");
	if (!strcmp(c->output, "json"))
		ctl_print_json(o, stdout);
	else
		ctl_print_yaml(o, stdout);
}

static void print_name(json_object *o, const struct ctl_res *r)
{
	char kg[160];

	ctl_kind_group(kg, sizeof(kg), r);
	printf("%s/%s\n", kg, ctl_str(o, "metadata.name"));
}

static int get_objects(struct ctl *c, struct target *tg, json_object *all)
{
	json_object *items, *o;
	char path[2048], q[1200];
	int ret = CTL_OK;

	if (query(c, q, sizeof(q), false))
		return CTL_USAGE;
	items = json_object_new_array();
	for (int i = 0; i < (tg->nnames ? tg->nnames : 1); i++) {
		json_object *list;

		ctl_path(path, sizeof(path), &tg->r,
			 tg->nnames ? ctl_ns(c) : list_ns(c, &tg->r),
			 tg->nnames ? tg->names[i] : NULL, q);
		o = ctl_fetch(c, path);
		if (!o) {
			ret = CTL_ERR;
			continue;
		}
		if (tg->nnames) {
			json_object_array_add(items, o);
			continue;
		}
		list = ctl_get(o, "items");
		for (size_t j = 0; list && j < json_object_array_length(list);
		     j++)
			json_object_array_add(
				items,
				json_object_get(
					json_object_array_get_idx(list, j)));
		json_object_put(o);
	}
	for (size_t j = 0; j < json_object_array_length(items); j++) {
		json_object *it = json_object_array_get_idx(items, j);

		set_type(it, &tg->r);
		if (!strcmp(c->output, "name"))
			print_name(it, &tg->r);
		else
			json_object_array_add(all, json_object_get(it));
	}
	json_object_put(items);
	return ret;
}

static void print_all(struct ctl *c, json_object *all, bool single)
{
	json_object *l, *md;

	if (!strcmp(c->output, "name"))
		return;
	if (single && json_object_array_length(all) == 1) {
		print_obj(c, json_object_array_get_idx(all, 0));
		return;
	}
	l = json_object_new_object();
	json_object_object_add(l, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(l, "items", json_object_get(all));
	json_object_object_add(l, "kind", json_object_new_string("List"));
	md = json_object_new_object();
	json_object_object_add(md, "resourceVersion",
			       json_object_new_string(""));
	json_object_object_add(l, "metadata", md);
	print_obj(c, l);
	json_object_put(l);
}

/* "pods,svc" or "all" into kinds; "KIND/NAME" into KIND and one name */
static int split_kinds(struct ctl *c, char *arg, const char **kinds,
		       bool *optional, int max, const char **name)
{
	char *slash = strchr(arg, '/'), *save = NULL, *k;
	int n = 0;

	*name = NULL;
	if (slash) {
		*slash = 0;
		*name = slash + 1;
	}
	for (k = strtok_r(arg, ",", &save); k && n < max;
	     k = strtok_r(NULL, ",", &save)) {
		if (strcmp(k, "all")) {
			optional[n] = false;
			kinds[n++] = k;
			continue;
		}
		/* the kinds of "all" this server does not have are left out */
		for (int i = 0; all_kinds[i] && n < max; i++) {
			optional[n] = true;
			kinds[n++] = all_kinds[i];
		}
	}
	if (!n || (*name && c->argc > 1)) {
		fprintf(stderr,
			"error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form\n");
		return -EINVAL;
	}
	return n;
}

int cmd_get(struct ctl *c)
{
	const char *kinds[16], *name;
	bool optional[16], printed = false, namespaced = false,
			   objects = c->output && strcmp(c->output, "wide");
	json_object *all = json_object_new_array();
	int n, ret = CTL_OK;
	char arg[512];

	if (c->argc < 1) {
		fprintf(stderr,
			"error: you must specify the type of resource to get\n");
		json_object_put(all);
		return CTL_USAGE;
	}
	snprintf(arg, sizeof(arg), "%s", c->argv[0]);
	n = split_kinds(c, arg, kinds, optional, 16, &name);
	if (n < 0) {
		json_object_put(all);
		return CTL_USAGE;
	}
	for (int i = 0; i < n; i++) {
		struct target tg = { 0 };

		if (optional[i] && ctl_lookup(c, kinds[i], &tg.r))
			continue;
		if (parse_target(c, kinds[i], &tg)) {
			ret = CTL_ERR;
			continue;
		}
		if (name) {
			tg.one = name;
			tg.names = &tg.one;
			tg.nnames = 1;
		}
		tg.prefix = n > 1;
		namespaced |= tg.r.namespaced;
		if (objects ? get_objects(c, &tg, all) :
			      get_table(c, &tg, &printed))
			ret = CTL_ERR;
	}
	if (objects)
		print_all(c, all, n == 1 && (name || c->argc == 2));
	if (!name && c->argc == 1 && ret == CTL_OK &&
	    (objects ? !strcmp(c->output, "name") &&
			       !json_object_array_length(all) :
		       !printed)) {
		struct ctl_res r = { .namespaced = namespaced };

		no_resources(c, &r);
	}
	json_object_put(all);
	return ret;
}
