// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Image references ("busybox", "127.0.0.1:5000/x:1", "x@sha256:...") and pull policies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image_priv.h"

static bool repo_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '/';
}

static bool tag_valid(const char *t)
{
	size_t i, n = strlen(t);

	if (!n || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

int berth_image_ref_parse(const char *ref, struct berth_image_ref *out)
{
	char buf[640], *at, *slash, *colon, *name;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!ref || !*ref || strlen(ref) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, ref);
	at = strchr(buf, '@');
	if (at) {
		*at++ = '\0';
		if (!berth_digest_valid(at))
			return -EINVAL;
		strcpy(out->digest, at);
	}
	/* a tag is after the last ':' that follows the last '/' */
	slash = strrchr(buf, '/');
	colon = strrchr(slash ? slash : buf, ':');
	if (colon) {
		*colon++ = '\0';
		if (!tag_valid(colon) || strlen(colon) >= sizeof(out->tag))
			return -EINVAL;
		strcpy(out->tag, colon);
	}
	name = buf;
	slash = strchr(buf, '/');
	if (slash && (memchr(buf, '.', slash - buf) || memchr(buf, ':', slash - buf) ||
		      !strncmp(buf, "localhost/", 10))) {
		if ((size_t)(slash - buf) >= sizeof(out->registry))
			return -EINVAL;
		memcpy(out->registry, buf, slash - buf);
		name = slash + 1;
	} else {
		strcpy(out->registry, "docker.io");
	}
	if (!*name || name[0] == '/' || name[strlen(name) - 1] == '/' || strstr(name, "//"))
		return -EINVAL;
	for (i = 0; name[i]; i++)
		if (!repo_char(name[i]))
			return -EINVAL;
	if (!strcmp(out->registry, "docker.io") && !strchr(name, '/')) {
		if (strlen(name) + 8 >= sizeof(out->repository))
			return -EINVAL;
		strcpy(out->repository, "library/");
		strcat(out->repository, name);
	} else if (strlen(name) < sizeof(out->repository))
		strcpy(out->repository, name);
	else
		return -EINVAL;
	if (!out->tag[0] && !out->digest[0])
		strcpy(out->tag, "latest");
	return 0;
}

int berth_image_ref_format(const struct berth_image_ref *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s%s%s", r->registry, r->repository,
			 r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

enum berth_pull_policy berth_pull_policy_default(const char *ref)
{
	struct berth_image_ref r;

	if (berth_image_ref_parse(ref, &r))
		return BERTH_PULL_IF_NOT_PRESENT;
	if (r.digest[0])
		return BERTH_PULL_IF_NOT_PRESENT;
	return strcmp(r.tag, "latest") ? BERTH_PULL_IF_NOT_PRESENT : BERTH_PULL_ALWAYS;
}

enum berth_pull_policy berth_pull_policy_parse(const char *s, const char *ref)
{
	if (s && !strcmp(s, "Always"))
		return BERTH_PULL_ALWAYS;
	if (s && !strcmp(s, "IfNotPresent"))
		return BERTH_PULL_IF_NOT_PRESENT;
	if (s && !strcmp(s, "Never"))
		return BERTH_PULL_NEVER;
	return berth_pull_policy_default(ref);
}
