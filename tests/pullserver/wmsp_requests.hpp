// Request heads used by several pullserver tests: the MS-WMSP 4.11 examples as the spec prints
// them, and requests shaped like those of the clients we must serve.
#pragma once

#include <string>

namespace asfcast::pull::testreq {

// MS-WMSP 4.11, Describe from a distribution server. Note the Pragma and Supported lists wrapped
// onto lines of their own.
inline const std::string kSpecDescribe =
    "GET / HTTP/1.1\r\n"
    "Accept: */*\r\n"
    "User-Agent: NSServer/9.0.0.3171\r\n"
    "Host: MyServer\r\n"
    "Max-Forwards: 9\r\n"
    "X-Accept-Authentication: Negotiate, NTLM, Digest\r\n"
    "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=0:0,\r\n"
    "packet-num=4294967295,max-duration=0\r\n"
    "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch,\r\n"
    "com.microsoft.wm.predstrm\r\n"
    "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}\r\n"
    "Accept-Language: *\r\n"
    "\r\n";

// MS-WMSP 4.11, the Play request that follows.
inline const std::string kSpecPlay =
    "GET / HTTP/1.0\r\n"
    "Accept: */*\r\n"
    "User-Agent: NSServer/9.0.0.3171\r\n"
    "Host: SampleServer\r\n"
    "Max-Forwards: 9\r\n"
    "X-Accept-Authentication: Negotiate, NTLM, Digest\r\n"
    "Pragma: no-cache,rate=1.000,stream-time=0,\r\n"
    "stream-offset=4294967295:4294967295,\r\n"
    "packet-num=4294967295,max-duration=0\r\n"
    "Pragma: xPlayStrm=1\r\n"
    "Pragma: client-id=1543854732\r\n"
    "Pragma: LinkBW=2147483647, BurstBW=3500000, BurstDuration=5000\r\n"
    "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch,\r\n"
    "com.microsoft.wm.predstrm\r\n"
    "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}\r\n"
    "Pragma: stream-switch-count=2\r\n"
    "Pragma: stream-switch-entry=ffff:1:0 ffff:2:0\r\n"
    "Accept-Language: *\r\n"
    "\r\n";

// A player's Play request with the stream-switch list ending in a space, and an xPlayStrm token
// that runs into the previous Pragma without a line break.
inline const std::string kRunInPlay =
    "GET /live HTTP/1.0\r\n"
    "Accept: */*\r\n"
    "User-Agent: NSPlayer/4.1.0.3856\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Pragma: no-cache,rate=1.000000,stream-time=0Pragma: xPlayStrm=1\r\n"
    "Pragma: xClientGUID={c0ffee00-1111-2222-3333-444455556666}\r\n"
    "Pragma: stream-switch-count=2\r\n"
    "Pragma: stream-switch-entry=ffff:1:0 ffff:2:2 \r\n"
    "Connection: Close\r\n"
    "\r\n";

}  // namespace asfcast::pull::testreq
