// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Output as kubectl writes it: JSON with sorted keys and 4-space indent,
 * YAML with sorted keys (libyaml's emitter), tables through a tabwriter
 * with kubectl's settings (no minimum width, padding 3).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "ctl.h"

#define TAB_PADDING 3

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the keys of @o sorted, as Go marshals maps; caller frees the array */
static const char **sorted_keys(json_object *o, size_t *n)
{
	const char **keys;
	size_t i = 0;

	*n = json_object_object_length(o);
	keys = calloc(*n ? *n : 1, sizeof(*keys));
	if (!keys)
		return NULL;
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		keys[i++] = k;
	}
	qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

static void json_indent(FILE *f, int depth)
{
	fprintf(f, "%*s", depth * 4, "");
}

static void print_json(json_object *o, FILE *f, int depth)
{
	size_t n;

	if (json_object_is_type(o, json_type_object)) {
		const char **keys = sorted_keys(o, &n);

		if (!n || !keys) {
			fputs("{}", f);
			free(keys);
			return;
		}
		fputs("{\n", f);
		for (size_t i = 0; i < n; i++) {
			json_object *k = json_object_new_string(keys[i]);

			json_indent(f, depth + 1);
			fprintf(f, "%s: ",
				json_object_to_json_string_ext(
					k, JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(k);
			print_json(json_object_object_get(o, keys[i]), f,
				   depth + 1);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
		json_indent(f, depth);
		fputc('}', f);
		free(keys);
	} else if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		if (!n) {
			fputs("[]", f);
			return;
		}
		fputs("[\n", f);
		for (size_t i = 0; i < n; i++) {
			json_indent(f, depth + 1);
			print_json(json_object_array_get_idx(o, i), f,
				   depth + 1);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
		json_indent(f, depth);
		fputc(']', f);
	} else {
		fputs(json_object_to_json_string_ext(
			      o, JSON_C_TO_STRING_NOSLASHESCAPE),
		      f);
	}
}

void ctl_print_json(json_object *o, FILE *f)
{
	print_json(o, f, 0);
	fputc('\n', f);
}

/* ---- YAML ---- */

/* a string YAML would read back as something else: quote it */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes",  "no",
					     "on",   "off",   "null", "~",
					     "y",    "n",     NULL };
	char *end;

	if (!*s)
		return true;
	/* dates would read back as timestamps */
	if (strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' &&
	    s[7] == '-')
		return true;
	for (int i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return true;
	strtod(s, &end);
	return !*end;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool string)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	yaml_event_t ev;

	if (string && needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (string && strchr(s, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
				     (int)strlen(s), 1, 1, style);
	return emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, json_object *o)
{
	yaml_event_t ev;
	size_t n;
	int ret = 0;

	switch (json_object_get_type(o)) {
	case json_type_object: {
		const char **keys = sorted_keys(o, &n);

		if (!keys)
			return -ENOMEM;
		yaml_mapping_start_event_initialize(
			&ev, NULL, NULL, 1,
			n ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE);
		ret = emit(e, &ev);
		for (size_t i = 0; i < n && !ret; i++) {
			ret = emit_scalar(e, keys[i], true);
			if (!ret)
				ret = emit_node(
					e, json_object_object_get(o, keys[i]));
		}
		free(keys);
		yaml_mapping_end_event_initialize(&ev);
		return ret ?: emit(e, &ev);
	}
	case json_type_array:
		n = json_object_array_length(o);
		yaml_sequence_start_event_initialize(
			&ev, NULL, NULL, 1,
			n ? YAML_BLOCK_SEQUENCE_STYLE :
			    YAML_FLOW_SEQUENCE_STYLE);
		ret = emit(e, &ev);
		for (size_t i = 0; i < n && !ret; i++)
			ret = emit_node(e, json_object_array_get_idx(o, i));
		yaml_sequence_end_event_initialize(&ev);
		return ret ?: emit(e, &ev);
	case json_type_string:
		return emit_scalar(e, json_object_get_string(o), true);
	case json_type_null:
		return emit_scalar(e, "null", false);
	default:
		return emit_scalar(e, json_object_to_json_string(o), false);
	}
}

int ctl_print_yaml(json_object *o, FILE *f)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int ret;

	if (!yaml_emitter_initialize(&e))
		return -ENOMEM;
	yaml_emitter_set_output_file(&e, f);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ret = emit(&e, &ev);
	if (!ret) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		ret = emit(&e, &ev);
	}
	if (!ret)
		ret = emit_node(&e, o);
	if (!ret) {
		yaml_document_end_event_initialize(&ev, 1);
		ret = emit(&e, &ev);
	}
	if (!ret) {
		yaml_stream_end_event_initialize(&ev);
		ret = emit(&e, &ev);
	}
	if (ret)
		fprintf(stderr, "error: YAML output: %s\n",
			e.problem ? e.problem : "failed");
	yaml_emitter_delete(&e);
	return ret;
}

/* ---- tables ---- */

struct ctl_table {
	int ncols;
	bool pad_last; /* cells end in a tab, the last one too */
	size_t nrows, cap;
	char **cells; /* nrows * ncols */
};

struct ctl_table *ctl_table_new(int ncols)
{
	struct ctl_table *t = calloc(1, sizeof(*t));

	if (t)
		t->ncols = ncols;
	return t;
}

void ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
			strdup(cells[i] ? cells[i] : "");
	t->nrows++;
}

void ctl_table_pad_last(struct ctl_table *t)
{
	t->pad_last = true;
}

size_t ctl_table_rows(const struct ctl_table *t)
{
	return t->nrows;
}

void ctl_table_print(struct ctl_table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t n = strlen(t->cells[r * t->ncols + i]);

			if (n > w[i])
				w[i] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t width = w[i] + TAB_PADDING;

			/* the last cell is not a column: no padding after it */
			if (i + 1 == t->ncols && !t->pad_last)
				fprintf(f, "%s\n", s);
			else if (i + 1 == t->ncols)
				fprintf(f, "%-*s\n", (int)width, s);
			else
				fprintf(f, "%-*s", (int)width, s);
		}
	}
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
