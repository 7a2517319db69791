// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Building the JSON berth-cni answers with. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "link.h"
#include "result.h"

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

json_object *berth_cni_result(const char *v, const struct berth_cni_ifaces *i)
{
	json_object *r = json_object_new_object();
	json_object *ifs = json_object_new_array(), *ips, *routes, *o;
	struct in_addr a = { .s_addr = htonl(i->ip) };
	char cidr[INET_ADDRSTRLEN + 3];

	snprintf(cidr, sizeof(cidr), "%s/32", inet_ntoa(a));
	add_str(r, "cniVersion", v);
	o = json_object_new_object();
	add_str(o, "name", i->host);
	add_str(o, "mac", i->host_mac);
	json_object_array_add(ifs, o);
	o = json_object_new_object();
	add_str(o, "name", i->ifname);
	add_str(o, "mac", i->mac);
	add_str(o, "sandbox", i->netns);
	json_object_array_add(ifs, o);
	json_object_object_add(r, "interfaces", ifs);

	ips = json_object_new_array();
	o = json_object_new_object();
	if (!strncmp(v, "0.3.", 4))
		add_str(o, "version", "4");
	add_str(o, "address", cidr);
	add_str(o, "gateway", BERTH_CNI_GW);
	json_object_object_add(o, "interface", json_object_new_int(1));
	json_object_array_add(ips, o);
	json_object_object_add(r, "ips", ips);

	routes = json_object_new_array();
	o = json_object_new_object();
	add_str(o, "dst", "0.0.0.0/0");
	add_str(o, "gw", BERTH_CNI_GW);
	json_object_array_add(routes, o);
	json_object_object_add(r, "routes", routes);
	json_object_object_add(r, "dns", json_object_new_object());
	return r;
}

json_object *berth_cni_error(const char *v, const struct berth_cni_err *err)
{
	json_object *r = json_object_new_object();

	add_str(r, "cniVersion", v && *v ? v : "1.1.0");
	json_object_object_add(r, "code", json_object_new_int(err->code));
	add_str(r, "msg", err->msg);
	if (err->details[0])
		add_str(r, "details", err->details);
	return r;
}

json_object *berth_cni_version_reply(const char *v)
{
	json_object *r = json_object_new_object(), *a = json_object_new_array();

	add_str(r, "cniVersion",
		v && berth_cni_version_supported(v) ? v : "1.1.0");
	for (int i = 0; berth_cni_versions[i]; i++)
		json_object_array_add(a,
				      json_object_new_string(berth_cni_versions[i]));
	json_object_object_add(r, "supportedVersions", a);
	return r;
}

/* Append src's array key to dst's, shifting "interface" indexes by shift. */
static void append(json_object *dst, json_object *src, const char *key,
		   int shift)
{
	json_object *d, *a, *idx;

	if (!json_object_object_get_ex(src, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return;
	/* a prevResult's field of the wrong type is replaced, not added to */
	if (!json_object_object_get_ex(dst, key, &d) ||
	    !json_object_is_type(d, json_type_array)) {
		d = json_object_new_array();
		json_object_object_add(dst, key, d);
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = NULL;

		json_object_deep_copy(json_object_array_get_idx(a, i), &e,
				      NULL);
		if (shift && json_object_object_get_ex(e, "interface", &idx))
			json_object_object_add(e, "interface",
					       json_object_new_int(json_object_get_int(idx) +
								   shift));
		json_object_array_add(d, e);
	}
}

json_object *berth_cni_result_merge(json_object *prev, json_object *ours)
{
	json_object *r = NULL, *ifs, *dns, *v;
	int shift = 0;

	if (!prev || !json_object_is_type(prev, json_type_object))
		return json_object_get(ours);
	json_object_deep_copy(prev, &r, NULL);
	if (json_object_object_get_ex(r, "interfaces", &ifs) &&
	    json_object_is_type(ifs, json_type_array))
		shift = json_object_array_length(ifs);
	append(r, ours, "interfaces", 0);
	append(r, ours, "ips", shift);
	append(r, ours, "routes", 0);
	if (!json_object_object_get_ex(r, "dns", &dns) &&
	    json_object_object_get_ex(ours, "dns", &dns))
		json_object_object_add(r, "dns", json_object_get(dns));
	if (json_object_object_get_ex(ours, "cniVersion", &v))
		json_object_object_add(r, "cniVersion", json_object_get(v));
	return r;
}
