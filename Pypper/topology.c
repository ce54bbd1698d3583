/* Pypper/topology.c: reads NUMA nodes, their CPUs, memory, distances and memory
 * tiers from sysfs (the same files libnuma and the kernel's tiering code use) and
 * decides the fast and slow tiers: an explicit override first, then the kernel's
 * memory tiers (lowest tier id is fastest), then CPU-less nodes as the slow tier;
 * with one node the two tiers are logical and marked simulated. The files are read
 * with read(2) and parsed by hand, not with stdio and sscanf: this runs at every
 * start of the drop-in, and scanf's code alone is 64 KiB of libc the stock
 * interpreter never maps (so is the end of libc's text, where strcspn lives). */
#include "topology.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The start of a file (at most len - 1 bytes), NUL-terminated. -1 if it cannot be
 * opened or read, or is empty. */
static int read_head(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    while (have < len - 1) {
        ssize_t n = read(fd, buf + have, len - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    buf[have] = '\0';
    return have ? 0 : -1;
}

/* The file's first line, without its newline. */
static int read_line(const char *path, char *buf, size_t len)
{
    if (read_head(path, buf, len) < 0)
        return -1;
    char *newline = strchr(buf, '\n');    /* (not strcspn: see the top comment) */
    if (newline)
        *newline = '\0';
    return 0;
}

/* A line of a node's meminfo, "Node <id> <key> <value> kB" (any spacing): the value
 * when the key matches. */
static int meminfo_value(const char *line, const char *key, unsigned long long *value)
{
    const char *p = line;
    if (strncmp(p, "Node", 4) != 0)
        return -1;
    p += 4;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p))
        p++;
    while (isspace((unsigned char)*p))
        p++;
    size_t klen = strlen(key);
    if (strncmp(p, key, klen) != 0)
        return -1;
    p += klen;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    *value = strtoull(p, NULL, 10);
    return 0;
}

static void set_node(pypper_nodeset *set, int node)
{
    set->bits[node / 64] |= (uint64_t)1 << (node % 64);
}

static int node_index(const pypper_topology *t, int id)
{
    for (int i = 0; i < t->nnodes; i++)
        if (t->nodes[i].id == id)
            return i;
    return -1;
}

static int compare_nodes(const void *a, const void *b)
{
    return ((const pypper_node *)a)->id - ((const pypper_node *)b)->id;
}

static void read_nodes(const char *root, pypper_topology *t)
{
    char path[512], line[4096];
    snprintf(path, sizeof(path), "%s/devices/system/node", root);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && t->nnodes < PYPPER_TOPO_MAX_NODES) {
            char *end;
            if (strncmp(e->d_name, "node", 4) != 0)
                continue;
            long id = strtol(e->d_name + 4, &end, 10);
            if (end == e->d_name + 4 || *end || id < 0 || id >= PYPPER_MAX_NODES)
                continue;
            pypper_node *n = &t->nodes[t->nnodes++];
            memset(n, 0, sizeof(*n));
            n->id = (int)id;
            n->memory_tier = -1;
        }
        closedir(d);
    }
    if (t->nnodes == 0) {           /* no NUMA in sysfs: one node 0 */
        t->nnodes = 1;
        memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
        t->nodes[0].memory_tier = -1;
        t->nodes[0].has_cpus = true;
    }
    qsort(t->nodes, (size_t)t->nnodes, sizeof(pypper_node), compare_nodes);
    for (int i = 0; i < t->nnodes; i++) {
        pypper_node *n = &t->nodes[i];
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/cpulist", root, n->id);
        if (read_line(path, line, sizeof(line)) == 0)
            n->has_cpus = line[0] != '\0';
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/meminfo", root, n->id);
        /* MemTotal and MemFree are the first lines of the file (about 1 KiB). */
        if (read_head(path, line, sizeof(line)) == 0) {
            for (char *l = line; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                unsigned long long kb;
                if (meminfo_value(l, "MemTotal:", &kb) == 0) n->mem_total_kb = kb;
                if (meminfo_value(l, "MemFree:", &kb) == 0) n->mem_free_kb = kb;
            }
        }
        for (int j = 0; j < PYPPER_TOPO_MAX_NODES; j++)
            n->distance[j] = -1;
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d/distance", root, n->id);
        if (read_line(path, line, sizeof(line)) == 0) {
            char *p = line;
            for (int j = 0; j < t->nnodes && *p; j++)
                n->distance[j] = (int)strtol(p, &p, 10);
        }
    }
}

/* memory_tierN/nodelist: "0" or "0-1,3". */
static void read_memory_tiers(const char *root, pypper_topology *t)
{
    char path[512], line[1024];
    snprintf(path, sizeof(path), "%s/devices/virtual/memory_tiering", root);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "memory_tier", 11) != 0)
            continue;
        long tier = strtol(e->d_name + 11, &end, 10);
        if (end == e->d_name + 11 || *end)
            continue;
        snprintf(path, sizeof(path), "%s/devices/virtual/memory_tiering/%s/nodelist", root,
                 e->d_name);
        pypper_nodeset set;
        if (read_line(path, line, sizeof(line)) < 0 || pypper_parse_nodes(line, &set) < 0)
            continue;
        for (int i = 0; i < t->nnodes; i++)
            if (pypper_nodeset_has(&set, (unsigned)t->nodes[i].id))
                t->nodes[i].memory_tier = (int)tier;
    }
    closedir(d);
}

static int check_override(const pypper_topology *t, const pypper_nodeset *set,
                          const char *what, char *err, size_t errlen)
{
    for (unsigned n = 0; n < PYPPER_MAX_NODES; n++) {
        if (pypper_nodeset_has(set, n) && node_index(t, (int)n) < 0) {
            char have[256];
            size_t used = 0;
            have[0] = '\0';
            for (int i = 0; i < t->nnodes && used < sizeof(have); i++)
                used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%d",
                                         i ? "," : "", t->nodes[i].id);
            snprintf(err, errlen, "%s names node %u, but this machine's NUMA nodes are: %s",
                     what, n, have);
            return -1;
        }
    }
    return 0;
}

int pypper_topology_discover(const char *root, const pypper_config *cfg,
                             pypper_topology *t, char *err, size_t errlen)
{
    /* Only what is read is written: nodes past nnodes are left alone (18 KiB that
     * readers never look at; clearing them put 5 pages in every process). */
    t->nnodes = 0;
    memset(&t->fast, 0, sizeof(t->fast));
    memset(&t->slow, 0, sizeof(t->slow));
    t->source = PYPPER_TOPO_SINGLE_NODE;
    t->simulated = false;
    read_nodes(root, t);
    read_memory_tiers(root, t);
    bool fast_given = !pypper_nodeset_empty(&cfg->fast_nodes);
    bool slow_given = !pypper_nodeset_empty(&cfg->slow_nodes);

    if (fast_given || slow_given) {
        /* Named as given: PYPPER_FAST_NODES from the environment, fast_nodes from start(). */
        bool keywords = cfg->source[PYPPER_OPTION_FAST_NODES] == PYPPER_SRC_ARG
                        || cfg->source[PYPPER_OPTION_SLOW_NODES] == PYPPER_SRC_ARG;
        char fast_name[64], slow_name[64];
        pypper_option_label(cfg, PYPPER_OPTION_FAST_NODES, keywords, fast_name, sizeof(fast_name));
        pypper_option_label(cfg, PYPPER_OPTION_SLOW_NODES, keywords, slow_name, sizeof(slow_name));
        if (check_override(t, &cfg->fast_nodes, fast_name, err, errlen) < 0
            || check_override(t, &cfg->slow_nodes, slow_name, err, errlen) < 0)
            return -1;
        for (unsigned w = 0; w < PYPPER_MAX_NODES / 64; w++) {
            if (cfg->fast_nodes.bits[w] & cfg->slow_nodes.bits[w]) {
                snprintf(err, errlen, "%s and %s share a node", fast_name, slow_name);
                return -1;
            }
        }
        t->source = PYPPER_TOPO_OVERRIDE;
        t->fast = cfg->fast_nodes;
        t->slow = cfg->slow_nodes;
        /* The side not given gets every other node. */
        for (int i = 0; i < t->nnodes; i++) {
            unsigned id = (unsigned)t->nodes[i].id;
            if (!fast_given && !pypper_nodeset_has(&t->slow, id)) set_node(&t->fast, t->nodes[i].id);
            if (!slow_given && !pypper_nodeset_has(&t->fast, id)) set_node(&t->slow, t->nodes[i].id);
        }
        if (pypper_nodeset_empty(&t->fast) || pypper_nodeset_empty(&t->slow)) {
            snprintf(err, errlen, "the node override leaves the %s tier without nodes",
                     pypper_nodeset_empty(&t->fast) ? "fast" : "slow");
            return -1;
        }
        return 0;
    }

    if (t->nnodes == 1) {
        t->source = PYPPER_TOPO_SINGLE_NODE;
        t->simulated = true;
        set_node(&t->fast, t->nodes[0].id);
        set_node(&t->slow, t->nodes[0].id);
        return 0;
    }
    int lowest = -1;
    bool tiers_differ = false;
    for (int i = 0; i < t->nnodes; i++) {
        int mt = t->nodes[i].memory_tier;
        if (mt < 0)
            continue;
        if (lowest >= 0 && mt != lowest)
            tiers_differ = true;
        if (lowest < 0 || mt < lowest)
            lowest = mt;
    }
    if (tiers_differ) {
        t->source = PYPPER_TOPO_MEMORY_TIERING;
        for (int i = 0; i < t->nnodes; i++)
            set_node(t->nodes[i].memory_tier == lowest ? &t->fast : &t->slow, t->nodes[i].id);
        return 0;
    }
    bool any_cpuless = false, any_cpu = false;
    for (int i = 0; i < t->nnodes; i++) {
        any_cpuless |= !t->nodes[i].has_cpus;
        any_cpu |= t->nodes[i].has_cpus;
    }
    if (any_cpuless && any_cpu) {
        t->source = PYPPER_TOPO_CPULESS;
        for (int i = 0; i < t->nnodes; i++)
            set_node(t->nodes[i].has_cpus ? &t->fast : &t->slow, t->nodes[i].id);
        return 0;
    }
    /* Several nodes of one kind (e.g. two sockets of DRAM): no slower tier to use. */
    t->source = PYPPER_TOPO_SINGLE_NODE;
    t->simulated = true;
    for (int i = 0; i < t->nnodes; i++) {
        set_node(&t->fast, t->nodes[i].id);
        set_node(&t->slow, t->nodes[i].id);
    }
    return 0;
}

const char *pypper_topology_source_name(pypper_topology_source s)
{
    switch (s) {
    case PYPPER_TOPO_OVERRIDE: return "override";
    case PYPPER_TOPO_MEMORY_TIERING: return "memory_tiering";
    case PYPPER_TOPO_CPULESS: return "cpuless";
    default: return "single-node";
    }
}
