// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the PATCH engines (strategic merge patch above all,
 * JSON merge patch and JSON patch beside it) on an original object and a
 * patch. The first byte picks the engine ('S', 'M', 'J', else by value);
 * the rest is the stored object up to the first newline, then the patch,
 * each parsed as the server parses bodies (strict, depth-bounded).
 * Invariants checked besides the sanitizers': the result serialises to
 * JSON that parses back equal, and an empty patch gives the original.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../control/apiserver/jsonutil.h"
#include "../../control/apiserver/patch.h"

typedef struct json_object *(*patch_fn)(struct json_object *,
					struct json_object *, char *, size_t);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The result must print as JSON that reads back as the same value. */
static void check_roundtrip(struct json_object *out)
{
	struct json_object *back;
	const char *s;
	size_t len;

	s = berth_json_str(out, &len);
	back = berth_json_parse(s, len, NULL);
	if (!back || !berth_json_equal(out, back))
		abort();
	json_object_put(back);
}

static void check_identity(patch_fn fn, struct json_object *orig,
			   struct json_object *empty)
{
	struct json_object *out;
	char err[512];

	out = fn(orig, empty, err, sizeof(err));
	if (!out || !berth_json_equal(out, orig))
		abort();
	json_object_put(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const patch_fn fns[] = { berth_strategic_patch,
					berth_merge_patch, berth_json_patch };
	struct json_object *orig, *patch, *out, *empty;
	const char *text = (const char *)data + 1;
	char err[512];
	const char *nl;
	size_t used;
	patch_fn fn;
	int sel;

	if (size < 2 || size > (1 << 20))
		return 0;
	sel = data[0] == 'S' ? 0 :
	      data[0] == 'M' ? 1 :
	      data[0] == 'J' ? 2 :
			       data[0] % 3;
	fn = fns[sel];
	/* the server only patches stored objects */
	nl = memchr(text, '\n', size - 1);
	if (!nl)
		return 0;
	used = nl - text + 1;
	orig = berth_json_parse(text, used, NULL);
	if (!json_object_is_type(orig, json_type_object)) {
		json_object_put(orig);
		return 0;
	}
	patch = berth_json_parse(text + used, size - 1 - used, NULL);
	if (patch) {
		out = fn(orig, patch, err, sizeof(err));
		if (out) {
			check_roundtrip(out);
			json_object_put(out);
		}
		json_object_put(patch);
	}
	empty = sel == 2 ? json_object_new_array() : json_object_new_object();
	check_identity(fn, orig, empty);
	json_object_put(empty);
	json_object_put(orig);
	return 0;
}
