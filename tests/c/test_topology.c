/* tests/c/test_topology.c: tier discovery over synthetic sysfs trees (one node; two
 * nodes in different memory tiers; a CPU-less node without tiering information; two
 * equal nodes) and the FAST_NODES / SLOW_NODES override with its errors. */
#include "check.h"
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512], dir[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* mkdir -p of the parent */
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void node(int id, const char *cpus, const char *dist)
{
    char rel[128], mem[256];
    snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist", id);
    put(rel, cpus);
    snprintf(rel, sizeof(rel), "devices/system/node/node%d/distance", id);
    put(rel, dist);
    snprintf(rel, sizeof(rel), "devices/system/node/node%d/meminfo", id);
    snprintf(mem, sizeof(mem), "Node %d MemTotal:  1048576 kB\nNode %d MemFree:   524288 kB\n", id, id);
    put(rel, mem);
}

static void fresh_root(const char *name)
{
    snprintf(root, sizeof(root), "/tmp/pypper-topo-%d-%s", (int)getpid(), name);
    mkdir(root, 0755);
}

static pypper_config defaults(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    return cfg;
}

int main(void)
{
    pypper_topology t;
    char err[PYPPER_ERR_MAX];
    pypper_config cfg = defaults();

    fresh_root("one");
    node(0, "0-1\n", "10\n");
    put("devices/virtual/memory_tiering/memory_tier4/nodelist", "0\n");
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.nnodes == 1 && t.simulated && t.source == PYPPER_TOPO_SINGLE_NODE);
    CHECK(pypper_nodeset_has(&t.fast, 0) && pypper_nodeset_has(&t.slow, 0));
    CHECK(t.nodes[0].mem_total_kb == 1048576 && t.nodes[0].memory_tier == 4);
    CHECK(t.nodes[0].mem_free_kb == 524288);

    fresh_root("cxl");
    node(0, "0-3\n", "10 20\n");
    node(1, "\n", "20 10\n");
    put("devices/virtual/memory_tiering/memory_tier4/nodelist", "0\n");
    put("devices/virtual/memory_tiering/memory_tier28/nodelist", "1\n");
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.nnodes == 2 && !t.simulated && t.source == PYPPER_TOPO_MEMORY_TIERING);
    CHECK(pypper_nodeset_has(&t.fast, 0) && !pypper_nodeset_has(&t.fast, 1));
    CHECK(pypper_nodeset_has(&t.slow, 1) && !pypper_nodeset_has(&t.slow, 0));
    CHECK(!t.nodes[1].has_cpus && t.nodes[1].distance[0] == 20);

    /* Overrides: one side given, the other gets the rest; errors are clear. */
    pypper_parse_nodes("1", &cfg.fast_nodes);
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.source == PYPPER_TOPO_OVERRIDE && pypper_nodeset_has(&t.fast, 1)
          && pypper_nodeset_has(&t.slow, 0) && !pypper_nodeset_has(&t.slow, 1));
    pypper_parse_nodes("3", &cfg.fast_nodes);
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) < 0);
    CHECK(strstr(err, "PYPPER_FAST_NODES names node 3") != NULL);
    pypper_parse_nodes("0-1", &cfg.fast_nodes);
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) < 0);
    CHECK(strstr(err, "without nodes") != NULL);
    pypper_parse_nodes("0", &cfg.fast_nodes);
    pypper_parse_nodes("0", &cfg.slow_nodes);
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) < 0);
    CHECK(strstr(err, "share a node") != NULL);
    cfg = defaults();

    fresh_root("cpuless");
    node(0, "0-3\n", "10 30\n");
    node(1, "\n", "30 10\n");
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.source == PYPPER_TOPO_CPULESS && !t.simulated);
    CHECK(pypper_nodeset_has(&t.fast, 0) && pypper_nodeset_has(&t.slow, 1));

    fresh_root("sockets");
    node(0, "0-3\n", "10 21\n");
    node(1, "4-7\n", "21 10\n");
    put("devices/virtual/memory_tiering/memory_tier4/nodelist", "0-1\n");
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.simulated && pypper_nodeset_has(&t.fast, 1) && pypper_nodeset_has(&t.slow, 0));

    fresh_root("none");
    CHECK(pypper_topology_discover(root, &cfg, &t, err, sizeof(err)) == 0);
    CHECK(t.nnodes == 1 && t.simulated);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf /tmp/pypper-topo-%d-*", (int)getpid());
    CHECK(system(cmd) == 0);
    return check_report("test_topology");
}
