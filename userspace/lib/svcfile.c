// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The static Service file: Services, ports and endpoints as YAML or JSON,
 * checked strictly so that a typo is an error with a line, not a dataplane
 * that silently differs from what was meant.
 *
 * Format (YAML shown; the same document as JSON is accepted too):
 *
 *   services:
 *     - name: web                 # required, DNS-1123 label
 *       namespace: default        # optional, DNS-1123 label, default "default"
 *       clusterIP: 10.96.0.10     # required, IPv4 (not 0.0.0.0 or
 *                                 # 255.255.255.255)
 *       sessionAffinity: ClientIP # optional: None (default) | ClientIP
 *       sessionAffinityTimeoutSeconds: 10800
 *                                 # optional, 1..86400, default 10800;
 *                                 # only with sessionAffinity: ClientIP
 *       loadBalancing: maglev     # optional: random (default) | maglev
 *       ports:                    # required, at least one
 *         - name: http            # DNS-1123 label; optional with one port,
 *                                 # required and unique with several
 *           port: 80              # required, 1..65535
 *           targetPort: 8080      # optional, 1..65535, default: port
 *           protocol: TCP         # optional: TCP (default) | UDP
 *       endpoints:                # optional, may be empty
 *         - ip: 10.244.1.2        # required, IPv4 (as clusterIP)
 *           terminating: false    # optional: true | false (default)
 *
 * A DNS-1123 label is 1 to 63 lowercase letters, digits and '-', starting
 * and ending with a letter or digit. An empty file, "services: []" and a
 * missing or null "services" all mean no services. A null value (~, null or
 * nothing) is the same as leaving the key out. Integers and booleans are
 * plain scalars: "80" (quoted) is a string, not a port; integers are decimal
 * without sign or leading zeros. Keys are case-sensitive, and an unknown or
 * repeated key is an error. Only one YAML document per file.
 *
 * Rejected as well: two services with the same namespace/name, two with the
 * same clusterIP, port and protocol, a port and protocol repeated within a
 * service, an endpoint IP repeated within a service.
 *
 * Errors read "FILE:LINE: FIELD: what is wrong", e.g.
 *   svc.yaml:12: services[1].ports[0].port: 70000 is not a port number (1..65535)
 * and return -EINVAL; a file that cannot be read gives -errno ("FILE: cannot
 * read: ..."), one over 64 MiB -EFBIG, and running out of memory -ENOMEM.
 *
 * In struct berth_service, affinity_timeout is 0 unless sessionAffinity is
 * ClientIP, and a port's name is "" when it has none.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include <berth/abi/lb.h>
#include <berth/fsutil.h>
#include <berth/service.h>

/* A Service file this big is a mistake, not a cluster. */
#define SVCFILE_MAX_SIZE (64u << 20)
#define AFFINITY_TIMEOUT_MAX 86400 /* s; Kubernetes' limit */
#define LABEL_MAX 63 /* RFC 1123 */
#define PATH_LEN 96 /* "services[N].endpoints[N]" with 20-digit N fits */
#define QUOTE_LEN 48 /* a value quoted in an error message */
#define KEY_SUGGEST_MAX 32 /* longest key worth a "did you mean" */

struct ctx {
	const char *name; /* file name for messages */
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	/*
	 * Mapping pairs and sequence items left to visit. Aliases let a small
	 * document name one sequence many times; this bounds the expansion.
	 */
	size_t budget;
};

/* One known key of a mapping and what the document gave for it. */
struct field {
	const char *key;
	yaml_node_t *k; /* the key node; NULL if the key is absent */
	yaml_node_t *v; /* the value; NULL if absent or null */
};

static size_t line_of(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static void __attribute__((format(printf, 3, 4)))
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "NAME:LINE: PATH.KEY: message"; returns -EINVAL for the caller to pass on. */
static int __attribute__((format(printf, 5, 6)))
fail(struct ctx *c, size_t line, const char *path, const char *key,
     const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	if (!*path && !key)
		path = "(root)";
	n = snprintf(c->err, c->errlen, "%s:%zu: %s%s%s: ", c->name, line, path,
		     *path && key ? "." : "", key ? key : "");
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int nomem(struct ctx *c)
{
	errf(c->err, c->errlen, "%s: out of memory", c->name);
	return -ENOMEM;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

/* YAML's null (and JSON's): treated as if the key were not there. */
static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return scalar_is(n, "") || scalar_is(n, "~") || scalar_is(n, "null") ||
	       scalar_is(n, "Null") || scalar_is(n, "NULL");
}

/* A scalar for a message: quoted, control bytes escaped, long ones cut. */
static const char *quote(const yaml_node_t *n, char *buf, size_t size)
{
	const unsigned char *s = n->data.scalar.value;
	size_t len = n->data.scalar.length, i, o = 0;

	buf[o++] = '"';
	/* room for one escape (4), "..." (3), the closing quote and NUL */
	for (i = 0; i < len && o + 9 < size; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			buf[o++] = '\\';
			buf[o++] = s[i];
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			o += snprintf(buf + o, size - o, "\\x%02x", s[i]);
		} else {
			buf[o++] = s[i];
		}
	}
	if (i < len) {
		/* do not leave half a UTF-8 character before the "..." */
		while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && (unsigned char)buf[o - 1] >= 0xc0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static int wrong_type(struct ctx *c, const yaml_node_t *n, const char *path,
		      const char *key, const char *want)
{
	char q[QUOTE_LEN];
	const char *got;

	if (n->type == YAML_MAPPING_NODE)
		got = "a mapping";
	else if (n->type == YAML_SEQUENCE_NODE)
		got = "a sequence";
	else if (is_null(n))
		got = "null";
	else
		got = quote(n, q, sizeof(q));
	return fail(c, line_of(n), path, key, "expected %s, got %s", want, got);
}

static int missing(struct ctx *c, const yaml_node_t *map, const char *path,
		   const struct field *f)
{
	if (f->k)
		return fail(c, line_of(f->k), path, f->key,
			    "is required, got null");
	return fail(c, line_of(map), path, f->key, "is required");
}

/* Edit distance ignoring case, for "did you mean"; SIZE_MAX if too long. */
static size_t distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[KEY_SUGGEST_MAX + 1], i, j;

	if (la > KEY_SUGGEST_MAX || lb > KEY_SUGGEST_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag;

			if (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]))
				best++;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/*
 * The name closest to the scalar n within max_edits, or NULL. Names are
 * the first member of count elements stride bytes apart, so both a plain
 * list of names and the fields of a mapping can be searched.
 */
static const char *suggest(const yaml_node_t *n, const void *names,
			   size_t count, size_t stride, size_t max_edits)
{
	size_t best = max_edits + 1, i, d;
	const char *s = NULL, *name;

	for (i = 0; i < count; i++) {
		memcpy(&name, (const char *)names + i * stride, sizeof(name));
		d = distance((const char *)n->data.scalar.value,
			     n->data.scalar.length, name);
		if (d < best) {
			best = d;
			s = name;
		}
	}
	return s;
}

static int spend(struct ctx *c, const yaml_node_t *n, const char *path,
		 size_t count)
{
	if (count <= c->budget) {
		c->budget -= count;
		return 0;
	}
	return fail(c, line_of(n), path, NULL,
		    "aliases expand the document too far");
}

/*
 * Check that n is a mapping and fill in fields from it. An unknown or
 * repeated key is an error: a misspelt optional field must not silently
 * fall back to its default.
 */
static int get_mapping(struct ctx *c, yaml_node_t *n, const char *path,
		       struct field *f, size_t nf)
{
	const yaml_node_pair_t *p, *start, *end;
	const char *hint;
	char q[QUOTE_LEN];
	size_t i;
	int err;

	if (n->type != YAML_MAPPING_NODE)
		return wrong_type(c, n, path, NULL, "a mapping");
	start = n->data.mapping.pairs.start;
	end = n->data.mapping.pairs.top;
	err = spend(c, n, path, end - start);
	if (err)
		return err;
	for (p = start; p < end; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);

		if (k->type != YAML_SCALAR_NODE)
			return wrong_type(c, k, path, NULL, "a scalar key");
		for (i = 0; i < nf; i++)
			if (scalar_is(k, f[i].key))
				break;
		if (i == nf) {
			hint = suggest(k, f, nf, sizeof(*f), 2);
			if (hint)
				return fail(
					c, line_of(k), path, NULL,
					"unknown key %s (did you mean \"%s\"?)",
					quote(k, q, sizeof(q)), hint);
			return fail(c, line_of(k), path, NULL, "unknown key %s",
				    quote(k, q, sizeof(q)));
		}
		if (f[i].k)
			return fail(c, line_of(k), path, f[i].key,
				    "duplicate key (first at line %zu)",
				    line_of(f[i].k));
		f[i].k = k;
		f[i].v = is_null(v) ? NULL : v;
	}
	return 0;
}

/* The items of a sequence, with a budget check. */
static int get_sequence(struct ctx *c, yaml_node_t *n, const char *path,
			const char *key, yaml_node_item_t **items,
			size_t *count)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return wrong_type(c, n, path, key, "a sequence");
	*items = n->data.sequence.items.start;
	*count = n->data.sequence.items.top - n->data.sequence.items.start;
	return spend(c, n, path, *count);
}

/* The value of key in mapping n, for locating an error after the fact. */
static yaml_node_t *lookup(struct ctx *c, yaml_node_t *n, const char *key)
{
	yaml_node_pair_t *p;

	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++)
		if (scalar_is(node(c, p->key), key))
			return node(c, p->value);
	return NULL;
}

static yaml_node_t *item(struct ctx *c, yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	return node(c, seq->data.sequence.items.start[i]);
}

/* Line of item i's key in seq, or of the item if the key is not there. */
static size_t item_line(struct ctx *c, yaml_node_t *seq, size_t i,
			const char *key)
{
	yaml_node_t *it = item(c, seq, i), *v = lookup(c, it, key);

	return line_of(v ? v : it);
}

/* "PATH.KEY[I]"; paths are at most two levels deep, PATH_LEN fits them. */
static void subpath(char sub[PATH_LEN], const char *path, const char *key,
		    size_t i)
{
	if (snprintf(sub, PATH_LEN, "%s.%s[%zu]", path, key, i) >= PATH_LEN)
		strcpy(sub + PATH_LEN - 4, "...");
}

static int get_string(struct ctx *c, const yaml_node_t *n, const char *path,
		      const char *key, const char **s)
{
	if (n->type != YAML_SCALAR_NODE)
		return wrong_type(c, n, path, key, "a string");
	*s = (const char *)n->data.scalar.value;
	/* "\0" in a quoted scalar would cut the C string short */
	if (strlen(*s) != n->data.scalar.length)
		return fail(c, line_of(n), path, key,
			    "contains a NUL character");
	return 0;
}

static bool label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int parse_label(struct ctx *c, const yaml_node_t *map, const char *path,
		       const struct field *f, bool required,
		       char out[BERTH_NAME_MAX])
{
	const yaml_node_t *n = f->v;
	char q[QUOTE_LEN];
	const char *s = NULL;
	size_t len, i;
	int err;

	if (!n)
		return required ? missing(c, map, path, f) : 0;
	err = get_string(c, n, path, f->key, &s);
	if (err)
		return err;
	len = n->data.scalar.length;
	if (!len)
		return fail(c, line_of(n), path, f->key, "must not be empty");
	if (len > LABEL_MAX)
		return fail(c, line_of(n), path, f->key,
			    "%s is longer than %d characters",
			    quote(n, q, sizeof(q)), LABEL_MAX);
	for (i = 0; i < len; i++)
		if (!label_char(s[i]) && s[i] != '-')
			break;
	if (i < len || !label_char(s[0]) || !label_char(s[len - 1]))
		return fail(
			c, line_of(n), path, f->key,
			"%s is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
			quote(n, q, sizeof(q)));
	memcpy(out, s, len + 1);
	return 0;
}

static int parse_ipv4(struct ctx *c, const yaml_node_t *map, const char *path,
		      const struct field *f, bool required, uint32_t *out)
{
	const yaml_node_t *n = f->v;
	struct in_addr a;
	char q[QUOTE_LEN];
	const char *s = NULL;
	int err;

	if (!n)
		return required ? missing(c, map, path, f) : 0;
	err = get_string(c, n, path, f->key, &s);
	if (err)
		return err;
	if (!strcmp(s, "None"))
		return fail(
			c, line_of(n), path, f->key,
			"headless services (None) have no address to program; leave them out");
	if (inet_pton(AF_INET, s, &a) != 1)
		return fail(c, line_of(n), path, f->key,
			    "%s is not an IPv4 address",
			    quote(n, q, sizeof(q)));
	if (a.s_addr == htonl(INADDR_ANY))
		return fail(c, line_of(n), path, f->key,
			    "%s is the unspecified address", s);
	if (a.s_addr == htonl(INADDR_BROADCAST))
		return fail(c, line_of(n), path, f->key,
			    "%s is the broadcast address", s);
	*out = a.s_addr;
	return 0;
}

/* A decimal in min..max; what names it in messages ("a port number"). */
static int parse_uint(struct ctx *c, const yaml_node_t *map, const char *path,
		      const struct field *f, bool required, const char *what,
		      uint32_t min, uint32_t max, uint32_t *out)
{
	const yaml_node_t *n = f->v;
	const unsigned char *s;
	char q[QUOTE_LEN];
	const char *shown;
	uint64_t v = 0;
	size_t len, i;
	bool digits;

	if (!n)
		return required ? missing(c, map, path, f) : 0;
	if (n->type != YAML_SCALAR_NODE)
		return wrong_type(c, n, path, f->key, "an integer");
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(c, line_of(n), path, f->key,
			    "expected an integer, got the string %s",
			    quote(n, q, sizeof(q)));
	s = n->data.scalar.value;
	len = n->data.scalar.length;
	/* stop adding once past max (<= UINT32_MAX), so v cannot wrap */
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (v <= max)
			v = v * 10 + (s[i] - '0');
	digits = len && i == len;
	/* a number reads best bare; anything else is quoted */
	shown = digits && len < 21 ? (const char *)s : quote(n, q, sizeof(q));
	if (!digits || v < min || v > max)
		return fail(c, line_of(n), path, f->key,
			    "%s is not %s (%u..%u)", shown, what, min, max);
	/* YAML 1.1 reads 010 as octal 8; refuse to guess */
	if (len > 1 && s[0] == '0')
		return fail(c, line_of(n), path, f->key,
			    "%s has a leading zero", shown);
	*out = v;
	return 0;
}

static int parse_bool(struct ctx *c, const char *path, const struct field *f,
		      bool *out)
{
	const yaml_node_t *n = f->v;
	char q[QUOTE_LEN];

	if (!n)
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return wrong_type(c, n, path, f->key, "true or false");
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (scalar_is(n, "true") || scalar_is(n, "false")) {
			*out = scalar_is(n, "true");
			return 0;
		}
		return fail(c, line_of(n), path, f->key,
			    "expected true or false, got %s",
			    quote(n, q, sizeof(q)));
	}
	return fail(c, line_of(n), path, f->key,
		    "expected true or false, got the string %s",
		    quote(n, q, sizeof(q)));
}

/* One of names (exact, case-sensitive, as Kubernetes); *out is its index. */
static int parse_enum(struct ctx *c, const char *path, const struct field *f,
		      const char *const *names, size_t count, unsigned int *out)
{
	const yaml_node_t *n = f->v;
	char q[QUOTE_LEN], list[64];
	const char *s = NULL, *hint;
	size_t i, o = 0;
	int err;

	if (!n)
		return 0;
	err = get_string(c, n, path, f->key, &s);
	if (err)
		return err;
	for (i = 0; i < count; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		o += snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
			      names[i]);
	}
	/* only the case: with short values, one edit links SCTP to TCP */
	hint = suggest(n, names, count, sizeof(*names), 0);
	if (hint)
		return fail(c, line_of(n), path, f->key,
			    "%s is not one of %s (did you mean %s?)",
			    quote(n, q, sizeof(q)), list, hint);
	return fail(c, line_of(n), path, f->key, "%s is not one of %s",
		    quote(n, q, sizeof(q)), list);
}

/* A key for finding duplicates by sorting: number, then two strings. */
struct dupref {
	uint64_t k;
	const char *s1, *s2;
	size_t idx; /* order in the file: the first of equal keys is the original */
	size_t i, j; /* where it is, for the message */
};

static int dupref_key_cmp(const struct dupref *x, const struct dupref *y)
{
	int r;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	r = strcmp(x->s1 ? x->s1 : "", y->s1 ? y->s1 : "");
	if (!r)
		r = strcmp(x->s2 ? x->s2 : "", y->s2 ? y->s2 : "");
	return r;
}

static int dupref_cmp(const void *a, const void *b)
{
	const struct dupref *x = a, *y = b;
	int r = dupref_key_cmp(x, y);

	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Sort r and return the repeat that comes first in the file (NULL if
 * none), with *orig the earlier entry it repeats. O(n log n): endpoint
 * lists can be long.
 */
static const struct dupref *find_dup(struct dupref *r, size_t n,
				     const struct dupref **orig)
{
	const struct dupref *best = NULL;
	size_t i, run = 0;

	if (n < 2)
		return NULL;
	qsort(r, n, sizeof(*r), dupref_cmp);
	for (i = 1; i < n; i++) {
		if (dupref_key_cmp(&r[run], &r[i])) {
			run = i;
			continue;
		}
		if (!best || r[i].idx < best->idx) {
			best = &r[i];
			*orig = &r[run];
		}
	}
	return best;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "UDP" : "TCP";
}

enum { P_NAME, P_PORT, P_TARGET, P_PROTO, P_NFIELDS };

static int parse_port(struct ctx *c, yaml_node_t *n, const char *path,
		      struct berth_svc_port *p)
{
	static const char *const protos[] = { "TCP", "UDP" };
	struct field f[P_NFIELDS] = {
		[P_NAME] = { .key = "name" },
		[P_PORT] = { .key = "port" },
		[P_TARGET] = { .key = "targetPort" },
		[P_PROTO] = { .key = "protocol" },
	};
	unsigned int proto = 0;
	uint32_t port, target;
	int err;

	err = get_mapping(c, n, path, f, P_NFIELDS);
	if (err)
		return err;
	err = parse_label(c, n, path, &f[P_NAME], false, p->name);
	if (err)
		return err;
	err = parse_uint(c, n, path, &f[P_PORT], true, "a port number", 1,
			 65535, &port);
	if (err)
		return err;
	target = port;
	err = parse_uint(c, n, path, &f[P_TARGET], false, "a port number", 1,
			 65535, &target);
	if (err)
		return err;
	err = parse_enum(c, path, &f[P_PROTO], protos, 2, &proto);
	if (err)
		return err;
	p->port = port;
	p->target_port = target;
	p->proto = proto ? IPPROTO_UDP : IPPROTO_TCP;
	return 0;
}

enum { E_IP, E_TERMINATING, E_NFIELDS };

static int parse_endpoint(struct ctx *c, yaml_node_t *n, const char *path,
			  struct berth_endpoint *ep)
{
	struct field f[E_NFIELDS] = {
		[E_IP] = { .key = "ip" },
		[E_TERMINATING] = { .key = "terminating" },
	};
	int err;

	err = get_mapping(c, n, path, f, E_NFIELDS);
	if (err)
		return err;
	err = parse_ipv4(c, n, path, &f[E_IP], true, &ep->ip);
	if (err)
		return err;
	return parse_bool(c, path, &f[E_TERMINATING], &ep->terminating);
}

/*
 * Names are required once there are two ports (so each can be told apart,
 * as in Kubernetes) and must differ; a port and protocol may appear once.
 */
static int check_ports(struct ctx *c, const struct berth_service *svc,
		       yaml_node_t *seq, const char *path)
{
	const struct dupref *d, *o = NULL;
	struct dupref *r;
	char sub[PATH_LEN];
	size_t i;
	int err = 0;

	if (svc->nports < 2)
		return 0;
	for (i = 0; i < svc->nports; i++) {
		if (svc->ports[i].name[0])
			continue;
		subpath(sub, path, "ports", i);
		return fail(
			c, line_of(item(c, seq, i)), sub, "name",
			"is required when a service has more than one port");
	}
	r = calloc(svc->nports, sizeof(*r));
	if (!r)
		return nomem(c);
	for (i = 0; i < svc->nports; i++)
		r[i] = (struct dupref){ .s1 = svc->ports[i].name, .idx = i };
	d = find_dup(r, svc->nports, &o);
	if (d) {
		subpath(sub, path, "ports", d->idx);
		err = fail(c, item_line(c, seq, d->idx, "name"), sub, "name",
			   "duplicate port name \"%s\" (also ports[%zu])",
			   d->s1, o->idx);
		goto out;
	}
	for (i = 0; i < svc->nports; i++)
		r[i] = (struct dupref){
			.k = (uint64_t)svc->ports[i].port << 8 |
			     svc->ports[i].proto,
			.idx = i,
		};
	d = find_dup(r, svc->nports, &o);
	if (d) {
		subpath(sub, path, "ports", d->idx);
		err = fail(c, item_line(c, seq, d->idx, "port"), sub, "port",
			   "duplicate port %u/%s (also ports[%zu])",
			   svc->ports[d->idx].port,
			   proto_name(svc->ports[d->idx].proto), o->idx);
	}
out:
	free(r);
	return err;
}

static int check_endpoints(struct ctx *c, const struct berth_service *svc,
			   yaml_node_t *seq, const char *path)
{
	const struct dupref *d, *o = NULL;
	char sub[PATH_LEN], ip[INET_ADDRSTRLEN];
	struct dupref *r;
	size_t i;
	int err = 0;

	if (svc->nendpoints < 2)
		return 0;
	r = calloc(svc->nendpoints, sizeof(*r));
	if (!r)
		return nomem(c);
	for (i = 0; i < svc->nendpoints; i++)
		r[i] = (struct dupref){ .k = svc->endpoints[i].ip, .idx = i };
	d = find_dup(r, svc->nendpoints, &o);
	if (d) {
		inet_ntop(AF_INET, &svc->endpoints[d->idx].ip, ip, sizeof(ip));
		subpath(sub, path, "endpoints", d->idx);
		err = fail(c, item_line(c, seq, d->idx, "ip"), sub, "ip",
			   "duplicate endpoint %s (also endpoints[%zu])", ip,
			   o->idx);
	}
	free(r);
	return err;
}

enum {
	S_NAME,
	S_NAMESPACE,
	S_CLUSTER_IP,
	S_AFFINITY,
	S_TIMEOUT,
	S_LB,
	S_PORTS,
	S_ENDPOINTS,
	S_NFIELDS
};

static int parse_ports(struct ctx *c, const yaml_node_t *map, const char *path,
		       const struct field *f, struct berth_service *svc)
{
	yaml_node_item_t *items = NULL;
	char sub[PATH_LEN];
	size_t n = 0, i;
	int err;

	if (!f->v)
		return missing(c, map, path, f);
	err = get_sequence(c, f->v, path, f->key, &items, &n);
	if (err)
		return err;
	if (!n)
		return fail(c, line_of(f->v), path, f->key,
			    "a service needs at least one port");
	svc->ports = calloc(n, sizeof(*svc->ports));
	if (!svc->ports)
		return nomem(c);
	svc->nports = n;
	for (i = 0; i < n; i++) {
		subpath(sub, path, "ports", i);
		err = parse_port(c, node(c, items[i]), sub, &svc->ports[i]);
		if (err)
			return err;
	}
	return check_ports(c, svc, f->v, path);
}

static int parse_endpoints(struct ctx *c, const char *path,
			   const struct field *f, struct berth_service *svc)
{
	yaml_node_item_t *items = NULL;
	char sub[PATH_LEN];
	size_t n = 0, i;
	int err;

	if (!f->v)
		return 0;
	err = get_sequence(c, f->v, path, f->key, &items, &n);
	if (err || !n)
		return err;
	svc->endpoints = calloc(n, sizeof(*svc->endpoints));
	if (!svc->endpoints)
		return nomem(c);
	svc->nendpoints = n;
	for (i = 0; i < n; i++) {
		subpath(sub, path, "endpoints", i);
		err = parse_endpoint(c, node(c, items[i]), sub,
				     &svc->endpoints[i]);
		if (err)
			return err;
	}
	return check_endpoints(c, svc, f->v, path);
}

/* On error svc may hold allocations; the caller frees the whole set. */
static int parse_service(struct ctx *c, yaml_node_t *n, const char *path,
			 struct berth_service *svc)
{
	static const char *const affinities[] = { "None", "ClientIP" };
	static const char *const algos[] = { "random", "maglev" };
	struct field f[S_NFIELDS] = {
		[S_NAME] = { .key = "name" },
		[S_NAMESPACE] = { .key = "namespace" },
		[S_CLUSTER_IP] = { .key = "clusterIP" },
		[S_AFFINITY] = { .key = "sessionAffinity" },
		[S_TIMEOUT] = { .key = "sessionAffinityTimeoutSeconds" },
		[S_LB] = { .key = "loadBalancing" },
		[S_PORTS] = { .key = "ports" },
		[S_ENDPOINTS] = { .key = "endpoints" },
	};
	unsigned int affinity = 0, algo = 0;
	uint32_t timeout = BERTH_AFFINITY_TIMEOUT_DEFAULT;
	int err;

	err = get_mapping(c, n, path, f, S_NFIELDS);
	if (err)
		return err;
	err = parse_label(c, n, path, &f[S_NAME], true, svc->name);
	if (err)
		return err;
	strcpy(svc->namespace, "default");
	err = parse_label(c, n, path, &f[S_NAMESPACE], false, svc->namespace);
	if (err)
		return err;
	err = parse_ipv4(c, n, path, &f[S_CLUSTER_IP], true, &svc->cluster_ip);
	if (err)
		return err;
	err = parse_enum(c, path, &f[S_AFFINITY], affinities, 2, &affinity);
	if (err)
		return err;
	/* Kubernetes rejects a timeout without ClientIP: it would do nothing */
	if (!affinity && f[S_TIMEOUT].v)
		return fail(c, line_of(f[S_TIMEOUT].v), path, f[S_TIMEOUT].key,
			    "only allowed with sessionAffinity: ClientIP");
	err = parse_uint(c, n, path, &f[S_TIMEOUT], false,
			 "a number of seconds", 1, AFFINITY_TIMEOUT_MAX,
			 &timeout);
	if (err)
		return err;
	err = parse_enum(c, path, &f[S_LB], algos, 2, &algo);
	if (err)
		return err;
	svc->affinity = affinity;
	svc->affinity_timeout = affinity ? timeout : 0;
	svc->algo = algo ? BERTH_LB_MAGLEV : BERTH_LB_RANDOM;
	err = parse_ports(c, n, path, &f[S_PORTS], svc);
	if (err)
		return err;
	return parse_endpoints(c, path, &f[S_ENDPOINTS], svc);
}

static int check_services(struct ctx *c, const struct berth_service_set *set,
			  yaml_node_t *seq)
{
	const struct dupref *d, *o = NULL;
	char path[PATH_LEN], ip[INET_ADDRSTRLEN];
	const struct berth_service *svc;
	size_t i, j, n = 0;
	struct dupref *r;
	int err = 0;

	/* every service has a port: n >= set->n, r serves both checks */
	for (i = 0; i < set->n; i++)
		n += set->svcs[i].nports;
	if (n < 2)
		return 0;
	r = calloc(n, sizeof(*r));
	if (!r)
		return nomem(c);
	for (i = 0; i < set->n; i++)
		r[i] = (struct dupref){
			.s1 = set->svcs[i].namespace,
			.s2 = set->svcs[i].name,
			.idx = i,
		};
	d = find_dup(r, set->n, &o);
	if (d) {
		snprintf(path, sizeof(path), "services[%zu]", d->idx);
		err = fail(c, item_line(c, seq, d->idx, "name"), path, "name",
			   "duplicate service %s/%s (also services[%zu])",
			   d->s1, d->s2, o->idx);
		goto out;
	}
	/* one frontend (clusterIP, port, protocol) can lead to one service */
	for (i = 0, n = 0; i < set->n; i++)
		for (j = 0; j < set->svcs[i].nports; j++, n++)
			r[n] = (struct dupref){
				.k = (uint64_t)ntohl(set->svcs[i].cluster_ip)
					     << 24 |
				     (uint64_t)set->svcs[i].ports[j].port << 8 |
				     set->svcs[i].ports[j].proto,
				.idx = n,
				.i = i,
				.j = j,
			};
	d = find_dup(r, n, &o);
	if (d) {
		svc = &set->svcs[d->i];
		inet_ntop(AF_INET, &svc->cluster_ip, ip, sizeof(ip));
		snprintf(path, sizeof(path), "services[%zu].ports[%zu]", d->i,
			 d->j);
		err = fail(
			c,
			item_line(c, lookup(c, item(c, seq, d->i), "ports"),
				  d->j, "port"),
			path, "port",
			"frontend %s:%u/%s is already used by services[%zu] (%s/%s)",
			ip, svc->ports[d->j].port,
			proto_name(svc->ports[d->j].proto), o->i,
			set->svcs[o->i].namespace, set->svcs[o->i].name);
	}
out:
	free(r);
	return err;
}

static int parse_root(struct ctx *c, yaml_node_t *root,
		      struct berth_service_set *set)
{
	struct field f[] = { { .key = "services" } };
	yaml_node_item_t *items = NULL;
	char path[PATH_LEN];
	size_t n = 0, i;
	int err;

	/* an empty file, or one holding only comments or "---" */
	if (!root || is_null(root))
		return 0;
	err = get_mapping(c, root, "", f, 1);
	if (err || !f[0].v)
		return err;
	err = get_sequence(c, f[0].v, "", f[0].key, &items, &n);
	if (err || !n)
		return err;
	set->svcs = calloc(n, sizeof(*set->svcs));
	if (!set->svcs)
		return nomem(c);
	set->n = n;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "services[%zu]", i);
		err = parse_service(c, node(c, items[i]), path, &set->svcs[i]);
		if (err)
			return err;
	}
	return check_services(c, set, f[0].v);
}

/* libyaml's own message, at its line. */
static int syntax_error(struct ctx *c, const yaml_parser_t *p, const char *buf,
			size_t len)
{
	const char *problem = p->problem ? p->problem : "cannot parse";
	size_t line = p->problem_mark.line + 1, i;

	if (p->error == YAML_MEMORY_ERROR)
		return nomem(c);
	if (p->error == YAML_READER_ERROR) {
		/* bad encoding: libyaml has only the byte offset */
		for (i = 0, line = 1; i < p->problem_offset && i < len; i++)
			line += buf[i] == '\n';
		return fail(c, line, "yaml", NULL, "%s (byte %zu)", problem,
			    p->problem_offset);
	}
	if (p->context)
		return fail(c, line, "yaml", NULL, "%s (%s at line %zu)",
			    problem, p->context, p->context_mark.line + 1);
	return fail(c, line, "yaml", NULL, "%s", problem);
}

/* A second document would be ignored by a single load; refuse it. */
static int check_one_document(struct ctx *c, yaml_parser_t *parser,
			      const char *buf, size_t len)
{
	yaml_document_t doc;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_load(parser, &doc))
		return syntax_error(c, parser, buf, len);
	root = yaml_document_get_root_node(&doc);
	if (root && !is_null(root))
		err = fail(c, line_of(root), "yaml", NULL,
			   "only one document is allowed");
	yaml_document_delete(&doc);
	return err;
}

int berth_svcfile_parse(const char *name, const char *buf, size_t len,
			struct berth_service_set *out, char *err, size_t errlen)
{
	struct berth_service_set set = { 0 };
	struct ctx c = {
		.name = name ? name : "<input>",
		.err = err,
		.errlen = errlen,
	};
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t nodes;
	int ret;

	if (len > SVCFILE_MAX_SIZE) {
		errf(err, errlen, "%s: larger than %u MiB", c.name,
		     SVCFILE_MAX_SIZE >> 20);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&parser))
		return nomem(&c);
	yaml_parser_set_input_string(
		&parser, (const unsigned char *)(buf ? buf : ""), len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(&c, &parser, buf, len);
		goto out_parser;
	}
	ret = check_one_document(&c, &parser, buf, len);
	if (ret)
		goto out_doc;
	c.doc = &doc;
	nodes = doc.nodes.top - doc.nodes.start;
	/* without aliases every node is visited once */
	c.budget = nodes < (1u << 18) ? (1u << 20) : 4 * nodes;
	ret = parse_root(&c, yaml_document_get_root_node(&doc), &set);
	if (ret)
		berth_service_set_free(&set);
	else
		*out = set;
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}


int berth_svcfile_load(const char *path, struct berth_service_set *out,
		       char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = berth_read_file_max(path, SVCFILE_MAX_SIZE, &buf, &len);
	if (ret == -EFBIG) {
		errf(err, errlen, "%s: larger than %u MiB", path,
		     SVCFILE_MAX_SIZE >> 20);
		return ret;
	}
	if (ret) {
		errf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	ret = berth_svcfile_parse(path, buf, len, out, err, errlen);
	free(buf);
	return ret;
}

void berth_service_set_free(struct berth_service_set *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->n; i++) {
		free(set->svcs[i].ports);
		free(set->svcs[i].endpoints);
	}
	free(set->svcs);
	set->svcs = NULL;
	set->n = 0;
}
