// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Writes ROOT/sync-status.json atomically after each sync. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <berth/log.h>

#include "status.h"

int berth_status_init(const char *root)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", root) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int berth_status_write(const char *root, const struct berth_status *st)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sync-status.json", root);
	snprintf(tmp, sizeof(tmp), "%s/.sync-status.json.tmp", root);
	f = fopen(tmp, "w");
	if (!f) {
		pr_warn("write %s: %s", tmp, strerror(errno));
		return -errno;
	}
	fprintf(f, "{\"seq\": %lu, \"ok\": %s, \"error\": ",
		(unsigned long)st->seq, st->ok ? "true" : "false");
	if (st->ok)
		fputs("null", f);
	else
		put_json_string(f, st->error);
	fprintf(f,
		", \"services\": %zu, \"frontends\": %zu, \"writes\": %lu, \"duration_us\": %lu",
		st->services, st->frontends, (unsigned long)st->writes,
		(unsigned long)st->duration_us);
	if (st->latency_us)
		fprintf(f, ", \"latency_us\": %lu",
			(unsigned long)st->latency_us);
	if (st->xdp_mode) {
		fputs(", \"xdpMode\": ", f);
		put_json_string(f, st->xdp_mode);
	}
	fputs("}\n", f);
	if (fclose(f) || rename(tmp, path)) {
		pr_warn("write %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}
