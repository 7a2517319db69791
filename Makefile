# berth: one entry point. `make help` lists the targets.
OUTPUT := .output
CLANG ?= clang
CC ?= gcc
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	  -Iinclude -I$(OUTPUT) -I/usr/include/libnl3 -MMD -MP
ifeq ($(ASAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS := -lbpf -lelf -lz -lyaml -lm
BPF_CFLAGS := -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -I$(OUTPUT) -Iinclude -Ibpf -MMD -MP

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/skel/%.skel.h,$(BPF_SRCS))

LIB_SRCS := $(wildcard userspace/lib/*.c)
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))
LIB := $(OUTPUT)/libberth.a

AGENT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard userspace/agent/*.c))
# the agent's modules without main(), for tests/agent
AGENT_MOD_OBJS := $(filter-out %/agent/main.o,$(AGENT_OBJS))
AGENT_LDLIBS := -larchive -lcurl -ljson-c -lnl-route-3 -lnl-3 -lmicrohttpd -lpthread
AGENT_LDLIBS += -lgnutls # the node certificate's key and CSR (nodecert.c)
AGENTT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard tests/agent/*.c))
# berth-cni: the CNI plugin
CNI_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard cni/*.c))
CNI_LDLIBS := -lnl-route-3 -lnl-3 -ljson-c
# the plugin's modules without main(), for tests/agent (test_cni*.c)
CNI_MOD_OBJS := $(filter-out %/cni/main.o,$(CNI_OBJS))
CTL_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard userspace/ctl/*.c))
UNIT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard tests/unit/*.c))
BPFT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard tests/bpf/*.c))
BENCH_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard bench/*.c))
# policy-bench: the datapath and the agent's policy modules
POLICY_BENCH_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard bench/policy/*.c))
# connlat: bench/dataplanes.py's connection set-up client and echo server,
# a program of its own (not part of lb-bench)
BENCH_OBJS := $(filter-out $(OUTPUT)/obj/bench/connlat.o,$(BENCH_OBJS))

# berth-server's store, one library for both backends (SQLite, etcd)
STORE_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard control/store/*.c))
STORE_LIB := $(OUTPUT)/libberth-store.a
STORE_LDLIBS := -lsqlite3 -lcurl -ljson-c -lpthread
# the shared store suite, linked once per backend with that backend's fixture
STORET_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard tests/store/test_*.c))

# berth-server: the API server (control/apiserver) over the store
SERVER_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard control/*.c control/apiserver/*.c \
		 control/controllers/*.c control/scheduler/*.c))
SERVER_LDLIBS := -lmicrohttpd -lgnutls $(STORE_LDLIBS)

BINS := $(OUTPUT)/bin/berth-agent $(OUTPUT)/bin/berthctl
# the per-container shim on its own (the agent uses it when it sits next to it)
SHIM_OBJS := $(OUTPUT)/obj/userspace/shim/main.o $(OUTPUT)/obj/userspace/agent/podlogs.o \
	     $(OUTPUT)/obj/userspace/agent/rtfile.o
BINS += $(OUTPUT)/bin/berth-shim
ifneq ($(CNI_OBJS),)
BINS += $(OUTPUT)/bin/berth-cni
endif
ifneq ($(STORE_OBJS),)
BINS += $(OUTPUT)/bin/berth-server
endif
TESTS := $(OUTPUT)/tests/unit $(OUTPUT)/tests/bpf $(OUTPUT)/tests/route-loader
ifneq ($(AGENTT_OBJS),)
TESTS += $(OUTPUT)/tests/agent
endif
ifneq ($(STORET_OBJS),)
TESTS += $(OUTPUT)/tests/store-sqlite $(OUTPUT)/tests/store-etcd
endif

.PHONY: all bpf fuzz test test-unit test-bpf test-e2e test-api test-controllers test-node test-image bench demo demo-down vmtest install \
	clean format deps help vmtest-fallback
.DELETE_ON_ERROR:

all: $(BINS) $(TESTS) $(OUTPUT)/bin/lb-bench $(OUTPUT)/bin/policy-bench

help:
	@echo "make [all]   build everything into $(OUTPUT)/"
	@echo "make test    install deps, build, run unit, BPF and e2e tests"
	@echo "make bench   benchmarks, results in $(OUTPUT)/bench/"
	@echo "make demo    a 2-node berth cluster on this machine (make demo-down stops it)"
	@echo "make vmtest  BPF + e2e smoke tests in VMs (6.1, 6.12) and on the host"
	@echo "make install install binaries into \$$(DESTDIR)\$$(PREFIX)"
	@echo "make format  clang-format the sources"

deps:
	@scripts/deps.sh

# vmlinux.h only changes when the running kernel's BTF does.
$(OUTPUT)/vmlinux.h: /sys/kernel/btf/vmlinux | $(OUTPUT)
	$(BPFTOOL) btf dump file $< format c > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/skel/%.skel.h: $(OUTPUT)/bpf/%.bpf.o | $(OUTPUT)/skel
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

bpf: $(SKELS)

# Skeletons exist before any userspace object is compiled; -MMD records
# which objects include which.
$(OUTPUT)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(OUTPUT)/bin/berth-agent: $(AGENT_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ $(AGENT_LDLIBS) $(LDLIBS) -o $@

$(OUTPUT)/bin/berth-shim: $(SHIM_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ -ljson-c -o $@

$(OUTPUT)/bin/berth-cni: $(CNI_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ $(CNI_LDLIBS) $(LDLIBS) -o $@

# criterion tests of the agent's modules (image store, bundles, ...)
$(OUTPUT)/tests/agent: $(AGENTT_OBJS) $(AGENT_MOD_OBJS) $(CNI_MOD_OBJS) $(LIB) | $(OUTPUT)/tests
	$(CC) $(LDFLAGS) $^ $(AGENT_LDLIBS) $(LDLIBS) -lcriterion -o $@

$(OUTPUT)/bin/berthctl: $(CTL_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ -lcurl -ljson-c -lpthread $(LDLIBS) -o $@

# berthctl completion bash prints completion.bash, compiled in as a string
$(OUTPUT)/ctl/completion.inc: userspace/ctl/completion.bash
	@mkdir -p $(@D)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(OUTPUT)/obj/userspace/ctl/completion.o: $(OUTPUT)/ctl/completion.inc

$(OUTPUT)/bin/lb-bench: $(BENCH_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

all: $(OUTPUT)/bin/connlat
$(OUTPUT)/bin/connlat: $(OUTPUT)/obj/bench/connlat.o | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ -o $@

$(OUTPUT)/bin/policy-bench: $(POLICY_BENCH_OBJS) $(AGENT_MOD_OBJS) $(CNI_MOD_OBJS) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ $(AGENT_LDLIBS) $(LDLIBS) -o $@

# the server's JWT module is tested here too (tests/unit/test_satoken.c)
UNIT_SERVER_OBJS := $(OUTPUT)/obj/control/apiserver/satoken.o \
		    $(OUTPUT)/obj/control/apiserver/jsonutil.o
# and encryption at rest (tests/unit/test_encrypt.c)
UNIT_SERVER_OBJS += $(OUTPUT)/obj/control/apiserver/encrypt.o \
		    $(OUTPUT)/obj/control/apiserver/yaml.o
$(OUTPUT)/tests/unit: $(UNIT_OBJS) $(UNIT_SERVER_OBJS) $(LIB) | $(OUTPUT)/tests
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lgnutls -ljson-c -lcriterion -o $@

$(OUTPUT)/tests/bpf: $(BPFT_OBJS) $(LIB) | $(OUTPUT)/tests
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcriterion -o $@

# a node's datapath without an agent, for tests/bpf/route_netns.sh
$(OUTPUT)/tests/route-loader: $(OUTPUT)/obj/tests/bpf/loader/route_loader.o $(LIB) | $(OUTPUT)/tests
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/bin/berth-server: $(SERVER_OBJS) $(STORE_LIB) $(LIB) | $(OUTPUT)/bin
	$(CC) $(LDFLAGS) $^ $(SERVER_LDLIBS) $(LDLIBS) -o $@

$(STORE_LIB): $(STORE_OBJS)
	$(AR) rcs $@ $^

$(OUTPUT)/tests/store-%: $(STORET_OBJS) $(OUTPUT)/obj/tests/store/fixture_%.o \
		$(STORE_LIB) $(LIB) | $(OUTPUT)/tests
	$(CC) $(LDFLAGS) $^ $(STORE_LDLIBS) $(LDLIBS) -lcriterion -o $@

# libFuzzer targets (tests/fuzz/fuzz_<name>.c), each with the sources it
# exercises built again with clang and the fuzzer's sanitizers: the API
# server's decode path and PATCH engines, berth-cni's config parsing, the
# image store's manifest/config parsers.
FUZZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Werror \
	       -Wno-missing-field-initializers -Iinclude -I$(OUTPUT) -MMD -MP \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -fno-omit-frame-pointer
FUZZ_TARGETS := decode smp cni_config manifest
FUZZ_BINS := $(addprefix $(OUTPUT)/fuzz/fuzz_,$(FUZZ_TARGETS))
fuzzobj = $(patsubst %.c,$(OUTPUT)/fuzz/obj/%.o,$(1))
FUZZ_SERVER_OBJS := $(call fuzzobj,$(wildcard control/apiserver/*.c))
FUZZ_CNI_OBJS := $(call fuzzobj,cni/config.c cni/result.c)
FUZZ_IMAGE_OBJS := $(call fuzzobj,$(addprefix userspace/agent/,\
		   image_manifest.c image_sha256.c layer.c))

$(OUTPUT)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(OUTPUT)/fuzz/fuzz_decode $(OUTPUT)/fuzz/fuzz_smp: $(OUTPUT)/fuzz/fuzz_%: \
		$(OUTPUT)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_SERVER_OBJS) \
		$(STORE_LIB) $(LIB)
	$(CLANG) -fsanitize=fuzzer,address,undefined $^ $(SERVER_LDLIBS) \
		$(LDLIBS) -o $@

$(OUTPUT)/fuzz/fuzz_cni_config: $(OUTPUT)/fuzz/obj/tests/fuzz/fuzz_cni_config.o \
		$(FUZZ_CNI_OBJS)
	$(CLANG) -fsanitize=fuzzer,address,undefined $^ -ljson-c -o $@

$(OUTPUT)/fuzz/fuzz_manifest: $(OUTPUT)/fuzz/obj/tests/fuzz/fuzz_manifest.o \
		$(FUZZ_IMAGE_OBJS) $(LIB)
	$(CLANG) -fsanitize=fuzzer,address,undefined $^ -larchive -ljson-c \
		$(LDLIBS) -o $@

all: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/skel $(OUTPUT)/bin $(OUTPUT)/tests:
	@mkdir -p $@

test: deps
	@$(MAKE) --no-print-directory all test-image
	@scripts/run-tests.sh

test-unit: $(OUTPUT)/tests/unit
	$(OUTPUT)/tests/unit

test-bpf: $(OUTPUT)/tests/bpf
	$(OUTPUT)/tests/bpf

test-e2e: $(BINS)
	tests/e2e/run.sh

test-api: $(OUTPUT)/bin/berth-server
	tests/api/run.sh

test-controllers: $(OUTPUT)/bin/berth-server
	tests/controllers/run.sh

test-node: all test-image
	tests/node/run.sh

# A small OCI image (busybox-static) for the node tests, as an OCI layout.
test-image: $(OUTPUT)/images/busybox/index.json

$(OUTPUT)/images/busybox/index.json: scripts/mkimage.sh
	scripts/mkimage.sh $(OUTPUT)/images/busybox

bench: deps
	@$(MAKE) --no-print-directory all
	bench/lb.sh
	bench/policy.sh
	bench/api.sh
	bench/dataplanes.py
	bench/sched.sh
	@$(MAKE) --no-print-directory test-image
	bench/pods.py
	bench/net.py

# A two-node cluster in network namespaces, left running; demo-down removes it.
demo: deps
	@$(MAKE) --no-print-directory all test-image
	scripts/demo.py up

demo-down:
	scripts/demo.py down

# The BPF suite and the e2e smoke test on kernels 6.1 and 6.12 (QEMU VMs)
# and the host; VMTEST_ARGS go to vmtest/run (e.g. --kernel 6.1 --no-host).
vmtest: deps
	@$(MAKE) --no-print-directory all
	vmtest/selftest.sh --quick
	vmtest/run $(VMTEST_ARGS)

# vmtest's fallback boot (qemu + busybox initramfs, no virtme-ng) on 6.1.
vmtest-fallback: deps
	@$(MAKE) --no-print-directory all
	vmtest/test-fallback.sh

PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
CNI_BIN_DIR ?= /opt/cni/bin
CNI_CONF_DIR ?= /etc/cni/net.d
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(filter-out %/berth-cni,$(BINS)) $(DESTDIR)$(PREFIX)/bin/
	if [ -x $(OUTPUT)/bin/berth-cni ]; then \
		install -d $(DESTDIR)$(CNI_BIN_DIR) $(DESTDIR)$(CNI_CONF_DIR) && \
		install -m 0755 $(OUTPUT)/bin/berth-cni $(DESTDIR)$(CNI_BIN_DIR)/ && \
		install -m 0644 cni/10-berth.conflist $(DESTDIR)$(CNI_CONF_DIR)/; \
	fi
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)/etc/default $(DESTDIR)$(PREFIX)/share/doc/berth
	for f in dist/systemd/*.service; do \
		sed 's|/usr/local/|$(PREFIX)/|g' $$f >$(DESTDIR)$(SYSTEMD_UNIT_DIR)/$${f##*/} && \
		chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$${f##*/}; \
	done
	for f in dist/default/*; do \
		[ -e $(DESTDIR)/etc/default/$${f##*/} ] || install -m 0644 $$f $(DESTDIR)/etc/default/; \
	done
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/berth/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(OUTPUT)

-include $(shell find $(OUTPUT)/obj $(OUTPUT)/bpf $(OUTPUT)/fuzz -name '*.d' -type f 2>/dev/null)
