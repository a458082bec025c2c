// server: systemd's two protocols, without libsystemd. Type=notify is a datagram to the Unix
// socket named by $NOTIFY_SOCKET ("READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1",
// "WATCHDOG=1"; a name starting with '@' is in the abstract namespace), and socket activation
// is listening sockets from fd 3 on, counted by $LISTEN_FDS and meant for $LISTEN_PID, named
// by $LISTEN_FDNAMES (all of them are served: ServerOptions::fd and more_fds). Both are
// sd_notify(3) and sd_listen_fds(3) as their manuals describe them.
// Relies on nothing but POSIX.
#pragma once
#include <chrono>      // microseconds
#include <cstdlib>     // getenv, strtoull, unsetenv
#include <cstring>     // memcpy
#include <ctime>       // clock_gettime (MONOTONIC_USEC)
#include <fcntl.h>     // fcntl, FD_CLOEXEC
#include <string>      // string
#include <string_view> // string_view
#include <sys/socket.h>  // socket, sendto
#include <sys/un.h>    // sockaddr_un
#include <unistd.h>    // getpid, close
#include <vector>      // vector

namespace fastapi::detail {

// Sends `state` (newline-separated assignments) to $NOTIFY_SOCKET. False when there is none
// (not started by systemd with Type=notify) or it could not be sent; nothing else happens then.
FASTAPI_DECL bool sd_notify(std::string_view state) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool sd_notify(std::string_view state) noexcept {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::size_t len = std::strlen(path);
    if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) return false;
    std::memcpy(addr.sun_path, path, len);
    if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
    const socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len);
    ::close(fd);
    return n == static_cast<ssize_t>(state.size());
}
#endif

// CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants it next to MONOTONIC_USEC=.
FASTAPI_DECL unsigned long long monotonic_usec() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL unsigned long long monotonic_usec() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
}
#endif

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when it is meant for this process
// ($WATCHDOG_PID unset or ours), else zero (no watchdog).
FASTAPI_DECL std::chrono::microseconds watchdog_interval() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::chrono::microseconds watchdog_interval() noexcept {
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (!usec || !*usec) return {};
    if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
        char* end = nullptr;
        if (std::strtoll(pid, &end, 10) != static_cast<long long>(::getpid()) || *end) return {};
    }
    char* end = nullptr;
    const unsigned long long n = std::strtoull(usec, &end, 10);
    if (*end || n == 0) return {};
    return std::chrono::microseconds(static_cast<long long>(n / 2));
}
#endif

struct ListenFd {
    int fd;
    std::string name;  // from $LISTEN_FDNAMES; "unknown" as sd_listen_fds_with_names says
};

constexpr int sd_listen_fds_start = 3;

// The sockets systemd passed to this process (socket activation), or none. The variables are
// removed from the environment (as sd_listen_fds(1) does), so a program this one starts does not
// take them for its own, and the descriptors are made close-on-exec.
FASTAPI_DECL std::vector<ListenFd> take_listen_fds();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<ListenFd> take_listen_fds() {
    std::vector<ListenFd> fds;
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    if (pid && count && *pid && *count) {
        char* end = nullptr;
        const long long p = std::strtoll(pid, &end, 10);
        const bool ours = !*end && p == static_cast<long long>(::getpid());
        const long long n = std::strtoll(count, &end, 10);
        if (ours && !*end && n > 0 && n < 4096) {
            std::vector<std::string> names;
            if (const char* list = std::getenv("LISTEN_FDNAMES")) {
                std::string_view rest(list);
                while (true) {
                    auto colon = rest.find(':');
                    names.emplace_back(rest.substr(0, colon));
                    if (colon == std::string_view::npos) break;
                    rest.remove_prefix(colon + 1);
                }
            }
            for (int i = 0; i < static_cast<int>(n); ++i) {
                const int fd = sd_listen_fds_start + i;
                if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) continue;  // not open: nothing to take
                fds.push_back({fd, static_cast<std::size_t>(i) < names.size() && !names[i].empty() ? names[i] : "unknown"});
            }
        }
    }
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return fds;
}
#endif

}  // namespace fastapi::detail
