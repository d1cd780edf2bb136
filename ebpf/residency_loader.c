/* SPDX-License-Identifier: BSD-3-Clause */
/* The residency program's loader: see include/faii/residency_loader.h. */
#include "faii/residency_loader.h"
#include "faii/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include "residency.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The kernel keeps 15 bytes of a program's name: both entry points start so. */
#define PROG_NAME_PREFIX "faii_residency"

/* A sync pins the new generation under these names first, then renames them
 * over the current pins, so a reader of a pin sees one generation or the other.
 * (bpffs refuses names with a dot.) */
#define SYNC_PREFIX "next_"

/* An interface can hold at most one XDP program per mode and our one filter. */
#define ATTACHMENTS_MAX 1024u

/* The generation-specific pins, renamed together by a sync, then the shared ones. */
static const char *const all_pins[] = {
        FAII_RES_PIN_NODES, FAII_RES_PIN_CLASSES,  FAII_RES_PIN_PORTS, FAII_RES_PIN_XDP,
        FAII_RES_PIN_TC,    FAII_RES_PIN_COUNTERS, FAII_RES_PIN_EVENTS};
#define GENERATION_PINS 5u /* the first five of all_pins */

/* Node ports faii-residency show lists before it abbreviates. */
#define SHOW_PORTS_MAX 32u

const char *faii_res_counter_name(unsigned slot)
{
	return slot < FAII_RES_COUNTER_SLOTS ? faii_residency_counter_name(slot) : NULL;
}

__attribute__((format(printf, 2, 3))) static int fail(char err[FAII_RES_ERR_LEN], const char *fmt,
                                                      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, FAII_RES_ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

/* libbpf explains a failed load or attach at warning level; the rest is noise. */
static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static int pin_path(char out[PATH_MAX], const char *dir, const char *prefix, const char *name,
                    char err[FAII_RES_ERR_LEN])
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, prefix, name);
	if (n < 0 || n >= PATH_MAX)
		return fail(err, "%s: pin path too long", dir);
	return 0;
}

/* The pinned object DIR/name, or -1 with errno (ENOENT: not pinned). */
static int open_pin(const char *dir, const char *name)
{
	char path[PATH_MAX];
	char ignored[FAII_RES_ERR_LEN];
	if (pin_path(path, dir, "", name, ignored) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return bpf_obj_get(path);
}

static int open_pin_or_fail(const char *dir, const char *name, char err[FAII_RES_ERR_LEN])
{
	int fd = open_pin(dir, name);
	if (fd < 0) {
		if (errno == ENOENT)
			return fail(err, "%s/%s: not pinned (run faii-residency load first)", dir,
			            name);
		return fail(err, "%s/%s: %s", dir, name, strerror(errno));
	}
	return fd;
}

/* mkdir -p: the pin directory may be nested below the bpffs mount point. */
static int make_dirs(const char *dir, char err[FAII_RES_ERR_LEN])
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path))
		return fail(err, "pin directory: expected a path of 1..%d bytes", PATH_MAX - 1);
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return fail(err, "%s: cannot create: %s", path, strerror(errno));
		path[i] = c;
	}
	return 0;
}

/*
 * Opens DIR (creating it when asked), checks that it is on a bpffs, and
 * takes an exclusive flock on it for the rest of the call: two loaders never
 * interleave a sync with an attach, which could otherwise attach a program
 * that the sync has just retired.
 */
static int lock_pin_dir(const char *dir, bool create, char err[FAII_RES_ERR_LEN])
{
	if (create && make_dirs(dir, err) != 0)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, "%s: %s%s", dir, strerror(errno),
		            errno == ENOENT ? " (nothing loaded there)" : "");
	struct statfs st;
	if (fstatfs(fd, &st) != 0 || st.f_type != BPF_FS_MAGIC) {
		close(fd);
		return fail(err, "%s: not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)", dir);
	}
	if (flock(fd, LOCK_EX) != 0) {
		int e = errno;
		close(fd);
		return fail(err, "%s: cannot lock: %s", dir, strerror(e));
	}
	return fd;
}

static void unlock_pin_dir(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info;
	return fd >= 0 && prog_info(fd, &info) == 0 ? info.id : 0;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

/* Any generation of the residency program, by its (kernel-truncated) name. */
static bool is_residency_prog(uint32_t id)
{
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	struct bpf_prog_info info;
	bool ours = prog_info(fd, &info) == 0 &&
	            strncmp(info.name, PROG_NAME_PREFIX, strlen(PROG_NAME_PREFIX)) == 0;
	close(fd);
	return ours;
}

/* ------------------------------------------------------------------------ */
/* Generations: one program pair with its own policy maps.                 */

/*
 * Opens and loads the object with the appliance's UDP port. The counters and the ring
 * buffer of the pinned generation (fds >= 0) are reused, so that counts and
 * unread refusals survive a policy change and faiid's audit reader, which
 * holds the ring buffer open, keeps reading the refusals of every generation.
 */
static struct faii_residency *generation_load(uint16_t udp_port, int counters_fd, int events_fd,
                                              char err[FAII_RES_ERR_LEN])
{
	libbpf_set_print(print_warnings);
	struct faii_residency *skel = faii_residency__open();
	if (skel == NULL) {
		fail(err, "cannot open the residency object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->faii_udp_port = udp_port;
	int rc = 0;
	if (counters_fd >= 0)
		rc = bpf_map__reuse_fd(skel->maps.faii_res_counters, counters_fd);
	if (rc == 0 && events_fd >= 0)
		rc = bpf_map__reuse_fd(skel->maps.faii_res_events, events_fd);
	if (rc != 0) {
		fail(err, "cannot reuse the pinned counters and ring buffer: %s", strerror(-rc));
		faii_residency__destroy(skel);
		return NULL;
	}
	rc = faii_residency__load(skel);
	if (rc != 0) {
		fail(err, "cannot load the residency program: %s%s", strerror(-rc),
		     rc == -EINVAL  ? " (pinned maps of another object version? unload first)"
		     : rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)"
		                    : "");
		faii_residency__destroy(skel);
		return NULL;
	}
	return skel;
}

/* node id -> jurisdiction index, one batch. */
static int fill_nodes(struct faii_residency *skel, const struct faii_res_policy *policy,
                      char err[FAII_RES_ERR_LEN])
{
	static uint32_t keys[FAII_RES_NODES_MAX];
	static struct faii_res_node values[FAII_RES_NODES_MAX];
	LIBBPF_OPTS(bpf_map_batch_opts, batch, .elem_flags = BPF_ANY);
	uint32_t count = policy->node_count;
	FAII_ASSERT(count <= FAII_RES_NODES_MAX); /* the policy's builder bounds it */
	for (uint32_t i = 0; i < count; i++) {
		FAII_ASSERT(policy->nodes[i].node_id != 0 && policy->nodes[i].jurisdiction < 64);
		keys[i] = policy->nodes[i].node_id;
		values[i] = (struct faii_res_node){.jurisdiction = policy->nodes[i].jurisdiction};
	}
	if (count > 0 && bpf_map_update_batch(bpf_map__fd(skel->maps.faii_res_nodes), keys, values,
	                                      &count, &batch) != 0)
		return fail(err, "faii_res_nodes: batch update of %u nodes: %s", policy->node_count,
		            strerror(errno));
	FAII_ASSERT(count == policy->node_count); /* a batch that returns 0 took every entry */
	return 0;
}

/* Every entry of an ARRAY map (keys 0..n-1) from values, one batch. */
static int fill_array(struct bpf_map *map, const void *values, uint32_t n,
                      char err[FAII_RES_ERR_LEN])
{
	static uint32_t keys[FAII_RES_PORT_WORDS];
	LIBBPF_OPTS(bpf_map_batch_opts, batch, .elem_flags = BPF_ANY);
	if (n > FAII_RES_PORT_WORDS)
		return fail(err, "%s: %u entries, at most %u", bpf_map__name(map), n,
		            FAII_RES_PORT_WORDS);
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	uint32_t count = n;
	if (bpf_map_update_batch(bpf_map__fd(map), keys, values, &count, &batch) != 0)
		return fail(err, "%s: batch update: %s", bpf_map__name(map), strerror(errno));
	FAII_ASSERT(count == n);
	return 0;
}

/*
 * Writes the policy into the generation's maps, which no program can see
 * yet: node id -> jurisdiction index for every node, for every class id 0..63
 * its allowed set and whether it exists, and the node ports' bitmap.
 */
static int generation_fill(struct faii_residency *skel, const struct faii_res_policy *policy,
                           struct faii_res_sync_report *report, char err[FAII_RES_ERR_LEN])
{
	_Static_assert(FAII_RES_CLASSES_MAX <= FAII_RES_PORT_WORDS, "fill_array's keys");
	FAII_ASSERT(policy->port_count <= FAII_RES_PORTS);
	FAII_ASSERT(!policy->classes[0].defined); /* class ids start at 1 */
	if (fill_nodes(skel, policy, err) != 0 ||
	    fill_array(skel->maps.faii_res_classes, policy->classes, FAII_RES_CLASSES_MAX, err) !=
	            0 ||
	    fill_array(skel->maps.faii_res_ports, policy->ports, FAII_RES_PORT_WORDS, err) != 0)
		return -1;
	if (report) {
		report->nodes = policy->node_count;
		report->classes = 0;
		for (uint32_t id = 0; id < FAII_RES_CLASSES_MAX; id++)
			report->classes += policy->classes[id].defined != 0;
		report->ports = policy->port_count;
	}
	return 0;
}

/* The generation's maps and programs, pinned as DIR/<prefix><name>. */
static int generation_pin(struct faii_residency *skel, const char *dir, const char *prefix,
                          bool shared_too, char err[FAII_RES_ERR_LEN])
{
	struct {
		const char *name;
		struct bpf_map *map;
		struct bpf_program *prog;
	} pins[] = {
	        {FAII_RES_PIN_NODES, skel->maps.faii_res_nodes, NULL},
	        {FAII_RES_PIN_CLASSES, skel->maps.faii_res_classes, NULL},
	        {FAII_RES_PIN_PORTS, skel->maps.faii_res_ports, NULL},
	        {FAII_RES_PIN_XDP, NULL, skel->progs.faii_residency_xdp},
	        {FAII_RES_PIN_TC, NULL, skel->progs.faii_residency_tc},
	        {FAII_RES_PIN_COUNTERS, skel->maps.faii_res_counters, NULL},
	        {FAII_RES_PIN_EVENTS, skel->maps.faii_res_events, NULL},
	};
	_Static_assert(ARRAY_SIZE(pins) == ARRAY_SIZE(all_pins), "every pin");
	size_t n = shared_too ? ARRAY_SIZE(pins) : GENERATION_PINS;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		if (pin_path(path, dir, prefix, pins[i].name, err) != 0)
			return -1;
		int rc = pins[i].map ? bpf_map__pin(pins[i].map, path)
		                     : bpf_program__pin(pins[i].prog, path);
		if (rc != 0)
			return fail(err, "%s: cannot pin: %s", path, strerror(-rc));
	}
	return 0;
}

static void unpin_all(const char *dir, const char *prefix)
{
	for (size_t i = 0; i < ARRAY_SIZE(all_pins); i++) {
		char path[PATH_MAX];
		char ignored[FAII_RES_ERR_LEN];
		if (pin_path(path, dir, prefix, all_pins[i], ignored) == 0)
			unlink(path);
	}
}

/* ------------------------------------------------------------------------ */
/* Attachments in this network namespace.                                   */

struct attachment {
	unsigned ifindex;
	char ifname[IF_NAMESIZE];
	bool tc;            /* TC egress filter; otherwise XDP */
	uint32_t xdp_flags; /* XDP: the mode it was attached in */
	uint32_t prog_id;
};

/* Which program ids a scan reports: one id, or any residency program. */
struct match {
	uint32_t xdp_id, tc_id;
	bool any_residency;
};

static bool matches(const struct match *m, uint32_t id, bool tc)
{
	if (id == 0)
		return false;
	if (m->any_residency)
		return is_residency_prog(id);
	return id == (tc ? m->tc_id : m->xdp_id);
}

static void tc_hook_init(struct bpf_tc_hook *hook, unsigned ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = (int)ifindex;
	hook->attach_point = BPF_TC_EGRESS;
}

/* Our TC egress filter's program id on ifindex, 0 when there is none. */
static uint32_t tc_prog_id(unsigned ifindex)
{
	struct bpf_tc_hook hook;
	tc_hook_init(&hook, ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FAII_RES_TC_HANDLE,
	            .priority = FAII_RES_TC_PRIORITY);
	/* Most interfaces have no clsact qdisc: that is an answer, not a warning. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int rc = bpf_tc_query(&hook, &opts);
	libbpf_set_print(print);
	return rc == 0 ? opts.prog_id : 0;
}

/* Appends the attachments on one interface that m matches. */
static size_t scan_interface(unsigned ifindex, const char *ifname, const struct match *m,
                             struct attachment *out, size_t n)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct attachment a = {.ifindex = ifindex};
	snprintf(a.ifname, sizeof(a.ifname), "%s", ifname);
	if (bpf_xdp_query((int)ifindex, 0, &q) == 0) {
		const struct {
			uint32_t id, flags;
		} modes[] = {{q.drv_prog_id, XDP_FLAGS_DRV_MODE},
		             {q.skb_prog_id, XDP_FLAGS_SKB_MODE},
		             {q.hw_prog_id, XDP_FLAGS_HW_MODE}};
		for (size_t i = 0; i < ARRAY_SIZE(modes) && n < ATTACHMENTS_MAX; i++) {
			if (!matches(m, modes[i].id, false))
				continue;
			a.tc = false;
			a.xdp_flags = modes[i].flags;
			a.prog_id = modes[i].id;
			out[n++] = a;
		}
	}
	uint32_t id = tc_prog_id(ifindex);
	if (matches(m, id, true) && n < ATTACHMENTS_MAX) {
		a.tc = true;
		a.xdp_flags = 0;
		a.prog_id = id;
		out[n++] = a;
	}
	return n;
}

/* Every interface of this namespace (ifname NULL) or one. */
static int scan(const char *ifname, const struct match *m, struct attachment *out, size_t *count,
                char err[FAII_RES_ERR_LEN])
{
	*count = 0;
	if (ifname) {
		unsigned ifindex = if_nametoindex(ifname);
		if (ifindex == 0)
			return fail(err, "%s: no such interface", ifname);
		*count = scan_interface(ifindex, ifname, m, out, 0);
		return 0;
	}
	struct if_nameindex *ifs = if_nameindex();
	if (ifs == NULL)
		return fail(err, "cannot list interfaces: %s", strerror(errno));
	size_t n = 0;
	for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
		n = scan_interface(i->if_index, i->if_name, m, out, n);
	if_freenameindex(ifs);
	*count = n;
	return 0;
}

/* Moves one attachment from old_fd to new_fd, in one atomic step each. */
static int replace(const struct attachment *a, int old_fd, int new_fd, char err[FAII_RES_ERR_LEN])
{
	if (a->tc) {
		struct bpf_tc_hook hook;
		tc_hook_init(&hook, a->ifindex);
		/* cls_bpf swaps the filter's program with list_replace_rcu(). */
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FAII_RES_TC_HANDLE,
		            .priority = FAII_RES_TC_PRIORITY, .prog_fd = new_fd,
		            .flags = BPF_TC_F_REPLACE);
		int rc = bpf_tc_attach(&hook, &opts);
		if (rc != 0)
			return fail(err, "%s: TC egress: cannot replace the program: %s", a->ifname,
			            strerror(-rc));
		return 0;
	}
	/* Compare-and-swap: fails if someone else replaced the program meanwhile. */
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	int rc = bpf_xdp_attach((int)a->ifindex, new_fd, XDP_FLAGS_REPLACE | a->xdp_flags, &opts);
	if (rc != 0)
		return fail(err, "%s: XDP: cannot replace the program: %s", a->ifname,
		            strerror(-rc));
	return 0;
}

static int detach_one(const struct attachment *a, char err[FAII_RES_ERR_LEN])
{
	if (a->tc) {
		struct bpf_tc_hook hook;
		tc_hook_init(&hook, a->ifindex);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FAII_RES_TC_HANDLE,
		            .priority = FAII_RES_TC_PRIORITY);
		int rc = bpf_tc_detach(&hook, &opts);
		if (rc != 0 && rc != -ENOENT)
			return fail(err, "%s: TC egress: cannot detach: %s", a->ifname,
			            strerror(-rc));
		return 0;
	}
	int old_fd = bpf_prog_get_fd_by_id(a->prog_id);
	if (old_fd < 0)
		return 0; /* gone meanwhile */
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	int rc = bpf_xdp_attach((int)a->ifindex, -1, XDP_FLAGS_REPLACE | a->xdp_flags, &opts);
	close(old_fd);
	if (rc != 0)
		return fail(err, "%s: XDP: cannot detach: %s", a->ifname, strerror(-rc));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Commands.                                                                */

static int pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];
	char ignored[FAII_RES_ERR_LEN];
	struct stat st;
	return pin_path(path, dir, "", name, ignored) == 0 && lstat(path, &st) == 0;
}

/* A first generation, pinned under the final names; the caller holds the lock. */
static int load_locked(const struct faii_res_policy *policy, uint16_t udp_port, const char *dir,
                       struct faii_res_sync_report *report, char err[FAII_RES_ERR_LEN])
{
	for (size_t i = 0; i < ARRAY_SIZE(all_pins); i++) {
		if (pinned(dir, all_pins[i]))
			return fail(err,
			            "%s/%s is already pinned: use sync to change the policy, or "
			            "unload first",
			            dir, all_pins[i]);
	}
	struct faii_residency *skel = generation_load(udp_port, -1, -1, err);
	if (skel == NULL)
		return -1;
	int rc = generation_fill(skel, policy, report, err);
	if (rc == 0)
		rc = generation_pin(skel, dir, "", true, err);
	if (rc != 0)
		unpin_all(dir, "");
	faii_residency__destroy(skel); /* the pins keep maps and programs alive */
	if (rc == 0 && report)
		report->first_load = true;
	return rc;
}

/* The policy of cfg, built by the builder faiid uses; NULL with err set. */
static struct faii_res_policy *policy_of(const struct faii_config *cfg, char err[FAII_RES_ERR_LEN])
{
	struct faii_res_policy *policy = malloc(sizeof(*policy));
	char cfg_err[FAII_CFG_ERR_LEN];
	if (policy == NULL) {
		fail(err, "out of memory for the residency policy");
		return NULL;
	}
	if (faii_res_policy_from_config(cfg, policy, cfg_err) != 0) {
		fail(err, "%s", cfg_err);
		free(policy);
		return NULL;
	}
	return policy;
}

int faii_res_load(const struct faii_config *cfg, const char *pin_dir, char err[FAII_RES_ERR_LEN])
{
	struct faii_res_policy *policy = policy_of(cfg, err);
	if (policy == NULL)
		return -1;
	int rc = -1;
	int lock = lock_pin_dir(pin_dir, true, err);
	if (lock >= 0)
		rc = load_locked(policy, cfg->appliance.udp_port, pin_dir, NULL, err);
	unlock_pin_dir(lock);
	free(policy);
	return rc;
}

static int sync_locked(const struct faii_res_policy *policy, uint16_t udp_port, const char *dir,
                       struct faii_res_sync_report *report, char err[FAII_RES_ERR_LEN])
{
	/* Leftovers of a sync that died before its renames were never in use. */
	unpin_all(dir, SYNC_PREFIX);
	if (!pinned(dir, FAII_RES_PIN_COUNTERS) && !pinned(dir, FAII_RES_PIN_EVENTS) &&
	    !pinned(dir, FAII_RES_PIN_XDP) && !pinned(dir, FAII_RES_PIN_TC))
		return load_locked(policy, udp_port, dir, report, err);

	int rc = -1;
	int counters_fd = -1, events_fd = -1, old_fd[2] = {-1, -1}, new_fd[2];
	struct faii_residency *skel = NULL;
	struct attachment *found = calloc(ATTACHMENTS_MAX, sizeof(*found));
	size_t nfound = 0, nswapped = 0;
	if (found == NULL)
		return fail(err, "out of memory");

	if ((counters_fd = open_pin_or_fail(dir, FAII_RES_PIN_COUNTERS, err)) < 0 ||
	    (events_fd = open_pin_or_fail(dir, FAII_RES_PIN_EVENTS, err)) < 0 ||
	    (old_fd[0] = open_pin_or_fail(dir, FAII_RES_PIN_XDP, err)) < 0 ||
	    (old_fd[1] = open_pin_or_fail(dir, FAII_RES_PIN_TC, err)) < 0)
		goto out;
	skel = generation_load(udp_port, counters_fd, events_fd, err);
	if (skel == NULL || generation_fill(skel, policy, report, err) != 0 ||
	    generation_pin(skel, dir, SYNC_PREFIX, false, err) != 0)
		goto out;
	new_fd[0] = bpf_program__fd(skel->progs.faii_residency_xdp);
	new_fd[1] = bpf_program__fd(skel->progs.faii_residency_tc);

	/* The new maps are complete: only now may packets reach them. */
	struct match m = {.xdp_id = prog_id(old_fd[0]), .tc_id = prog_id(old_fd[1])};
	if (scan(NULL, &m, found, &nfound, err) != 0)
		goto out;
	for (nswapped = 0; nswapped < nfound; nswapped++) {
		const struct attachment *a = &found[nswapped];
		if (replace(a, old_fd[a->tc], new_fd[a->tc], err) != 0)
			goto rollback;
		if (report) {
			if (a->tc)
				report->tc_swapped++;
			else
				report->xdp_swapped++;
		}
	}
	for (size_t i = 0; i < GENERATION_PINS; i++) {
		char from[PATH_MAX], to[PATH_MAX];
		if (pin_path(from, dir, SYNC_PREFIX, all_pins[i], err) != 0 ||
		    pin_path(to, dir, "", all_pins[i], err) != 0)
			goto out;
		/* rename(2) over the old pin: readers of the path see old or new. */
		if (rename(from, to) != 0) {
			fail(err, "%s -> %s: %s (the attachments already run the new policy)", from,
			     to, strerror(errno));
			goto out;
		}
	}
	if (report)
		report->first_load = false;
	rc = 0;
	goto out;

rollback:
	/* Back to one policy everywhere: the old one, which is still pinned. */
	for (size_t i = nswapped; i-- > 0;) {
		char ignored[FAII_RES_ERR_LEN];
		replace(&found[i], new_fd[found[i].tc], old_fd[found[i].tc], ignored);
	}
	if (report)
		report->xdp_swapped = report->tc_swapped = 0;
out:
	if (rc != 0)
		unpin_all(dir, SYNC_PREFIX);
	faii_residency__destroy(skel);
	for (int i = 0; i < 2; i++) {
		if (old_fd[i] >= 0)
			close(old_fd[i]);
	}
	if (counters_fd >= 0)
		close(counters_fd);
	if (events_fd >= 0)
		close(events_fd);
	free(found);
	return rc;
}

int faii_res_sync_policy(const struct faii_res_policy *policy, uint16_t udp_port,
                         const char *pin_dir, struct faii_res_sync_report *report,
                         char err[FAII_RES_ERR_LEN])
{
	if (report)
		memset(report, 0, sizeof(*report));
	int lock = lock_pin_dir(pin_dir, true, err);
	if (lock < 0)
		return -1;
	int rc = sync_locked(policy, udp_port, pin_dir, report, err);
	unlock_pin_dir(lock);
	return rc;
}

int faii_res_sync(const struct faii_config *cfg, const char *pin_dir,
                  struct faii_res_sync_report *report, char err[FAII_RES_ERR_LEN])
{
	if (report)
		memset(report, 0, sizeof(*report));
	struct faii_res_policy *policy = policy_of(cfg, err);
	if (policy == NULL)
		return -1;
	int rc = faii_res_sync_policy(policy, cfg->appliance.udp_port, pin_dir, report, err);
	free(policy);
	return rc;
}

static int attach_locked(const char *dir, const char *ifname, bool tc, uint32_t xdp_flags,
                         char err[FAII_RES_ERR_LEN])
{
	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0)
		return fail(err, "%s: no such interface", ifname);
	int fd = open_pin_or_fail(dir, tc ? FAII_RES_PIN_TC : FAII_RES_PIN_XDP, err);
	if (fd < 0)
		return -1;
	uint32_t id = prog_id(fd);
	int rc;
	if (tc) {
		uint32_t present = tc_prog_id(ifindex);
		if (present == id) {
			close(fd);
			return 0;
		}
		struct bpf_tc_hook hook;
		tc_hook_init(&hook, ifindex);
		rc = bpf_tc_hook_create(&hook); /* the clsact qdisc */
		if (rc != 0 && rc != -EEXIST) {
			close(fd);
			return fail(err, "%s: cannot create the clsact qdisc: %s", ifname,
			            strerror(-rc));
		}
		/* A filter of an older generation (attached from elsewhere) is replaced. */
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FAII_RES_TC_HANDLE,
		            .priority = FAII_RES_TC_PRIORITY, .prog_fd = fd,
		            .flags = present ? BPF_TC_F_REPLACE : 0);
		rc = bpf_tc_attach(&hook, &opts);
		close(fd);
		if (rc != 0)
			return fail(err, "%s: cannot attach the TC egress filter: %s", ifname,
			            strerror(-rc));
		return 0;
	}
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query((int)ifindex, 0, &q) == 0 &&
	    (q.drv_prog_id == id || q.skb_prog_id == id)) {
		close(fd);
		return 0;
	}
	rc = bpf_xdp_attach((int)ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST | xdp_flags, NULL);
	close(fd);
	if (rc == -EBUSY || rc == -EEXIST)
		return fail(err, "%s: another XDP program is attached (detach it first)", ifname);
	if (rc != 0)
		return fail(err, "%s: cannot attach XDP%s: %s", ifname,
		            xdp_flags == XDP_FLAGS_DRV_MODE ? " in native mode" : "",
		            strerror(-rc));
	return 0;
}

int faii_res_attach_xdp(const char *pin_dir, const char *ifname, enum faii_res_xdp_mode mode,
                        char err[FAII_RES_ERR_LEN])
{
	uint32_t flags = mode == FAII_RES_XDP_NATIVE    ? XDP_FLAGS_DRV_MODE
	                 : mode == FAII_RES_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
	                                                : 0;
	int lock = lock_pin_dir(pin_dir, false, err);
	if (lock < 0)
		return -1;
	int rc = attach_locked(pin_dir, ifname, false, flags, err);
	unlock_pin_dir(lock);
	return rc;
}

int faii_res_attach_tc(const char *pin_dir, const char *ifname, char err[FAII_RES_ERR_LEN])
{
	int lock = lock_pin_dir(pin_dir, false, err);
	if (lock < 0)
		return -1;
	int rc = attach_locked(pin_dir, ifname, true, 0, err);
	unlock_pin_dir(lock);
	return rc;
}

static int detach_matching(const char *ifname, unsigned *removed, char err[FAII_RES_ERR_LEN])
{
	struct attachment *found = calloc(ATTACHMENTS_MAX, sizeof(*found));
	if (found == NULL)
		return fail(err, "out of memory");
	size_t n = 0;
	struct match m = {.any_residency = true};
	int rc = scan(ifname, &m, found, &n, err);
	unsigned count = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = detach_one(&found[i], err);
		if (rc == 0)
			count++;
	}
	free(found);
	if (removed)
		*removed = count;
	return rc;
}

int faii_res_detach(const char *pin_dir, const char *ifname, unsigned *removed,
                    char err[FAII_RES_ERR_LEN])
{
	/* Detaching needs no pins: it must work when they are gone (unpinned by
	 * hand, or a pin directory of another mount namespace). */
	int lock = -1;
	if (access(pin_dir, F_OK) == 0 && (lock = lock_pin_dir(pin_dir, false, err)) < 0)
		return -1;
	int rc = detach_matching(ifname, removed, err);
	unlock_pin_dir(lock);
	return rc;
}

int faii_res_unload(const char *pin_dir, char err[FAII_RES_ERR_LEN])
{
	int lock = lock_pin_dir(pin_dir, false, err);
	if (lock < 0)
		return -1;
	int rc = detach_matching(NULL, NULL, err);
	if (rc == 0) {
		unpin_all(pin_dir, SYNC_PREFIX);
		unpin_all(pin_dir, "");
	}
	unlock_pin_dir(lock);
	if (rc == 0)
		rmdir(pin_dir); /* only when empty; other pins there stay */
	return rc;
}

int faii_res_read_counters(const char *pin_dir, uint64_t counters[FAII_RES_COUNTER_SLOTS],
                           char err[FAII_RES_ERR_LEN])
{
	int fd = open_pin_or_fail(pin_dir, FAII_RES_PIN_COUNTERS, err);
	if (fd < 0)
		return -1;
	int ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		close(fd);
		return fail(err, "cannot count the possible CPUs: %s", strerror(-ncpus));
	}
	uint64_t *per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	if (per_cpu == NULL) {
		close(fd);
		return fail(err, "out of memory");
	}
	int rc = 0;
	for (uint32_t slot = 0; slot < FAII_RES_COUNTER_SLOTS && rc == 0; slot++) {
		counters[slot] = 0;
		if (bpf_map_lookup_elem(fd, &slot, per_cpu) != 0) {
			rc = fail(err, "%s/%s[%u]: %s", pin_dir, FAII_RES_PIN_COUNTERS, slot,
			          strerror(errno));
			break;
		}
		for (int c = 0; c < ncpus; c++)
			counters[slot] += per_cpu[c];
	}
	free(per_cpu);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* show                                                                     */

/* The UDP port the program was loaded with, from its .rodata map. */
static int prog_udp_port(int prog_fd)
{
	struct bpf_prog_info info;
	uint32_t ids[16];
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
		return -1;
	int port = -1;
	for (uint32_t i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids) && port < 0; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_map_info mi;
		uint32_t mlen = sizeof(mi);
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && strstr(mi.name, ".rodata") &&
		    mi.value_size >= sizeof(struct faii_residency__rodata)) {
			uint8_t value[256];
			uint32_t key = 0;
			if (mi.value_size <= sizeof(value) &&
			    bpf_map_lookup_elem(fd, &key, value) == 0) {
				struct faii_residency__rodata ro;
				memcpy(&ro, value, sizeof(ro));
				port = ro.faii_udp_port;
			}
		}
		close(fd);
	}
	return port;
}

static const char *jurisdiction_name(const struct faii_config *cfg, uint32_t j)
{
	return cfg && j < cfg->jurisdiction_count ? cfg->jurisdictions[j].country : NULL;
}

static void show_classes(int fd, const struct faii_config *cfg, FILE *out)
{
	for (uint32_t id = 1; id < FAII_RES_CLASSES_MAX; id++) {
		struct faii_res_class c;
		if (bpf_map_lookup_elem(fd, &id, &c) != 0 || !c.defined)
			continue;
		const struct faii_cfg_residency_class *named =
		        cfg ? faii_config_residency_class(cfg, (uint16_t)id) : NULL;
		fprintf(out, "  class %u%s%s%s: allowed 0x%016llx", id, named ? " (" : "",
		        named ? named->name : "", named ? ")" : "", (unsigned long long)c.allowed);
		for (uint32_t j = 0; j < 64; j++) {
			const char *name = jurisdiction_name(cfg, j);
			if (name && (c.allowed >> j) & 1)
				fprintf(out, " %s", name);
		}
		fputc('\n', out);
	}
}

static uint32_t count_nodes(int fd, uint32_t per_jurisdiction[64], uint32_t *out_of_set)
{
	uint32_t key, next, n = 0;
	const void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct faii_res_node v;
		if (bpf_map_lookup_elem(fd, &next, &v) == 0) {
			n++;
			if (v.jurisdiction < 64)
				per_jurisdiction[v.jurisdiction]++;
			else
				(*out_of_set)++;
		}
		key = next;
		prev = &key;
	}
	return n;
}

/* "node ports N: p1 p2 ...", the first SHOW_PORTS_MAX of them. */
static void show_ports(int fd, FILE *out)
{
	uint32_t count = 0;
	char list[SHOW_PORTS_MAX * 6 + 8] = "";
	size_t used = 0;
	for (uint32_t w = 0; w < FAII_RES_PORT_WORDS; w++) {
		uint64_t bits = 0;
		if (bpf_map_lookup_elem(fd, &w, &bits) != 0)
			continue;
		for (uint32_t b = 0; b < FAII_RES_PORT_WORD_BITS; b++) {
			if (!((bits >> b) & 1))
				continue;
			if (count++ < SHOW_PORTS_MAX)
				used += (size_t)snprintf(list + used, sizeof(list) - used, " %u",
				                         w * FAII_RES_PORT_WORD_BITS + b);
		}
	}
	fprintf(out, "node ports %u:%s%s\n", count, list, count > SHOW_PORTS_MAX ? " ..." : "");
}

static void show_nodes(int fd, const struct faii_config *cfg, FILE *out)
{
	uint32_t per_j[64] = {0}, out_of_set = 0;
	uint32_t nodes = count_nodes(fd, per_j, &out_of_set);
	fprintf(out, "nodes %u:", nodes);
	for (uint32_t j = 0; j < 64; j++) {
		if (per_j[j] == 0)
			continue;
		const char *name = jurisdiction_name(cfg, j);
		if (name)
			fprintf(out, " %s %u", name, per_j[j]);
		else
			fprintf(out, " j%u %u", j, per_j[j]);
	}
	if (out_of_set)
		fprintf(out, " (outside 0..63: %u)", out_of_set);
	fputc('\n', out);
}

/* Every residency attachment in this namespace; current: the pinned programs' ids. */
static int show_attachments(const uint32_t current[2], FILE *out, char err[FAII_RES_ERR_LEN])
{
	struct attachment *found = calloc(ATTACHMENTS_MAX, sizeof(*found));
	if (found == NULL)
		return fail(err, "out of memory");
	size_t n = 0;
	struct match m = {.any_residency = true};
	if (scan(NULL, &m, found, &n, err) == 0) {
		fprintf(out, "attached in this network namespace: %s\n", n ? "" : "nowhere");
		for (size_t i = 0; i < n; i++) {
			const struct attachment *a = &found[i];
			fprintf(out, "  %s %s prog id %u%s\n", a->ifname,
			        a->tc                                ? "tc egress"
			        : a->xdp_flags == XDP_FLAGS_SKB_MODE ? "xdp generic"
			        : a->xdp_flags == XDP_FLAGS_HW_MODE  ? "xdp offload"
			                                             : "xdp native",
			        a->prog_id,
			        a->prog_id == current[a->tc]
			                ? ""
			                : "  STALE: not the pinned generation");
		}
	}
	free(found);
	return 0;
}

int faii_res_show(const char *pin_dir, const struct faii_config *cfg, FILE *out,
                  char err[FAII_RES_ERR_LEN])
{
	enum { XDP, TC, NODES, CLASSES, PORTS, COUNTERS, EVENTS, PINS };
	static const char *const names[PINS] = {
	        [XDP] = FAII_RES_PIN_XDP,       [TC] = FAII_RES_PIN_TC,
	        [NODES] = FAII_RES_PIN_NODES,   [CLASSES] = FAII_RES_PIN_CLASSES,
	        [PORTS] = FAII_RES_PIN_PORTS,   [COUNTERS] = FAII_RES_PIN_COUNTERS,
	        [EVENTS] = FAII_RES_PIN_EVENTS,
	};
	int lock = lock_pin_dir(pin_dir, false, err);
	if (lock < 0)
		return -1;
	int rc = -1;
	int fds[PINS];
	for (int i = 0; i < PINS; i++)
		fds[i] = -1;
	for (int i = 0; i < PINS; i++) {
		if ((fds[i] = open_pin_or_fail(pin_dir, names[i], err)) < 0)
			goto out;
	}
	fprintf(out, "pin directory %s\n", pin_dir);
	for (int i = XDP; i <= TC; i++)
		fprintf(out, "program %-18s id %-6u pinned %s/%s\n", names[i], prog_id(fds[i]),
		        pin_dir, names[i]);
	for (int i = NODES; i < PINS; i++)
		fprintf(out, "map     %-18s id %-6u pinned %s/%s\n", names[i], map_id(fds[i]),
		        pin_dir, names[i]);
	int port = prog_udp_port(fds[XDP]);
	if (port >= 0)
		fprintf(out, "udp port %d\n", port);
	show_ports(fds[PORTS], out);
	show_nodes(fds[NODES], cfg, out);
	fprintf(out, "classes:\n");
	show_classes(fds[CLASSES], cfg, out);
	uint32_t current[2] = {prog_id(fds[XDP]), prog_id(fds[TC])};
	rc = show_attachments(current, out, err);
out:
	for (int i = 0; i < PINS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	unlock_pin_dir(lock);
	return rc;
}
