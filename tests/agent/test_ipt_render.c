// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The iptables rule generator: the full text for fixed Services, then what
 * an incremental render writes after a change. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/ipt_render.h"

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad address %s", s);
	return a.s_addr;
}

/* default/web:http (3 endpoints, also NodePort 30080 on 192.168.1.1),
 * kube-system/dns:dns (UDP, no endpoints), default/sticky (unnamed port,
 * ClientIP affinity 600 s, one endpoint whose port is the target port) */
struct fixture {
	struct berth_svc_port ports[4];
	struct berth_endpoint web[3], sticky[1];
	struct berth_service svcs[4];
	struct berth_service_set set;
	struct berth_ipt_config cfg;
	struct berth_ipt_render *r;
	struct berth_ipt_stats st;
	char *text;
};

static struct fixture fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.ports[0] = (struct berth_svc_port){ "http", 80, 8080, IPPROTO_TCP };
	fx.ports[1] = (struct berth_svc_port){ "dns", 53, 53, IPPROTO_UDP };
	fx.ports[2] = (struct berth_svc_port){ "", 80, 80, IPPROTO_TCP };
	fx.ports[3] =
		(struct berth_svc_port){ "http", 30080, 8080, IPPROTO_TCP };
	fx.web[0] = (struct berth_endpoint){ .ip = ip4("10.244.0.11"),
					     .port = 8080 };
	fx.web[1] = (struct berth_endpoint){ .ip = ip4("10.244.1.12"),
					     .port = 8080 };
	fx.web[2] = (struct berth_endpoint){ .ip = ip4("10.244.1.13"),
					     .port = 8080 };
	fx.sticky[0] = (struct berth_endpoint){ .ip = ip4("10.244.0.30") };
	fx.svcs[0] = (struct berth_service){ "default",
					     "web",
					     .cluster_ip = ip4("10.96.0.10"),
					     .ports = &fx.ports[0],
					     .nports = 1,
					     .endpoints = fx.web,
					     .nendpoints = 3 };
	fx.svcs[1] = (struct berth_service){ "kube-system", "dns",
					     .cluster_ip = ip4("10.96.0.53"),
					     .ports = &fx.ports[1],
					     .nports = 1 };
	fx.svcs[2] = (struct berth_service){ "default",
					     "sticky",
					     .cluster_ip = ip4("10.96.0.20"),
					     .affinity = true,
					     .affinity_timeout = 600,
					     .ports = &fx.ports[2],
					     .nports = 1,
					     .endpoints = fx.sticky,
					     .nendpoints = 1 };
	fx.svcs[3] = (struct berth_service){ "default",
					     "web",
					     .cluster_ip = ip4("192.168.1.1"),
					     .ports = &fx.ports[3],
					     .nports = 1,
					     .endpoints = fx.web,
					     .nendpoints = 3 };
	fx.set = (struct berth_service_set){ fx.svcs, 4 };
	fx.cfg.node_ip = ip4("192.168.1.1");
	cr_assert_eq(berth_ipt_render_new(&fx.r), 0);
}

static void teardown(void)
{
	free(fx.text);
	berth_ipt_render_free(fx.r);
}

static void render(bool full, const struct berth_ipt_kchain *existing, size_t n)
{
	free(fx.text);
	fx.text = NULL;
	cr_assert_eq(berth_ipt_render(fx.r, &fx.cfg, &fx.set, full, existing, n,
				      &fx.text, &fx.st),
		     0, "render");
}

/* line by line, so a failure shows the first line that differs */
static void assert_text(const char *got, const char *want)
{
	size_t line = 1;

	for (; *got && *want; line++) {
		size_t g = strcspn(got, "\n"), w = strcspn(want, "\n");

		cr_assert(g == w && !strncmp(got, want, g),
			  "line %zu:\n got: %.*s\nwant: %.*s", line, (int)g,
			  got, (int)w, want);
		got += g + (got[g] == '\n');
		want += w + (want[w] == '\n');
	}
	cr_assert(!*got && !*want, "line %zu: got %s, want %s", line,
		  *got ? got : "(end)", *want ? want : "(end)");
}

static const char full_text[] =
	"*nat\n"
	":BERTH-SERVICES - [0:0]\n"
	":BERTH-NODEPORTS - [0:0]\n"
	":BERTH-POSTROUTING - [0:0]\n"
	":BERTH-MARK-MASQ - [0:0]\n"
	":BERTH-SVC-CDGGSHYLG3RE2FKL - [0:0]\n"
	":BERTH-SEP-QZSIC2ZS53EHPBVZ - [0:0]\n"
	":BERTH-SEP-BQ6CYJXGREWSNKJL - [0:0]\n"
	":BERTH-SEP-5QELHRCC7S7TONMB - [0:0]\n"
	":BERTH-SVC-BJWR5DPVIKTHVKZU - [0:0]\n"
	":BERTH-SEP-3CZWYBS4BSICPEZG - [0:0]\n"
	":BERTH-EXT-CDGGSHYLG3RE2FKL - [0:0]\n"
	"-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j BERTH-SVC-CDGGSHYLG3RE2FKL\n"
	"-A BERTH-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment \"default/sticky cluster IP\" -m tcp --dport 80 -j BERTH-SVC-BJWR5DPVIKTHVKZU\n"
	"-A BERTH-SERVICES -m comment --comment \"berth service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS\n"
	"-A BERTH-NODEPORTS -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 30080 -j BERTH-EXT-CDGGSHYLG3RE2FKL\n"
	"-A BERTH-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
	"-A BERTH-POSTROUTING -j MARK --xor-mark 0x4000\n"
	"-A BERTH-POSTROUTING -m comment --comment \"berth service traffic requiring SNAT\" -j MASQUERADE --random-fully\n"
	"-A BERTH-MARK-MASQ -j MARK --or-mark 0x4000\n"
	"-A BERTH-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.0.11:8080\" -m statistic --mode random --probability 0.3333333333 -j BERTH-SEP-QZSIC2ZS53EHPBVZ\n"
	"-A BERTH-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.12:8080\" -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-BQ6CYJXGREWSNKJL\n"
	"-A BERTH-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.13:8080\" -j BERTH-SEP-5QELHRCC7S7TONMB\n"
	"-A BERTH-SEP-QZSIC2ZS53EHPBVZ -s 10.244.0.11/32 -m comment --comment \"default/web:http\" -j BERTH-MARK-MASQ\n"
	"-A BERTH-SEP-QZSIC2ZS53EHPBVZ -p tcp -m comment --comment \"default/web:http\" -m tcp -j DNAT --to-destination 10.244.0.11:8080\n"
	"-A BERTH-SEP-BQ6CYJXGREWSNKJL -s 10.244.1.12/32 -m comment --comment \"default/web:http\" -j BERTH-MARK-MASQ\n"
	"-A BERTH-SEP-BQ6CYJXGREWSNKJL -p tcp -m comment --comment \"default/web:http\" -m tcp -j DNAT --to-destination 10.244.1.12:8080\n"
	"-A BERTH-SEP-5QELHRCC7S7TONMB -s 10.244.1.13/32 -m comment --comment \"default/web:http\" -j BERTH-MARK-MASQ\n"
	"-A BERTH-SEP-5QELHRCC7S7TONMB -p tcp -m comment --comment \"default/web:http\" -m tcp -j DNAT --to-destination 10.244.1.13:8080\n"
	"-A BERTH-SVC-BJWR5DPVIKTHVKZU -m comment --comment \"default/sticky -> 10.244.0.30:80\" -m recent --rcheck --seconds 600 --reap --name BERTH-SEP-3CZWYBS4BSICPEZG --mask 255.255.255.255 --rsource -j BERTH-SEP-3CZWYBS4BSICPEZG\n"
	"-A BERTH-SVC-BJWR5DPVIKTHVKZU -m comment --comment \"default/sticky -> 10.244.0.30:80\" -j BERTH-SEP-3CZWYBS4BSICPEZG\n"
	"-A BERTH-SEP-3CZWYBS4BSICPEZG -s 10.244.0.30/32 -m comment --comment \"default/sticky\" -j BERTH-MARK-MASQ\n"
	"-A BERTH-SEP-3CZWYBS4BSICPEZG -p tcp -m comment --comment \"default/sticky\" -m recent --set --name BERTH-SEP-3CZWYBS4BSICPEZG --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.0.30:80\n"
	"-A BERTH-EXT-CDGGSHYLG3RE2FKL -m comment --comment \"masquerade traffic for default/web:http external destinations\" -j BERTH-MARK-MASQ\n"
	"-A BERTH-EXT-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.0.11:8080\" -m statistic --mode random --probability 0.3333333333 -j BERTH-SEP-QZSIC2ZS53EHPBVZ\n"
	"-A BERTH-EXT-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.12:8080\" -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-BQ6CYJXGREWSNKJL\n"
	"-A BERTH-EXT-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.13:8080\" -j BERTH-SEP-5QELHRCC7S7TONMB\n"
	"COMMIT\n"
	"*filter\n"
	":BERTH-SERVICES - [0:0]\n"
	":BERTH-EXTERNAL-SERVICES - [0:0]\n"
	":BERTH-FORWARD - [0:0]\n"
	"-A BERTH-SERVICES -d 10.96.0.53/32 -p udp -m comment --comment \"kube-system/dns:dns has no endpoints\" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable\n"
	"-A BERTH-FORWARD -m comment --comment \"berth forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
	"-A BERTH-FORWARD -m comment --comment \"berth forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"COMMIT\n";

/* web loses 10.244.1.13 (now terminating), its NodePort becomes
 * externalTrafficPolicy Local: sticky's chains are not written, web's
 * NodePort chain changes name, the endpoint's chain goes (stale chains
 * in name order) */
static const char incr_text[] =
	"*nat\n"
	":BERTH-SERVICES - [0:0]\n"
	":BERTH-NODEPORTS - [0:0]\n"
	":BERTH-POSTROUTING - [0:0]\n"
	":BERTH-MARK-MASQ - [0:0]\n"
	":BERTH-SVC-CDGGSHYLG3RE2FKL - [0:0]\n"
	":BERTH-XLB-CDGGSHYLG3RE2FKL - [0:0]\n"
	":BERTH-EXT-CDGGSHYLG3RE2FKL - [0:0]\n"
	":BERTH-SEP-5QELHRCC7S7TONMB - [0:0]\n"
	"-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j BERTH-SVC-CDGGSHYLG3RE2FKL\n"
	"-A BERTH-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment \"default/sticky cluster IP\" -m tcp --dport 80 -j BERTH-SVC-BJWR5DPVIKTHVKZU\n"
	"-A BERTH-SERVICES -m comment --comment \"berth service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS\n"
	"-A BERTH-NODEPORTS -p tcp -m comment --comment \"default/web:http\" -m tcp --dport 30080 -j BERTH-XLB-CDGGSHYLG3RE2FKL\n"
	"-A BERTH-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
	"-A BERTH-POSTROUTING -j MARK --xor-mark 0x4000\n"
	"-A BERTH-POSTROUTING -m comment --comment \"berth service traffic requiring SNAT\" -j MASQUERADE --random-fully\n"
	"-A BERTH-MARK-MASQ -j MARK --or-mark 0x4000\n"
	"-A BERTH-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.0.11:8080\" -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-QZSIC2ZS53EHPBVZ\n"
	"-A BERTH-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.12:8080\" -j BERTH-SEP-BQ6CYJXGREWSNKJL\n"
	"-A BERTH-XLB-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.0.11:8080\" -m statistic --mode random --probability 0.5000000000 -j BERTH-SEP-QZSIC2ZS53EHPBVZ\n"
	"-A BERTH-XLB-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.1.12:8080\" -j BERTH-SEP-BQ6CYJXGREWSNKJL\n"
	"-X BERTH-EXT-CDGGSHYLG3RE2FKL\n"
	"-X BERTH-SEP-5QELHRCC7S7TONMB\n"
	"COMMIT\n"
	"*filter\n"
	":BERTH-SERVICES - [0:0]\n"
	":BERTH-EXTERNAL-SERVICES - [0:0]\n"
	":BERTH-FORWARD - [0:0]\n"
	"-A BERTH-SERVICES -d 10.96.0.53/32 -p udp -m comment --comment \"kube-system/dns:dns has no endpoints\" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable\n"
	"-A BERTH-FORWARD -m comment --comment \"berth forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
	"-A BERTH-FORWARD -m comment --comment \"berth forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"COMMIT\n";

TestSuite(ipt_render, .init = setup, .fini = teardown);

Test(ipt_render, chain_name_is_kube_proxy_hash)
{
	char name[BERTH_IPT_CHAIN_MAX];

	/* base32(sha256("default/web:httptcp"))[:16], as kube-proxy */
	berth_ipt_chain_name("BERTH-SVC-", "default/web:httptcp", name);
	cr_assert_str_eq(name, "BERTH-SVC-CDGGSHYLG3RE2FKL");
	cr_assert_lt(strlen("BERTH-SEP-CDGGSHYLG3RE2FKL"), BERTH_IPT_CHAIN_MAX);
}

Test(ipt_render, full)
{
	render(false, NULL, 0);
	assert_text(fx.text, full_text);
	cr_assert_eq(fx.st.chains, 14);
	cr_assert_eq(fx.st.written, 14);
	cr_assert_eq(fx.st.deleted, 0);
	cr_assert_eq(fx.st.rules, 28);
}

Test(ipt_render, incremental)
{
	render(false, NULL, 0);
	berth_ipt_render_done(fx.r, true);
	fx.web[2].terminating = true;
	fx.svcs[3].local = true;
	render(false, NULL, 0);
	assert_text(fx.text, incr_text);
	cr_assert_eq(fx.st.written, 9);
	cr_assert_eq(fx.st.deleted, 2);
}

Test(ipt_render, unchanged_writes_dispatch_only)
{
	render(false, NULL, 0);
	berth_ipt_render_done(fx.r, true);
	render(false, NULL, 0);
	cr_assert_eq(fx.st.written, 7, "only the 7 dispatch chains");
	cr_assert_null(strstr(fx.text, ":BERTH-SVC-"));
	cr_assert_null(strstr(fx.text, ":BERTH-SEP-"));
	cr_assert_not_null(strstr(fx.text, "-j BERTH-SVC-CDGGSHYLG3RE2FKL\n"),
			   "the dispatch rules still name the kept chains");
}

Test(ipt_render, failed_apply_renders_everything)
{
	render(false, NULL, 0);
	berth_ipt_render_done(fx.r, true);
	render(false, NULL, 0);
	berth_ipt_render_done(fx.r, false);
	render(false, NULL, 0);
	assert_text(fx.text, full_text);
}

Test(ipt_render, full_deletes_stale_kernel_chains)
{
	const struct berth_ipt_kchain existing[] = {
		{ "BERTH-POD-MASQ", 1 },
		{ "BERTH-SVC-AAAAAAAAAAAAAAAA", 1 },
		{ "BERTH-SVC-CDGGSHYLG3RE2FKL", 3 },
	};

	render(true, existing, 3);
	cr_assert_not_null(
		strstr(fx.text, ":BERTH-SVC-AAAAAAAAAAAAAAAA - [0:0]\n"));
	cr_assert_not_null(
		strstr(fx.text,
		       "\n-X BERTH-SVC-AAAAAAAAAAAAAAAA\nCOMMIT\n*filter\n"),
		"deleted after every rule, before the nat COMMIT");
	cr_assert_null(strstr(fx.text, "BERTH-POD-MASQ"),
		       "not a per-Service chain: untouched");
	cr_assert_null(strstr(fx.text, "-X BERTH-SVC-CDGG"));
	cr_assert_eq(fx.st.deleted, 1);
}

Test(ipt_render, probabilities)
{
	struct berth_endpoint eps[4];

	for (int i = 0; i < 4; i++)
		eps[i] = (struct berth_endpoint){ .ip = htonl(0x0af40001 + i),
						  .port = 80 };
	fx.svcs[0].endpoints = eps;
	fx.svcs[0].nendpoints = 4;
	fx.set.n = 1;
	render(false, NULL, 0);
	cr_assert_not_null(strstr(fx.text, "--probability 0.2500000000 -j"));
	cr_assert_not_null(strstr(fx.text, "--probability 0.3333333333 -j"));
	cr_assert_not_null(strstr(fx.text, "--probability 0.5000000000 -j"));
	cr_assert_not_null(strstr(fx.text, "10.244.0.4:80\" -j BERTH-SEP-"),
			   "the last endpoint takes what is left");
}

Test(ipt_render, all_terminating_rejects)
{
	for (int i = 0; i < 3; i++)
		fx.web[i].terminating = true;
	render(false, NULL, 0);
	cr_assert_not_null(strstr(
		fx.text,
		"-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"default/web:http has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n"));
	cr_assert_not_null(strstr(
		fx.text,
		"-A BERTH-EXTERNAL-SERVICES -p tcp -m comment --comment \"default/web:http has no endpoints\" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable\n"));
	cr_assert_null(strstr(fx.text, "BERTH-SVC-CDGG"));
}

/* Many chains: the index grows and every name stays findable (a Service
 * renders its SEP chains while its SVC chain is being filled). */
Test(ipt_render, many_services)
{
	enum { N = 3000 };
	struct berth_service *s = calloc(N, sizeof(*s));
	struct berth_endpoint *e = calloc(2 * N, sizeof(*e));
	struct berth_service_set set = { s, N };
	size_t svc = 0, sep = 0;

	cr_assert(s && e);
	for (int i = 0; i < N; i++) {
		snprintf(s[i].namespace, BERTH_NAME_MAX, "bench");
		snprintf(s[i].name, BERTH_NAME_MAX, "s%d", i);
		s[i].cluster_ip = htonl(0x0a600000 + i);
		s[i].ports = &fx.ports[0];
		s[i].nports = 1;
		e[2 * i] = (struct berth_endpoint){ .ip = htonl(0x0af40000 + i),
						    .port = 8080 };
		e[2 * i + 1] =
			(struct berth_endpoint){ .ip = htonl(0x0af50000 + i),
						 .port = 8080 };
		s[i].endpoints = &e[2 * i];
		s[i].nendpoints = 2;
	}
	free(fx.text);
	fx.text = NULL;
	cr_assert_eq(berth_ipt_render(fx.r, &fx.cfg, &set, false, NULL, 0,
				      &fx.text, &fx.st),
		     0);
	for (char *l = fx.text; (l = strstr(l, "\n:BERTH-")); l++) {
		svc += !strncmp(l + 2, "BERTH-SVC-", 10);
		sep += !strncmp(l + 2, "BERTH-SEP-", 10);
	}
	cr_assert_eq(svc, N);
	cr_assert_eq(sep, 2 * N);
	cr_assert_eq(fx.st.chains, 3 * N + 7);
	/* N dispatch + 7 fixed, 2 per SVC chain, 2 per SEP chain */
	cr_assert_eq(fx.st.rules, N + 7 + 2 * N + 2 * 2 * N, "rules: %zu",
		     fx.st.rules);
	berth_ipt_render_done(fx.r, true);
	render(false, NULL, 0); /* back to the 4 fixture Services */
	cr_assert_eq(fx.st.deleted, 3 * N, "every bench chain deleted");
	free(s);
	free(e);
}

static int kchain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct berth_ipt_kchain *)a)->name,
		      ((const struct berth_ipt_kchain *)b)->name);
}

/* The periodic check: a chain flushed or a rule deleted behind our back
 * (the kernel's count differs) and a chain deleted are rewritten, nothing
 * else. */
Test(ipt_render, verify_rewrites_what_the_kernel_lost)
{
	struct berth_ipt_kchain kernel[16];
	size_t n = 0;
	char *l;

	render(false, NULL, 0);
	berth_ipt_render_done(fx.r, true);
	/* what the kernel holds: every nat chain as written, from the text */
	for (l = fx.text; (l = strstr(l, "\n:BERTH-")) && n < 16; l++) {
		size_t len = strcspn(l + 2, " ");
		char pat[3 * BERTH_IPT_CHAIN_MAX];
		unsigned int rules = 0;

		snprintf(kernel[n].name, sizeof(kernel[n].name), "%.*s",
			 (int)len, l + 2);
		snprintf(pat, sizeof(pat), "\n-A %.28s ", kernel[n].name);
		for (char *p = fx.text;
		     (p = strstr(p, pat)) && p < strstr(fx.text, "*filter");
		     p++)
			rules++;
		kernel[n++].rules = rules;
		if (strstr(l + 1, "*filter") < strstr(l + 1, "\n:BERTH-"))
			break; /* nat only */
	}
	qsort(kernel, n, sizeof(*kernel), kchain_cmp);
	cr_assert_eq(berth_ipt_render_verify(fx.r, kernel, n), 0,
		     "the kernel as written: nothing to repair");
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kernel[i].name, "BERTH-SVC-CDGGSHYLG3RE2FKL"))
			kernel[i].rules = 0; /* flushed */
		if (!strcmp(kernel[i].name, "BERTH-SEP-3CZWYBS4BSICPEZG"))
			kernel[i].rules--; /* one rule deleted */
	}
	cr_assert_eq(berth_ipt_render_verify(fx.r, kernel, n), 2);
	render(false, kernel, n);
	cr_assert_eq(fx.st.written, 7 + 2, "dispatch + the two repaired");
	cr_assert_not_null(
		strstr(fx.text, ":BERTH-SVC-CDGGSHYLG3RE2FKL - [0:0]\n"));
	cr_assert_not_null(
		strstr(fx.text, ":BERTH-SEP-3CZWYBS4BSICPEZG - [0:0]\n"));
	cr_assert_eq(fx.st.deleted, 0);
}
