// Child processes in their own process groups (killed on exit, errors and SIGINT) and /proc readers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace loadgen {

// Set by SIGINT/SIGTERM; every wait loop checks it. A second signal kills all groups and exits.
extern std::atomic<bool> g_stop;
void install_signal_handlers();

struct SpawnSpec {
    std::vector<std::string> argv;           // argv[0] is looked up in PATH
    int stdin_fd = -1;                       // -1: /dev/null
    int stdout_fd = -1;                      // -1: /dev/null
    int stderr_fd = -1;                      // -1: /dev/null
    pid_t pgid = 0;                          // 0: a new process group led by the child
    std::optional<uid_t> drop_to_uid;        // setgroups(0), setgid, setuid (like setpriv --reuid/--regid --clear-groups)
    std::vector<std::pair<std::string, std::string>> env;  // added to / overriding the environment
};

// Forks and execs; the child gets PR_SET_PDEATHSIG(SIGKILL) so it dies with us even on a crash.
// The group is registered and killed by kill_group()/kill_all_groups(). Throws on fork failure.
pid_t spawn(const SpawnSpec& spec);

// SIGTERM to the group, wait up to grace_s for `reap` pids, then SIGKILL the group and reap.
void kill_group(pid_t pgid, const std::vector<pid_t>& reap, double grace_s = 5.0);
void kill_all_groups();  // SIGKILL to every registered group (exit path)
void forget_group(pid_t pgid);  // its leader was reaped and it had no other member

// Reaps pid if it has exited; returns true (and its wait status) once it is gone.
bool exited(pid_t pid, int* status = nullptr);
// Waits for pid with a time bound; returns the exit status or nullopt on timeout/stop.
std::optional<int> wait_for(pid_t pid, double timeout_s);

// /proc readers; nullopt when the process/task is gone.
std::optional<double> proc_cpu_s(pid_t pid);                 // utime+stime of the process
std::optional<double> task_cpu_s(pid_t pid, pid_t tid);      // utime+stime of one thread
std::optional<long> proc_rss_kb(pid_t pid);                  // VmRSS
std::optional<pid_t> find_thread(pid_t pid, const std::string& comm);  // /proc/PID/task/*/comm
double self_cpu_s();                                          // our own user+system time
// CPU time of the kernel's ksoftirqd threads: network receive work the kernel deferred there is
// charged to no server (on loopback it is otherwise done, and charged, in the sender's context).
double ksoftirqd_cpu_s();

std::string read_file(const std::string& path, std::size_t max_bytes = 1 << 20);
std::string tail_of_file(const std::string& path, int lines);

}  // namespace loadgen
