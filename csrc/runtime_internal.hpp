// Runtime internals shared by runtime.cpp and the bindings (not part of the public headers).
#pragma once

namespace fieldconv {

// CPUs allowed by the cgroup CPU quota of this process (ceil(quota / period), the smallest over
// its cgroup and their ancestors, v1 or v2), read from `proc_self_cgroup` (the format of
// /proc/self/cgroup) and the cgroup file systems mounted under `cgroup_root`; 0 where no quota
// is set or nothing can be read. Parameters exist so that tests can point at fake files.
int cgroup_cpu_limit(const char* proc_self_cgroup, const char* cgroup_root) noexcept;
// CPUs in this process's affinity mask.
int affinity_cpu_count() noexcept;

// set_num_threads, recording who set it (shown by show_config): "set_num_threads",
// "fieldconv.threads", "threadpoolctl".
void set_num_threads(int n, const char* source);
// The configured count (what get_num_threads() returns).
int get_num_threads_setting() noexcept;

}  // namespace fieldconv
