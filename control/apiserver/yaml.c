// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libyaml's document tree converted to json-c, bounded in depth and size. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "jsonutil.h"
#include "yaml.h"

/*
 * Aliases let a tiny document name one big sequence many times ("billion
 * laughs"); counting every node visited bounds the expansion.
 */
#define YAML_MAX_NODES 200000

struct ctx {
	yaml_document_t *doc;
	size_t budget;
	char *err;
	size_t errsize;
};

static bool plain_is(const yaml_node_t *n, const char *const *words)
{
	for (; *words; words++)
		if (n->data.scalar.length == strlen(*words) &&
		    !memcmp(n->data.scalar.value, *words,
			    n->data.scalar.length))
			return true;
	return false;
}

static struct json_object *number(const char *s)
{
	char *end;
	long long i;
	double d;

	if (!*s || strchr(" \t", *s))
		return NULL;
	errno = 0;
	i = strtoll(s, &end, 10);
	if (!*end && !errno)
		return json_object_new_int64(i);
	if (!strpbrk(s, ".eE") || strpbrk(s, "xXnN"))
		return NULL; /* no hex, inf or nan through strtod */
	d = strtod(s, &end);
	if (*end || errno || !isfinite(d))
		return NULL;
	return json_object_new_double(d);
}

static struct json_object *scalar(yaml_node_t *n)
{
	static const char *const nulls[] = { "",     "~",    "null",
					     "Null", "NULL", NULL };
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };
	const char *s = (const char *)n->data.scalar.value;
	struct json_object *v;

	/* the loader tags every untagged scalar !!str: only style tells */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string_len(s, n->data.scalar.length);
	if (plain_is(n, nulls))
		return NULL;
	if (plain_is(n, yes))
		return json_object_new_boolean(1);
	if (plain_is(n, no))
		return json_object_new_boolean(0);
	if (strlen(s) == n->data.scalar.length) {
		v = number(s);
		if (v)
			return v;
	}
	return json_object_new_string_len(s, n->data.scalar.length);
}

static int convert(struct ctx *c, yaml_node_t *n, int depth,
		   struct json_object **out)
{
	yaml_node_item_t *it;
	yaml_node_pair_t *p;
	struct json_object *v;

	*out = NULL;
	if (!n || depth > BERTH_JSON_MAX_DEPTH || !c->budget--) {
		snprintf(c->err, c->errsize,
			 n ? "yaml: document too deep or too large" :
			     "yaml: bad node reference");
		return -EINVAL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		*out = scalar(n);
		return 0;
	case YAML_SEQUENCE_NODE:
		*out = json_object_new_array();
		for (it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			if (convert(c, yaml_document_get_node(c->doc, *it),
				    depth + 1, &v))
				goto fail;
			json_object_array_add(*out, v);
		}
		return 0;
	case YAML_MAPPING_NODE:
		*out = json_object_new_object();
		for (p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

			if (!k || k->type != YAML_SCALAR_NODE) {
				snprintf(
					c->err, c->errsize,
					"yaml: line %zu: mapping keys must be scalars",
					k ? k->start_mark.line + 1 : 0);
				goto fail;
			}
			if (convert(c, yaml_document_get_node(c->doc, p->value),
				    depth + 1, &v))
				goto fail;
			json_object_object_add(
				*out, (const char *)k->data.scalar.value, v);
		}
		return 0;
	default:
		snprintf(c->err, c->errsize, "yaml: empty document");
		return -EINVAL;
	}
fail:
	json_object_put(*out);
	*out = NULL;
	return -EINVAL;
}

struct json_object *berth_yaml_parse(const char *buf, size_t len, char *err,
				     size_t errsize)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct ctx c = { .doc = &doc,
			 .budget = YAML_MAX_NODES,
			 .err = err,
			 .errsize = errsize };
	struct json_object *out = NULL;
	yaml_node_t *root;
	bool more;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errsize, "yaml: out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errsize, "yaml: line %zu: %s",
			 parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return NULL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errsize, "yaml: empty document");
	} else if (!convert(&c, root, 0, &out)) {
		/* a second document is ambiguous: refuse it, as Kubernetes does */
		if (!yaml_parser_load(&parser, &extra)) {
			more = true;
		} else {
			more = yaml_document_get_root_node(&extra) != NULL;
			yaml_document_delete(&extra);
		}
		if (more) {
			snprintf(
				err, errsize,
				"yaml: the body holds more than one document or trails garbage");
			json_object_put(out);
			out = NULL;
		} else if (!out) {
			snprintf(err, errsize, "yaml: the document is null");
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return out;
}
