/* A small MS-WMSP client built on libmms (mmsx_connect + mmsx_read): connects to URL, reads
 * BYTES bytes of the stream (ASF header then data packets) and writes them to OUT. Exit 0 when
 * all bytes arrived; 2 when the connection failed; 3 when the stream ended early. */
#include <libmms/mmsx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL BYTES OUT\n", argv[0]);
        return 1;
    }
    long want = atol(argv[2]);
    mmsx_t* mms = mmsx_connect(NULL, NULL, argv[1], 2000000);
    if (!mms) {
        fprintf(stderr, "mmsx_connect %s failed\n", argv[1]);
        return 2;
    }
    const long header = (long)mmsx_get_asf_header_len(mms);
    const long packet = (long)mmsx_get_asf_packet_len(mms);
    fprintf(stderr, "connected, ASF header %ld bytes, packets of %ld bytes\n", header, packet);
    /* Whole packets only: round the amount up to the next packet boundary. */
    if (packet > 0 && want > header) want = header + (want - header + packet - 1) / packet * packet;
    FILE* out = fopen(argv[3], "wb");
    if (!out) {
        perror(argv[3]);
        mmsx_close(mms);
        return 1;
    }
    static char buf[65536];
    long got = 0;
    while (got < want) {
        int n = mmsx_read(NULL, mms, buf, (int)(want - got < (long)sizeof buf ? want - got : (long)sizeof buf));
        if (n <= 0) break;
        fwrite(buf, 1, (size_t)n, out);
        got += n;
    }
    fclose(out);
    mmsx_close(mms);
    fprintf(stderr, "read %ld of %ld bytes\n", got, want);
    return got >= want ? 0 : 3;
}
