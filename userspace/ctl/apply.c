// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl apply and delete: objects from YAML or JSON files (several
 * documents each, a directory, or stdin), applied server-side with field
 * manager "berthctl"; what changed is read from the resourceVersion.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <berth/fsutil.h>

#include "ctl.h"

#define INPUT_LIMIT (16 << 20) /* bytes of one file or stdin */

static int read_stream(FILE *f, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap) {
			char *g;

			if (cap >= INPUT_LIMIT) {
				free(b);
				return -EFBIG;
			}
			cap *= 2;
			g = realloc(b, cap);
			if (!g) {
				free(b);
				return -ENOMEM;
			}
			b = g;
		}
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

/* adds @o to @list, or its items if it is a List */
static void add_object(json_object *list, json_object *o)
{
	const char *kind = ctl_str(o, "kind");
	json_object *items = ctl_get(o, "items");

	if (kind && strlen(kind) > 4 &&
	    !strcmp(kind + strlen(kind) - 4, "List") && items &&
	    json_object_is_type(items, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(items); i++)
			json_object_array_add(
				list, json_object_get(json_object_array_get_idx(
					      items, i)));
		json_object_put(o);
		return;
	}
	json_object_array_add(list, o);
}

/* "---" lines separate YAML documents */
static bool doc_separator(const char *line)
{
	return !strncmp(line, "---", 3) && (line[3] == '\n' || line[3] == ' ' ||
					    line[3] == 0 || line[3] == '\r');
}

static int parse_docs(const char *name, char *buf, json_object *list)
{
	char *doc = buf, *p = buf, err[256];

	for (;;) {
		char *eol = strchr(p, '\n');
		bool last = !eol, sep = doc_separator(p);

		if (sep || last) {
			size_t len = (sep ? p : p + strlen(p)) - doc;
			json_object *o = NULL;
			int ret = berth_kube_yaml_parse(doc, len, &o, err,
							sizeof(err));

			if (ret && ret != -ENODATA) {
				fprintf(stderr, "error: %s: %s\n", name, err);
				return ret;
			}
			if (o && json_object_is_type(o, json_type_object))
				add_object(list, o);
			else if (o) {
				json_object_put(o);
				fprintf(stderr,
					"error: %s: a document is not an object\n",
					name);
				return -EINVAL;
			}
			doc = eol ? eol + 1 : p + strlen(p);
		}
		if (last)
			return 0;
		p = eol + 1;
	}
}

static int read_one(const char *path, json_object *list)
{
	size_t len;
	char *buf;
	int ret;

	if (!strcmp(path, "-"))
		ret = read_stream(stdin, &buf, &len);
	else
		ret = berth_read_file(path, &buf, &len);
	if (ret) {
		fprintf(stderr, "error: the path \"%s\" cannot be read: %s\n",
			path, strerror(-ret));
		return ret;
	}
	ret = parse_docs(path, buf, list);
	free(buf);
	return ret;
}

static bool manifest_name(const char *n)
{
	const char *dot = strrchr(n, '.');

	return n[0] != '.' && dot &&
	       (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") ||
		!strcmp(dot, ".json"));
}

static int read_dir(const char *dir, json_object *list)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), ret = 0;

	if (n < 0) {
		fprintf(stderr, "error: the path \"%s\" cannot be read: %s\n",
			dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (!ret && manifest_name(ents[i]->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 ents[i]->d_name);
			ret = read_one(path, list);
		}
		free(ents[i]);
	}
	free(ents);
	return ret;
}

int ctl_read_objects(const char *const *files, int n, json_object **out)
{
	json_object *list = json_object_new_array();
	struct stat sb;
	int ret = 0;

	for (int i = 0; i < n && !ret; i++) {
		if (strcmp(files[i], "-") && !stat(files[i], &sb) &&
		    S_ISDIR(sb.st_mode))
			ret = read_dir(files[i], list);
		else
			ret = read_one(files[i], list);
	}
	if (ret) {
		json_object_put(list);
		return ret;
	}
	*out = list;
	return 0;
}

/* the object's resource and namespace; prints why not */
static int locate(struct ctl *c, json_object *o, struct ctl_res *r,
		  const char **ns, const char **name)
{
	const char *av = ctl_str(o, "apiVersion"), *kind = ctl_str(o, "kind");

	*name = ctl_str(o, "metadata.name");
	if (!av || !kind) {
		fprintf(stderr,
			"error: unable to decode an object: apiVersion or kind not set\n");
		return -EINVAL;
	}
	if (!*name) {
		fprintf(stderr, "error: a %s has no metadata.name\n", kind);
		return -EINVAL;
	}
	if (ctl_resolve_kind(c, av, kind, r))
		return -ENOENT;
	*ns = ctl_str(o, "metadata.namespace");
	if (r->namespaced && *ns && c->ns_set && strcmp(*ns, ctl_ns(c))) {
		fprintf(stderr,
			"error: the namespace from the provided object \"%s\" does not match the namespace \"%s\". You must pass '--namespace=%s' to perform this operation.\n",
			*ns, ctl_ns(c), *ns);
		return -EINVAL;
	}
	if (!*ns)
		*ns = ctl_ns(c);
	return 0;
}

static int apply_one(struct ctl *c, json_object *o)
{
	const char *ns, *name, *verb, *rv0 = NULL, *rv1;
	json_object *cur = NULL, *out = NULL;
	char path[2048], kg[160];
	struct ctl_res r;
	int st;

	if (locate(c, o, &r, &ns, &name))
		return CTL_ERR;
	if (r.namespaced && !ctl_str(o, "metadata.namespace"))
		json_object_object_add(json_object_object_get(o, "metadata"),
				       "namespace", json_object_new_string(ns));
	ctl_path(path, sizeof(path), &r, ns, name, NULL);
	st = berth_kube_get(ctl_kube(c), path, &cur);
	if (st != 200 && st != 404) {
		json_object_put(cur);
		return ctl_server_error(cur, st);
	}
	if (st == 200)
		rv0 = ctl_str(cur, "metadata.resourceVersion");
	ctl_path(path, sizeof(path), &r, ns, name,
		 "?fieldManager=berthctl&force=true");
	st = berth_kube_request(
		ctl_kube(c), "PATCH", path, "application/apply-patch+yaml",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		&out);
	if (st != 200 && st != 201) {
		ctl_server_error(out, st);
		json_object_put(out);
		json_object_put(cur);
		return CTL_ERR;
	}
	rv1 = ctl_str(out, "metadata.resourceVersion");
	if (!rv0)
		verb = "created";
	else if (rv1 && !strcmp(rv0, rv1))
		verb = "unchanged";
	else
		verb = "configured";
	ctl_kind_group(kg, sizeof(kg), &r);
	printf("%s/%s %s\n", kg, name, verb);
	json_object_put(out);
	json_object_put(cur);
	return CTL_OK;
}

int cmd_apply(struct ctl *c)
{
	json_object *list;
	int ret = CTL_OK;

	if (!c->nfiles || c->argc) {
		fprintf(stderr,
			"error: must specify one of -f and -k (berthctl apply -f FILE|DIR|-)\n");
		return CTL_USAGE;
	}
	if (ctl_read_objects(c->files, c->nfiles, &list))
		return CTL_ERR;
	if (!json_object_array_length(list)) {
		fprintf(stderr, "error: no objects passed to apply\n");
		ret = CTL_ERR;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (apply_one(c, json_object_array_get_idx(list, i)))
			ret = CTL_ERR;
	json_object_put(list);
	return ret;
}

/* ---- delete ---- */

static int delete_one(struct ctl *c, const struct ctl_res *r, const char *ns,
		      const char *name)
{
	json_object *out = NULL;
	char path[2048], kg[160];
	int st;

	ctl_path(path, sizeof(path), r, ns, name, NULL);
	st = berth_kube_delete(ctl_kube(c), path, NULL, &out);
	if (st != 200 && st != 202) {
		ctl_server_error(out, st);
		json_object_put(out);
		return CTL_ERR;
	}
	json_object_put(out);
	ctl_kind_group(kg, sizeof(kg), r);
	printf("%s \"%s\" deleted\n", kg, name);
	return CTL_OK;
}

static int delete_files(struct ctl *c)
{
	const char *ns, *name;
	json_object *list;
	struct ctl_res r;
	int ret = CTL_OK;

	if (ctl_read_objects(c->files, c->nfiles, &list))
		return CTL_ERR;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		if (locate(c, json_object_array_get_idx(list, i), &r, &ns,
			   &name) ||
		    delete_one(c, &r, ns, name))
			ret = CTL_ERR;
	}
	json_object_put(list);
	return ret;
}

/* names of KIND matching -l */
static int delete_selected(struct ctl *c, const struct ctl_res *r)
{
	json_object *list, *items;
	int ret = CTL_OK;
	char path[2048];
	size_t n;

	ctl_path(path, sizeof(path), r, ctl_ns(c), NULL, NULL);
	if (ctl_add_selector(c, path, sizeof(path)))
		return CTL_USAGE;
	list = ctl_fetch(c, path);
	if (!list)
		return CTL_ERR;
	items = ctl_get(list, "items");
	n = items ? json_object_array_length(items) : 0;
	if (!n)
		fprintf(stderr, "No resources found\n");
	for (size_t i = 0; i < n; i++)
		if (delete_one(
			    c, r,
			    ctl_str(json_object_array_get_idx(items, i), "metadata.namespace") ?:
				    ctl_ns(c),
			    ctl_str(json_object_array_get_idx(items, i),
				    "metadata.name")))
			ret = CTL_ERR;
	json_object_put(list);
	return ret;
}

int cmd_delete(struct ctl *c)
{
	const char *slash;
	struct ctl_res r;
	char kind[128];
	int ret = CTL_OK;

	if (c->nfiles) {
		if (c->argc) {
			fprintf(stderr,
				"error: resource(s) were provided, but no name was specified (do not mix -f with KIND NAME)\n");
			return CTL_USAGE;
		}
		return delete_files(c);
	}
	if (c->argc < 1) {
		fprintf(stderr,
			"error: you must provide one or more resources by argument or filename\n");
		return CTL_USAGE;
	}
	slash = strchr(c->argv[0], '/');
	snprintf(kind, sizeof(kind), "%.*s",
		 slash ? (int)(slash - c->argv[0]) : (int)strlen(c->argv[0]),
		 c->argv[0]);
	if (!slash && c->argc < 2 && !c->selector) {
		fprintf(stderr,
			"error: resource(s) were provided, but no name was specified\n");
		return CTL_USAGE;
	}
	if (ctl_resolve(c, kind, &r))
		return CTL_ERR;
	if (slash)
		return delete_one(c, &r, ctl_ns(c), slash + 1);
	if (c->argc < 2)
		return delete_selected(c, &r);
	for (int i = 1; i < c->argc; i++)
		if (delete_one(c, &r, ctl_ns(c), c->argv[i]))
			ret = CTL_ERR;
	return ret;
}
