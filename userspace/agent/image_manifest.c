// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* OCI / Docker v2 manifests, indexes (manifest lists) and image configs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "image_priv.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void copy_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

static int parse_descriptor(struct json_object *o, struct berth_descriptor *d)
{
	struct json_object *v, *plat = NULL, *ann = NULL;
	const char *digest = jstr(o, "digest");

	if (!berth_digest_valid(digest))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	strcpy(d->digest, digest);
	copy_str(d->media_type, sizeof(d->media_type), jstr(o, "mediaType"));
	if (json_object_object_get_ex(o, "size", &v))
		d->size = json_object_get_int64(v);
	json_object_object_get_ex(o, "platform", &plat);
	copy_str(d->os, sizeof(d->os), jstr(plat, "os"));
	copy_str(d->arch, sizeof(d->arch), jstr(plat, "architecture"));
	copy_str(d->variant, sizeof(d->variant), jstr(plat, "variant"));
	json_object_object_get_ex(o, "annotations", &ann);
	copy_str(d->ref_name, sizeof(d->ref_name), jstr(ann, "org.opencontainers.image.ref.name"));
	return 0;
}

static int parse_list(struct json_object *arr, struct berth_manifest *m)
{
	size_t i, n;

	if (!arr || !json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	m->d = calloc(n ? n : 1, sizeof(*m->d));
	if (!m->d)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (parse_descriptor(json_object_array_get_idx(arr, i), &m->d[i]))
			return -EINVAL;
	m->n = n;
	return 0;
}

int berth_manifest_parse(const char *body, size_t len, const char *content_type,
			 struct berth_manifest *m, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL, *v;
	const char *mt;
	int ret = -EINVAL;

	memset(m, 0, sizeof(*m));
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, body, len);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		berth_image_seterr(err, errlen, "manifest is not a JSON object");
		goto out;
	}
	mt = jstr(o, "mediaType");
	if (!mt && content_type && *content_type)
		mt = content_type;
	if (!mt)
		mt = json_object_object_get_ex(o, "manifests", NULL) ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (!strncmp(mt, MT_DOCKER_V1, strlen(MT_DOCKER_V1)) ||
	    (json_object_object_get_ex(o, "schemaVersion", &v) && json_object_get_int(v) == 1)) {
		berth_image_seterr(err, errlen, "Docker schema 1 manifests are not supported");
		goto out;
	}
	if (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST)) {
		m->kind = BERTH_MANIFEST_INDEX;
		json_object_object_get_ex(o, "manifests", &v);
		ret = parse_list(v, m);
	} else if (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST) ||
		   !strncmp(mt, "application/json", 16)) {
		struct berth_descriptor cfg;

		m->kind = BERTH_MANIFEST_IMAGE;
		if (!json_object_object_get_ex(o, "config", &v) || parse_descriptor(v, &cfg)) {
			berth_image_seterr(err, errlen, "manifest has no valid config descriptor");
			goto out;
		}
		strcpy(m->config, cfg.digest);
		json_object_object_get_ex(o, "layers", &v);
		ret = parse_list(v, m);
	} else {
		berth_image_seterr(err, errlen, "unsupported manifest media type %s", mt);
		goto out;
	}
	if (ret)
		berth_image_seterr(err, errlen, "malformed manifest (bad descriptor list)");
out:
	if (ret)
		berth_manifest_free(m);
	json_object_put(o);
	return ret;
}

void berth_manifest_free(struct berth_manifest *m)
{
	free(m->d);
	m->d = NULL;
	m->n = 0;
}

int berth_manifest_pick(const struct berth_manifest *m, const char *os, const char *arch)
{
	size_t i;

	os = os ? os : "linux";
	arch = arch ? arch : "amd64";
	for (i = 0; i < m->n; i++)
		if (!strcmp(m->d[i].os, os) && !strcmp(m->d[i].arch, arch))
			return i;
	return -ENOENT;
}

/* --- image config --- */

static char **strv(struct json_object *o, const char *key)
{
	struct json_object *v;
	size_t i, n;
	char **out;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	n = json_object_array_length(v);
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < n; i++)
		out[i] = strdup(json_object_get_string(json_object_array_get_idx(v, i)) ?: "");
	return out;
}

static char *dupstr(struct json_object *o, const char *key)
{
	const char *s = jstr(o, key);

	return s && *s ? strdup(s) : NULL;
}

static void strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

int berth_image_config_parse(const char *body, size_t len, struct berth_image_config **out)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *c = NULL, *rootfs = NULL, *ports;
	struct berth_image_config *cfg;
	size_t n = 0;

	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, body, len);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		json_object_put(o);
		return -ENOMEM;
	}
	json_object_object_get_ex(o, "config", &c);
	if (c && json_object_is_type(c, json_type_object)) {
		cfg->entrypoint = strv(c, "Entrypoint");
		cfg->cmd = strv(c, "Cmd");
		cfg->env = strv(c, "Env");
		cfg->working_dir = dupstr(c, "WorkingDir");
		cfg->user = dupstr(c, "User");
		if (json_object_object_get_ex(c, "ExposedPorts", &ports) &&
		    json_object_is_type(ports, json_type_object)) {
			cfg->exposed_ports = calloc(json_object_object_length(ports) + 1,
						    sizeof(char *));
			json_object_object_foreach(ports, k, val)
			{
				(void)val;
				if (cfg->exposed_ports)
					cfg->exposed_ports[n++] = strdup(k);
			}
		}
	}
	cfg->os = dupstr(o, "os");
	cfg->architecture = dupstr(o, "architecture");
	json_object_object_get_ex(o, "rootfs", &rootfs);
	if (rootfs)
		cfg->diff_ids = strv(rootfs, "diff_ids");
	json_object_put(o);
	*out = cfg;
	return 0;
}

void berth_image_config_free(struct berth_image_config *cfg)
{
	if (!cfg)
		return;
	strv_free(cfg->entrypoint);
	strv_free(cfg->cmd);
	strv_free(cfg->env);
	strv_free(cfg->exposed_ports);
	strv_free(cfg->diff_ids);
	free(cfg->working_dir);
	free(cfg->user);
	free(cfg->os);
	free(cfg->architecture);
	free(cfg);
}
