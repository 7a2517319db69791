// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One request per connection to berth-agent's endpoint socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentclient.h"

#define AGENT_MAX_MSG 65536

int berth_cni_agent_call(const char *path, json_object *req,
			 json_object **reply, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = BERTH_CNI_AGENT_TIMEOUT_S };
	const char *text = json_object_to_json_string_ext(req,
							   JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), off = 0;
	char *buf = NULL;
	ssize_t n;
	int fd, ret;

	*reply = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "berth-agent socket path %s too long",
			 path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		snprintf(err, errlen, "berth-agent not reachable at %s: %s",
			 path, strerror(errno));
		goto out;
	}
	while (off < len && (n = write(fd, text + off, len - off)) > 0)
		off += n;
	if (off < len || shutdown(fd, SHUT_WR)) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "send to berth-agent at %s: %s", path,
			 strerror(-ret));
		goto out;
	}
	buf = malloc(AGENT_MAX_MSG + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	off = 0;
	while (off < AGENT_MAX_MSG &&
	       (n = read(fd, buf + off, AGENT_MAX_MSG - off)) > 0)
		off += n;
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "read from berth-agent at %s: %s", path,
			 errno == EAGAIN ? "timed out" : strerror(errno));
		if (ret == -EAGAIN)
			ret = -ETIMEDOUT;
		goto out;
	}
	buf[off] = '\0';
	*reply = json_tokener_parse(buf);
	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		snprintf(err, errlen, "berth-agent at %s answered %s", path,
			 off ? "something that is not a JSON object" :
			       "nothing");
		ret = -EPROTO;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

int berth_cni_agent_ok(const char *path, json_object *req, json_object **reply,
		       char *err, size_t errlen)
{
	json_object *ok, *msg;
	int ret = berth_cni_agent_call(path, req, reply, err, errlen);

	if (ret)
		return ret;
	if (json_object_object_get_ex(*reply, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return 0;
	snprintf(err, errlen, "berth-agent: %s",
		 json_object_object_get_ex(*reply, "error", &msg) ?
			 json_object_get_string(msg) :
			 "request refused");
	return -EREMOTEIO;
}
