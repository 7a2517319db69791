/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Request bodies in Kubernetes protobuf (application/vnd.kubernetes.protobuf:
 * "k8s\0" + runtime.Unknown), which kubectl's typed clients send (kubectl
 * create namespace/configmap/secret/serviceaccount/deployment/service/job,
 * kubectl run). Decoded into the same
 * JSON the API takes, for the kinds listed in proto.c.
 */
#ifndef BERTH_APISERVER_PROTO_H
#define BERTH_APISERVER_PROTO_H

#include <stddef.h>

#include <json-c/json.h>

#define BERTH_PROTO_MEDIA "application/vnd.kubernetes.protobuf"

/* NULL with a message in err if malformed or of a kind not supported. */
struct json_object *berth_proto_decode(const void *buf, size_t len, char *err,
				       size_t errsize);

#endif
