/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Label selectors (equality- and set-based) and field selectors. */
#ifndef BERTH_APISERVER_SELECTOR_H
#define BERTH_APISERVER_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_selector;

/*
 * Parse a label selector ("a=b,c!=d,e in (x,y),!f,g") or, with fields set,
 * a field selector ("metadata.name=x,spec.nodeName!="). NULL or "" selects
 * everything. On error -EINVAL and *err gets a message (static buffer of
 * the caller's size).
 */
int berth_selector_parse(const char *text, bool fields,
			 struct berth_selector **out, char *err,
			 size_t errsize);
/* Does obj (a whole object) match? NULL selector matches all. */
bool berth_selector_match(const struct berth_selector *s,
			  struct json_object *obj);
/* Selects only on metadata.name = value: returns value, else NULL. */
const char *berth_selector_name(const struct berth_selector *s);
void berth_selector_free(struct berth_selector *s);

/* A label value: at most 63 of [A-Za-z0-9._-], alphanumeric at the ends. */
bool berth_label_value_valid(const char *v);

/* Match a label map against a matchLabels-style map (all pairs present). */
bool berth_labels_match_map(struct json_object *labels,
			    struct json_object *want);

/* A metav1.LabelSelector object (matchLabels, matchExpressions) vs labels. */
bool berth_labelselector_match(struct json_object *sel,
			       struct json_object *labels);
/* The same selector as a string: "a=b,c in (d)". */
void berth_labelselector_string(struct json_object *sel, char *buf,
				size_t size);

#endif
