/* Listens on a Unix datagram socket like systemd's NOTIFY_SOCKET and prints every message it
 * receives, one per line, for at most SECONDS seconds. Usage: notify_listener PATH SECONDS */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATH SECONDS\n", argv[0]);
        return 1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        perror(argv[1]);
        return 1;
    }
    const time_t end = time(NULL) + atoi(argv[2]);
    char buf[4096];
    while (time(NULL) < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0) continue;
        buf[n] = 0;
        for (char* line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) printf("%s\n", line);
        fflush(stdout);
    }
    unlink(argv[1]);
    return 0;
}
