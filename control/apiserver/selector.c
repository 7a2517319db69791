// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Selector parsing and matching. Label selectors follow the apimachinery
 * grammar: requirements separated by commas outside parentheses; operators
 * =, ==, !=, in, notin, exists (key), !key, gt/lt (key>3). Field selectors
 * take =, ==, != on any dotted field path; a missing field reads as "".
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "selector.h"

enum sel_op {
	OP_EQ,
	OP_NE,
	OP_IN,
	OP_NOTIN,
	OP_EXISTS,
	OP_NOTEXISTS,
	OP_GT,
	OP_LT
};

#define SEL_MAX_VALUES 64
#define SEL_MAX_REQS 64

struct sel_req {
	char *key;
	enum sel_op op;
	char *values[SEL_MAX_VALUES];
	int nvalues;
};

struct berth_selector {
	bool fields;
	int n;
	struct sel_req reqs[SEL_MAX_REQS];
};

void berth_selector_free(struct berth_selector *s)
{
	int i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->reqs[i].key);
		for (j = 0; j < s->reqs[i].nvalues; j++)
			free(s->reqs[i].values[j]);
	}
	free(s);
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Label keys and values: [A-Za-z0-9._/-]; field paths the same. */
static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	       c == '/';
}

static char *take_word(const char **p)
{
	const char *s = *p;

	while (key_char(**p))
		(*p)++;
	return strndup(s, *p - s);
}

/* A field selector value: up to an unescaped ','; '\' escapes. */
static char *take_field_value(const char **p)
{
	char *v = malloc(strlen(*p) + 1), *o = v;

	if (!v)
		return NULL;
	while (**p && **p != ',') {
		if (**p == '\\' && (*p)[1])
			(*p)++;
		*o++ = *(*p)++;
	}
	*o = 0;
	return v;
}

bool berth_label_value_valid(const char *v)
{
	size_t n = strlen(v), i;

	if (n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' &&
		    v[i] != '_' && v[i] != '.')
			return false;
	return !n || (isalnum((unsigned char)v[0]) &&
		      isalnum((unsigned char)v[n - 1]));
}

static int parse_set(const char **p, struct sel_req *r, char *err,
		     size_t errsize)
{
	skip_ws(p);
	if (**p != '(') {
		snprintf(err, errsize, "found '%c', expected: '('", **p);
		return -EINVAL;
	}
	(*p)++;
	for (;;) {
		skip_ws(p);
		if (r->nvalues == SEL_MAX_VALUES) {
			snprintf(err, errsize, "too many values");
			return -EINVAL;
		}
		r->values[r->nvalues] = take_word(p);
		if (!r->values[r->nvalues])
			return -ENOMEM;
		r->nvalues++;
		skip_ws(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p == ')') {
			(*p)++;
			return 0;
		}
		snprintf(err, errsize, "found '%c', expected: ',' or ')'",
			 **p ? **p : ' ');
		return -EINVAL;
	}
}

static int parse_label_req(const char **p, struct sel_req *r, char *err,
			   size_t errsize)
{
	bool not = false;

	skip_ws(p);
	if (**p == '!') {
		not = true;
		(*p)++;
		skip_ws(p);
	}
	r->key = take_word(p);
	if (!r->key)
		return -ENOMEM;
	if (!*r->key) {
		snprintf(err, errsize, "found '%c', expected: identifier",
			 **p ? **p : ' ');
		return -EINVAL;
	}
	skip_ws(p);
	if (not ) {
		r->op = OP_NOTEXISTS;
		return 0;
	}
	if (!**p || **p == ',') {
		r->op = OP_EXISTS;
		return 0;
	}
	if (!strncmp(*p, "==", 2) || !strncmp(*p, "!=", 2)) {
		r->op = **p == '=' ? OP_EQ : OP_NE;
		*p += 2;
	} else if (**p == '=' || **p == '>' || **p == '<') {
		r->op = **p == '=' ? OP_EQ : **p == '>' ? OP_GT : OP_LT;
		(*p)++;
	} else if (!strncmp(*p, "notin", 5) && !key_char((*p)[5])) {
		r->op = OP_NOTIN;
		*p += 5;
		return parse_set(p, r, err, errsize);
	} else if (!strncmp(*p, "in", 2) && !key_char((*p)[2])) {
		r->op = OP_IN;
		*p += 2;
		return parse_set(p, r, err, errsize);
	} else {
		snprintf(err, errsize,
			 "found '%c', expected: in, notin, =, ==, !=, gt, lt",
			 **p);
		return -EINVAL;
	}
	skip_ws(p);
	r->values[0] = take_word(p);
	if (!r->values[0])
		return -ENOMEM;
	r->nvalues = 1;
	if ((r->op == OP_GT || r->op == OP_LT)) {
		char *end;

		strtoll(r->values[0], &end, 10);
		if (!*r->values[0] || *end) {
			snprintf(err, errsize, "invalid integer value: %s",
				 r->values[0]);
			return -EINVAL;
		}
	} else if (!berth_label_value_valid(r->values[0])) {
		snprintf(err, errsize, "invalid label value: \"%s\"",
			 r->values[0]);
		return -EINVAL;
	}
	return 0;
}

static int parse_field_req(const char **p, struct sel_req *r, char *err,
			   size_t errsize)
{
	skip_ws(p);
	r->key = take_word(p);
	if (!r->key)
		return -ENOMEM;
	if (!*r->key) {
		snprintf(err, errsize,
			 "invalid selector: '%s'; can't understand '%s'", *p,
			 *p);
		return -EINVAL;
	}
	if (!strncmp(*p, "==", 2) || !strncmp(*p, "!=", 2)) {
		r->op = **p == '=' ? OP_EQ : OP_NE;
		*p += 2;
	} else if (**p == '=') {
		r->op = OP_EQ;
		(*p)++;
	} else {
		snprintf(err, errsize, "invalid selector: '%s'", r->key);
		return -EINVAL;
	}
	r->values[0] = take_field_value(p);
	if (!r->values[0])
		return -ENOMEM;
	r->nvalues = 1;
	return 0;
}

int berth_selector_parse(const char *text, bool fields,
			 struct berth_selector **out, char *err, size_t errsize)
{
	struct berth_selector *s;
	const char *p = text;
	int ret;

	*out = NULL;
	if (!text)
		return 0;
	skip_ws(&p);
	if (!*p)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fields = fields;
	for (;;) {
		if (s->n == SEL_MAX_REQS) {
			snprintf(err, errsize, "too many requirements");
			ret = -EINVAL;
			goto fail;
		}
		ret = fields ?
			      parse_field_req(&p, &s->reqs[s->n], err,
					      errsize) :
			      parse_label_req(&p, &s->reqs[s->n], err, errsize);
		s->n++;
		if (ret)
			goto fail;
		skip_ws(&p);
		if (!*p)
			break;
		if (*p != ',') {
			snprintf(err, errsize,
				 "found '%c', expected: ',' or 'end of string'",
				 *p);
			ret = -EINVAL;
			goto fail;
		}
		p++;
	}
	*out = s;
	return 0;
fail:
	berth_selector_free(s);
	return ret;
}

static bool in_values(const struct sel_req *r, const char *v)
{
	int i;

	for (i = 0; i < r->nvalues; i++)
		if (!strcmp(r->values[i], v))
			return true;
	return false;
}

static bool match_label(const struct sel_req *r, struct json_object *labels)
{
	const char *v = berth_json_get_str(labels, r->key);
	char *end;
	long long a, b;

	switch (r->op) {
	case OP_EXISTS:
		return v != NULL;
	case OP_NOTEXISTS:
		return v == NULL;
	case OP_EQ:
	case OP_IN:
		return v && in_values(r, v);
	case OP_NE:
	case OP_NOTIN:
		return !v || !in_values(r, v);
	case OP_GT:
	case OP_LT:
		if (!v)
			return false;
		a = strtoll(v, &end, 10);
		if (!*v || *end)
			return false;
		b = strtoll(r->values[0], NULL, 10);
		return r->op == OP_GT ? a > b : a < b;
	}
	return false;
}

/* The field's value as a selector sees it: strings as is, others as JSON. */
static const char *field_value(struct json_object *obj, const char *path)
{
	struct json_object *v = berth_json_path(obj, path);

	if (!v || json_object_is_type(v, json_type_null))
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

bool berth_selector_match(const struct berth_selector *s,
			  struct json_object *obj)
{
	struct json_object *labels;
	int i;

	if (!s)
		return true;
	labels = berth_json_path(obj, "metadata.labels");
	for (i = 0; i < s->n; i++) {
		const struct sel_req *r = &s->reqs[i];

		if (s->fields) {
			bool eq =
				!strcmp(field_value(obj, r->key), r->values[0]);

			if (eq != (r->op == OP_EQ))
				return false;
		} else if (!match_label(r, labels)) {
			return false;
		}
	}
	return true;
}

const char *berth_selector_name(const struct berth_selector *s)
{
	int i;

	if (!s || !s->fields)
		return NULL;
	for (i = 0; i < s->n; i++)
		if (s->reqs[i].op == OP_EQ &&
		    !strcmp(s->reqs[i].key, "metadata.name"))
			return s->reqs[i].values[0];
	return NULL;
}

bool berth_labels_match_map(struct json_object *labels,
			    struct json_object *want)
{
	if (!want || !json_object_is_type(want, json_type_object))
		return false;
	json_object_object_foreach(want, k, v)
	{
		const char *have = berth_json_get_str(labels, k);

		if (!have || !json_object_is_type(v, json_type_string) ||
		    strcmp(have, json_object_get_string(v)))
			return false;
	}
	return true;
}

static bool expr_match(struct json_object *e, struct json_object *labels)
{
	const char *key = berth_json_get_str(e, "key");
	const char *op = berth_json_get_str(e, "operator");
	const char *have;
	struct json_object *vals = berth_json_path(e, "values");
	size_t i, n;
	bool in = false;

	if (!key || !op)
		return false;
	have = berth_json_get_str(labels, key);
	if (!strcmp(op, "Exists"))
		return have != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return have == NULL;
	n = json_object_is_type(vals, json_type_array) ?
		    json_object_array_length(vals) :
		    0;
	for (i = 0; have && i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vals, i);

		if (json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), have))
			in = true;
	}
	if (!strcmp(op, "In"))
		return in;
	if (!strcmp(op, "NotIn"))
		return !in;
	return false;
}

bool berth_labelselector_match(struct json_object *sel,
			       struct json_object *labels)
{
	struct json_object *ml, *me;
	size_t i, n;

	if (!sel || !json_object_is_type(sel, json_type_object))
		return false;
	ml = berth_json_path(sel, "matchLabels");
	me = berth_json_path(sel, "matchExpressions");
	if (!ml && !me)
		return false; /* empty selector selects nothing here */
	if (ml && !berth_labels_match_map(labels, ml))
		return false;
	if (!json_object_is_type(me, json_type_array))
		return true;
	n = json_object_array_length(me);
	for (i = 0; i < n; i++)
		if (!expr_match(json_object_array_get_idx(me, i), labels))
			return false;
	return true;
}

void berth_labelselector_string(struct json_object *sel, char *buf, size_t size)
{
	struct json_object *ml = berth_json_path(sel, "matchLabels");
	struct json_object *me = berth_json_path(sel, "matchExpressions");
	size_t off = 0, i, j, n, nv;

	buf[0] = 0;
	if (json_object_is_type(ml, json_type_object)) {
		json_object_object_foreach(ml, k, v)
		{
			if (off < size)
				off += snprintf(buf + off, size - off,
						"%s%s=%s", off ? "," : "", k,
						json_object_get_string(v));
		}
	}
	if (!json_object_is_type(me, json_type_array))
		return;
	n = json_object_array_length(me);
	for (i = 0; i < n && off < size; i++) {
		struct json_object *e = json_object_array_get_idx(me, i);
		const char *key = berth_json_get_str(e, "key");
		const char *op = berth_json_get_str(e, "operator");
		struct json_object *vals = berth_json_path(e, "values");

		if (!key || !op)
			continue;
		if (!strcmp(op, "Exists")) {
			off += snprintf(buf + off, size - off, "%s%s",
					off ? "," : "", key);
			continue;
		}
		if (!strcmp(op, "DoesNotExist")) {
			off += snprintf(buf + off, size - off, "%s!%s",
					off ? "," : "", key);
			continue;
		}
		off += snprintf(buf + off, size - off, "%s%s %s (",
				off ? "," : "", key,
				!strcmp(op, "In") ? "in" : "notin");
		nv = json_object_is_type(vals, json_type_array) ?
			     json_object_array_length(vals) :
			     0;
		for (j = 0; j < nv && off < size; j++)
			off += snprintf(
				buf + off, size - off, "%s%s", j ? "," : "",
				json_object_get_string(
					json_object_array_get_idx(vals, j)));
		if (off < size)
			off += snprintf(buf + off, size - off, ")");
	}
}
