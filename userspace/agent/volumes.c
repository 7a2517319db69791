// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod volumes under ROOT/pods/<uid>/volumes/<type>/<name>: emptyDir,
 * hostPath, and the file-backed ones (configMap, secret, downwardAPI,
 * projected) written the kubelet's way: a timestamped dir, a ..data symlink
 * swapped atomically onto it, and per-key symlinks through ..data.
 */
#define _GNU_SOURCE
/* paths are bounded by PATH_MAX where made; a cut one fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <berth/base64.h>
#include <berth/log.h>

#include "runtime_int.h"

/* one file of a file-backed volume */
struct vfile {
	char *path; /* relative */
	char *data;
	size_t n;
	mode_t mode;
};

struct vfiles {
	struct vfile *f;
	size_t n;
};

static void vf_add(struct vfiles *v, const char *path, char *data, size_t n, mode_t mode)
{
	struct vfile *t = realloc(v->f, (v->n + 1) * sizeof(*t));

	if (!t)
		abort();
	v->f = t;
	v->f[v->n++] = (struct vfile){ strdup(path), data, n, mode };
}

static void vf_free(struct vfiles *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->f[i].path);
		free(v->f[i].data);
	}
	free(v->f);
}

static mode_t mode_of(struct json_object *o, const char *key, mode_t def)
{
	struct json_object *m = rt_obj(o, key);

	return m ? (mode_t)json_object_get_int(m) & 07777 : def;
}

static bool safe_rel(const char *p)
{
	return p && *p && *p != '/' && strncmp(p, "..", 2) && !strstr(p, "/../") &&
	       !(strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/.."));
}

/* the files of a ConfigMap/Secret source (items or every key) */
static int object_files(const struct berth_objects *objs, const char *kind, const char *ns,
			struct json_object *src, mode_t defmode, struct vfiles *v, char *err,
			size_t errlen)
{
	const char *name = rt_str(src, kind[0] == 'S' ? "secretName" : "name");
	struct json_object *items = rt_arr(src, "items"), *optv = rt_obj(src, "optional");
	bool secret = kind[0] == 'S', optional = optv && json_object_get_boolean(optv);
	struct json_object *o, *data, *bin;

	if (!name)
		name = rt_str(src, "name");
	if (!name)
		return rt_err(err, errlen, -EINVAL, "%s volume without a name", kind);
	o = objs && objs->get ? objs->get(objs->arg, kind, ns, name) : NULL;
	if (!o)
		return optional ? 0
				: rt_err(err, errlen, -ENOENT, "%s \"%s\" not found",
					 secret ? "secret" : "configmap", name);
	data = rt_obj(o, "data");
	bin = secret ? NULL : rt_obj(o, "binaryData");
	mode_t m = mode_of(src, "defaultMode", defmode);
	for (int pass = 0; pass < 2; pass++) {
		struct json_object *map = pass ? bin : data;

		if (!map || !json_object_is_type(map, json_type_object))
			continue;
		json_object_object_foreach(map, k, val)
		{
			const char *path = k;
			mode_t fm = m;

			if (items) {
				path = NULL;
				for (size_t i = 0; i < json_object_array_length(items); i++) {
					struct json_object *it = json_object_array_get_idx(items, i);
					const char *key = rt_str(it, "key");

					if (key && !strcmp(key, k)) {
						path = rt_str(it, "path");
						fm = mode_of(it, "mode", m);
					}
				}
				if (!path)
					continue;
			}
			size_t n;
			char *d = (secret || pass) ? berth_base64_decode(json_object_get_string(val),
									 false, &n)
						   : strdup(json_object_get_string(val));
			if (!d) {
				json_object_put(o);
				return rt_err(err, errlen, -EINVAL, "%s %s: key %s: bad data", kind,
					      name, k);
			}
			if (!secret && !pass)
				n = strlen(d);
			if (!safe_rel(path)) {
				free(d);
				json_object_put(o);
				return rt_err(err, errlen, -EINVAL, "%s %s: bad path %s", kind, name,
					      path);
			}
			vf_add(v, path, d, n, fm);
		}
	}
	/* a missing item key is an error unless optional */
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		const char *key = rt_str(json_object_array_get_idx(items, i), "key");

		if (key && !rt_obj(data, key) && !rt_obj(bin, key) && !optional) {
			json_object_put(o);
			return rt_err(err, errlen, -ENOENT, "configmap references non-existent config key: %s",
				      key);
		}
	}
	json_object_put(o);
	return 0;
}

static int downward_files(struct json_object *pod, struct json_object *src, mode_t defmode,
			  struct vfiles *v, char *err, size_t errlen)
{
	struct json_object *items = rt_arr(src, "items");
	mode_t m = mode_of(src, "defaultMode", defmode);

	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		const char *path = rt_str(it, "path");
		const char *fp = rt_str(rt_obj(it, "fieldRef"), "fieldPath");
		int ret;
		char *val;

		if (!safe_rel(path) || !fp)
			return rt_err(err, errlen, -EINVAL, "downwardAPI item %zu: needs path and fieldRef",
				      i);
		val = berth_pod_field(pod, fp, NULL, NULL, NULL, &ret);
		if (!val)
			return rt_err(err, errlen, -EINVAL, "downwardAPI: unsupported fieldPath %s", fp);
		vf_add(v, path, val, strlen(val), mode_of(it, "mode", m));
	}
	return 0;
}

/* write files to dir atomically: ..<time>/ + ..data → it + key symlinks */
static int write_atomic(const char *dir, struct vfiles *v)
{
	char ts[64], tsdir[PATH_MAX], p[PATH_MAX], old[PATH_MAX] = "", tmp[PATH_MAX];
	struct timespec now;
	struct tm tm;
	int ret;
	ssize_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "..%Y_%m_%d_%H_%M_%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%09ld", now.tv_nsec);
	if ((ret = berth_mkdir_p(dir, 0755)))
		return ret;
	snprintf(tsdir, sizeof(tsdir), "%s/%s", dir, ts);
	if (mkdir(tsdir, 0755))
		return -errno;
	for (size_t i = 0; i < v->n; i++) {
		snprintf(p, sizeof(p), "%s/%s", tsdir, v->f[i].path);
		char *sl = strrchr(p, '/');
		*sl = 0;
		berth_mkdir_p(p, 0755);
		*sl = '/';
		if ((ret = rt_write_file(p, v->f[i].data, v->f[i].n, v->f[i].mode)))
			return ret;
	}
	snprintf(p, sizeof(p), "%s/..data", dir);
	if ((n = readlink(p, old, sizeof(old) - 1)) > 0)
		old[n] = 0;
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	unlink(tmp);
	if (symlink(ts, tmp) || rename(tmp, p))
		return -errno;
	/* top-level names: symlinks through ..data */
	for (size_t i = 0; i < v->n; i++) {
		char top[PATH_MAX], target[PATH_MAX];
		const char *sl = strchr(v->f[i].path, '/');

		snprintf(top, sizeof(top), "%.*s", (int)(sl ? sl - v->f[i].path : (long)strlen(v->f[i].path)),
			 v->f[i].path);
		snprintf(p, sizeof(p), "%s/%s", dir, top);
		snprintf(target, sizeof(target), "..data/%s", top);
		if (symlink(target, p) && errno != EEXIST)
			return -errno;
	}
	/* names no longer there, and the old data dir */
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		bool keep = de->d_name[0] == '.';

		for (size_t i = 0; !keep && i < v->n; i++) {
			size_t l = strlen(de->d_name);

			keep = !strncmp(v->f[i].path, de->d_name, l) &&
			       (v->f[i].path[l] == 0 || v->f[i].path[l] == '/');
		}
		if (!keep) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	if (*old && strcmp(old, ts)) {
		snprintf(p, sizeof(p), "%s/%s", dir, old);
		rt_remove_tree(p);
	}
	return 0;
}

static int vol_dir(struct berth_runtime *rt, const char *uid, const char *type, const char *name,
		   char *buf, size_t len)
{
	char pod[PATH_MAX];
	int ret = rt_pod_dir(rt, uid, pod, sizeof(pod));

	if (ret)
		return ret;
	return (size_t)snprintf(buf, len, "%s/volumes/%s/%s", pod, type, name) >= len
		       ? -ENAMETOOLONG
		       : 0;
}

static int host_path(struct json_object *hp, char *err, size_t errlen)
{
	const char *path = rt_str(hp, "path"), *type = rt_str(hp, "type");
	struct stat st;
	bool exists;

	if (!path || *path != '/')
		return rt_err(err, errlen, -EINVAL, "hostPath: path must be absolute");
	if (!type)
		type = "";
	exists = !stat(path, &st);
	if (!strcmp(type, "DirectoryOrCreate") && !exists)
		return berth_mkdir_p(path, 0755);
	if (!strcmp(type, "FileOrCreate") && !exists) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return rt_err(err, errlen, -errno, "hostPath %s: create: %s", path,
				      strerror(errno));
		close(fd);
		return 0;
	}
	if (!*type)
		return 0;
	struct {
		const char *name;
		mode_t fmt;
	} t[] = {
		{ "Directory", S_IFDIR }, { "DirectoryOrCreate", S_IFDIR }, { "File", S_IFREG },
		{ "FileOrCreate", S_IFREG }, { "Socket", S_IFSOCK }, { "CharDevice", S_IFCHR },
		{ "BlockDevice", S_IFBLK },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(type, t[i].name))
			continue;
		if (!exists)
			return rt_err(err, errlen, -ENOENT, "hostPath type check failed: %s is not a %s",
				      path, type);
		if ((st.st_mode & S_IFMT) != t[i].fmt)
			return rt_err(err, errlen, -EINVAL, "hostPath type check failed: %s is not a %s",
				      path, type);
		return 0;
	}
	return rt_err(err, errlen, -EINVAL, "hostPath: unknown type %s", type);
}

static int setup_one(struct berth_runtime *rt, struct json_object *pod, struct json_object *vol,
		     const struct berth_objects *objs, char *err, size_t errlen)
{
	const char *uid = rt_path_str(pod, "metadata.uid"), *name = rt_str(vol, "name");
	const char *ns = rt_path_str(pod, "metadata.namespace");
	struct json_object *src;
	struct vfiles v = { 0 };
	char dir[PATH_MAX];
	int ret = 0;

	if (!ns)
		ns = "default";
	if (!name || !*name || strchr(name, '/'))
		return rt_err(err, errlen, -EINVAL, "volume without a valid name");
	if ((src = rt_obj(vol, "emptyDir"))) {
		const char *medium = rt_str(src, "medium");
		const char *size = rt_str(src, "sizeLimit");

		if ((ret = vol_dir(rt, uid, "empty-dir", name, dir, sizeof(dir))) ||
		    (ret = berth_mkdir_p(dir, 0777)))
			return rt_err(err, errlen, ret, "emptyDir %s: %s", name, strerror(-ret));
		chmod(dir, 0777);
		if (medium && !strcmp(medium, "Memory")) {
			char opts[64] = "mode=1777";
			int64_t q;
			struct stat st, pst;
			char parent[PATH_MAX];

			snprintf(parent, sizeof(parent), "%s/..", dir);
			if (!stat(dir, &st) && !stat(parent, &pst) && st.st_dev != pst.st_dev)
				return 0; /* mounted already */
			if (size && !berth_quantity_milli(size, &q))
				snprintf(opts, sizeof(opts), "mode=1777,size=%lld",
					 (long long)((q + 999) / 1000));
			if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts))
				return rt_err(err, errlen, -errno, "emptyDir %s: mount tmpfs: %s",
					      name, strerror(errno));
		}
		return 0;
	}
	if ((src = rt_obj(vol, "hostPath")))
		return host_path(src, err, errlen);
	if ((src = rt_obj(vol, "configMap"))) {
		ret = vol_dir(rt, uid, "configmap", name, dir, sizeof(dir));
		if (!ret)
			ret = object_files(objs, "ConfigMap", ns, src, 0644, &v, err, errlen);
	} else if ((src = rt_obj(vol, "secret"))) {
		ret = vol_dir(rt, uid, "secret", name, dir, sizeof(dir));
		if (!ret)
			ret = object_files(objs, "Secret", ns, src, 0644, &v, err, errlen);
	} else if ((src = rt_obj(vol, "downwardAPI"))) {
		ret = vol_dir(rt, uid, "downward-api", name, dir, sizeof(dir));
		if (!ret)
			ret = downward_files(pod, src, 0644, &v, err, errlen);
	} else if ((src = rt_obj(vol, "projected"))) {
		struct json_object *sources = rt_arr(src, "sources");
		mode_t m = mode_of(src, "defaultMode", 0644);

		ret = vol_dir(rt, uid, "projected", name, dir, sizeof(dir));
		for (size_t i = 0; !ret && sources && i < json_object_array_length(sources); i++) {
			struct json_object *s = json_object_array_get_idx(sources, i), *x;

			if ((x = rt_obj(s, "configMap")))
				ret = object_files(objs, "ConfigMap", ns, x, m, &v, err, errlen);
			else if ((x = rt_obj(s, "secret")))
				ret = object_files(objs, "Secret", ns, x, m, &v, err, errlen);
			else if ((x = rt_obj(s, "downwardAPI")))
				ret = downward_files(pod, x, m, &v, err, errlen);
			else if ((x = rt_obj(s, "serviceAccountToken"))) {
				const char *path = rt_str(x, "path");
				struct json_object *e = rt_obj(x, "expirationSeconds");
				char why[512] = "no token source";
				char *tok = NULL;

				if (safe_rel(path) && objs && objs->token)
					tok = objs->token(objs->arg, pod, rt_str(x, "audience"),
							  e ? json_object_get_int64(e) : 3600, why,
							  sizeof(why));
				if (!safe_rel(path))
					ret = rt_err(err, errlen, -EINVAL, "serviceAccountToken: bad path");
				else if (!tok)
					ret = rt_err(err, errlen, -ENOENT,
						     "projected volume %s: %s", name, why);
				else
					vf_add(&v, path, tok, strlen(tok), 0600 & m ? m : 0600);
			}
		}
	} else {
		return rt_err(err, errlen, -ENOTSUP, "volume %s: unsupported volume type", name);
	}
	if (!ret) {
		ret = write_atomic(dir, &v);
		if (ret)
			rt_err(err, errlen, ret, "volume %s: write %s: %s", name, dir, strerror(-ret));
	}
	vf_free(&v);
	return ret;
}

int berth_volumes_setup(struct berth_runtime *rt, struct json_object *pod,
			const struct berth_objects *objs, char *err, size_t errlen)
{
	struct json_object *vols = rt_arr(rt_obj(pod, "spec"), "volumes");
	const char *uid = rt_path_str(pod, "metadata.uid");
	char dir[PATH_MAX];
	int ret;

	if (!uid || rt_pod_dir(rt, uid, dir, sizeof(dir)))
		return rt_err(err, errlen, -EINVAL, "volumes: pod without a valid uid");
	for (size_t i = 0; vols && i < json_object_array_length(vols); i++)
		if ((ret = setup_one(rt, pod, json_object_array_get_idx(vols, i), objs, err, errlen)))
			return ret;
	return 0;
}

void berth_mounts_free(struct berth_mount *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].source);
		free(m[i].destination);
	}
	free(m);
}

static struct json_object *find_volume(struct json_object *pod, const char *name)
{
	struct json_object *vols = rt_arr(rt_obj(pod, "spec"), "volumes");

	for (size_t i = 0; vols && i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		const char *n = rt_str(v, "name");

		if (n && !strcmp(n, name))
			return v;
	}
	return NULL;
}

int berth_volumes_mounts(struct berth_runtime *rt, struct json_object *pod,
			 struct json_object *container, struct berth_mount **out, size_t *np,
			 char *err, size_t errlen)
{
	struct json_object *vms = rt_arr(container, "volumeMounts");
	const char *uid = rt_path_str(pod, "metadata.uid");
	size_t n = vms ? json_object_array_length(vms) : 0, k = 0;
	struct berth_mount *m = calloc(n + 1, sizeof(*m));
	int ret = 0;

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i), *v, *src;
		const char *name = rt_str(vm, "name"), *mp = rt_str(vm, "mountPath");
		const char *sub = rt_str(vm, "subPath");
		char dir[PATH_MAX], path[PATH_MAX];
		const char *type;

		if (!name || !mp || *mp != '/' || !(v = find_volume(pod, name))) {
			ret = rt_err(err, errlen, -EINVAL, "volumeMount %s: no such volume or bad mountPath",
				     name ? name : "?");
			break;
		}
		if ((src = rt_obj(v, "hostPath"))) {
			snprintf(dir, sizeof(dir), "%s", rt_str(src, "path") ?: "/");
		} else {
			type = rt_obj(v, "emptyDir")	  ? "empty-dir"
			       : rt_obj(v, "configMap")	  ? "configmap"
			       : rt_obj(v, "secret")	  ? "secret"
			       : rt_obj(v, "downwardAPI") ? "downward-api"
			       : rt_obj(v, "projected")	  ? "projected"
							  : NULL;
			if (!type || (ret = vol_dir(rt, uid, type, name, dir, sizeof(dir)))) {
				ret = rt_err(err, errlen, ret ?: -ENOTSUP, "volume %s: unsupported", name);
				break;
			}
		}
		if (sub && *sub) {
			if (!safe_rel(sub)) {
				ret = rt_err(err, errlen, -EINVAL, "volumeMount %s: bad subPath %s", name,
					     sub);
				break;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, sub);
			if (access(path, F_OK))
				berth_mkdir_p(path, 0755);
		} else {
			snprintf(path, sizeof(path), "%s", dir);
		}
		struct json_object *ro = rt_obj(vm, "readOnly");
		bool readonly = (ro && json_object_get_boolean(ro)) || rt_obj(v, "configMap") ||
				rt_obj(v, "secret") || rt_obj(v, "downwardAPI") || rt_obj(v, "projected");
		m[k].source = strdup(path);
		m[k].destination = strdup(mp);
		m[k].readonly = readonly;
		k++;
	}
	if (ret) {
		berth_mounts_free(m, k);
		return ret;
	}
	*out = m;
	*np = k;
	return 0;
}

int berth_volumes_teardown(struct berth_runtime *rt, const char *uid)
{
	char dir[PATH_MAX], p[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (vol_dir(rt, uid, "empty-dir", "", dir, sizeof(dir)))
		return -EINVAL;
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			umount2(p, MNT_DETACH); /* tmpfs ones; EINVAL for plain dirs */
		}
		closedir(d);
	}
	if (rt_pod_dir(rt, uid, dir, sizeof(dir)))
		return -EINVAL;
	strncat(dir, "/volumes", sizeof(dir) - strlen(dir) - 1);
	return rt_remove_tree(dir);
}
