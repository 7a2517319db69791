/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* YAML request bodies (application/yaml, apply-patch+yaml) as json-c trees. */
#ifndef BERTH_APISERVER_YAML_H
#define BERTH_APISERVER_YAML_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Parse exactly one YAML document from buf into JSON values (plain scalars
 * resolved as YAML 1.1 core: null, booleans, integers, floats). JSON is
 * YAML, so a JSON body parses too. NULL with a message in err on error.
 */
struct json_object *berth_yaml_parse(const char *buf, size_t len, char *err,
				     size_t errsize);

#endif
