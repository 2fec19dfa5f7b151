// clear_scan --reference FILE... [--exclude FILE...] --scan FILE... [--expect-found]
// Looks for clear media in captures, byte by byte. Every 32-byte window at each 16th offset of the
// reference files (the clear media objects of a clear run, as ffmpeg extracts them: independent of
// asfcast) that has at least 12 distinct byte values is a fingerprint; fingerprints that also
// occur in an --exclude file (the ASF header, which legitimately carries the codec's clear SPS/PPS)
// are dropped. Every offset of every --scan file is then looked up. Any 47 clear bytes in a row
// in a capture contain a whole fingerprint, wherever they are aligned.
// Prints "reference_windows=N scanned_bytes=N found=N" and exits 1 when something was found (or,
// with --expect-found, when nothing was: the check that the scan can see clear data at all).
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

constexpr std::size_t kWindow = 32;

std::vector<char> read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "clear_scan: cannot read %s\n", path.c_str());
        std::exit(2);
    }
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool varied(const char* p) {
    bool seen[256] = {};
    int distinct = 0;
    for (std::size_t i = 0; i < kWindow; ++i) {
        const auto b = static_cast<unsigned char>(p[i]);
        distinct += !seen[b];
        seen[b] = true;
    }
    return distinct >= 12;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> refs, excludes, scans;
    bool expect_found = false;
    std::vector<std::string>* list = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--reference") list = &refs;
        else if (a == "--exclude") list = &excludes;
        else if (a == "--scan") list = &scans;
        else if (a == "--expect-found") expect_found = true;
        else if (list) list->push_back(a);
        else {
            std::fprintf(stderr, "usage: clear_scan --reference FILE... [--exclude FILE...] --scan FILE... [--expect-found]\n");
            return 2;
        }
    }
    std::vector<std::vector<char>> ref_data;
    for (const auto& r : refs) ref_data.push_back(read(r));
    std::unordered_set<std::string_view> windows;
    for (const auto& d : ref_data)
        for (std::size_t at = 0; at + kWindow <= d.size(); at += 16)
            if (varied(d.data() + at)) windows.insert(std::string_view(d.data() + at, kWindow));
    std::size_t excluded = 0;
    for (const auto& e : excludes) {
        const auto d = read(e);
        for (std::size_t at = 0; at + kWindow <= d.size(); ++at) excluded += windows.erase(std::string_view(d.data() + at, kWindow));
    }
    std::size_t scanned = 0, found = 0;
    for (const auto& s : scans) {
        const auto d = read(s);
        std::size_t in_file = 0;
        for (std::size_t at = 0; at + kWindow <= d.size(); ++at) {
            if (windows.count(std::string_view(d.data() + at, kWindow))) {
                if (found < 5 && !expect_found) std::fprintf(stderr, "clear_scan: clear media in %s at byte %zu\n", s.c_str(), at);
                ++found;
                ++in_file;
            }
        }
        scanned += d.size();
        std::printf("file=%s bytes=%zu found=%zu\n", s.c_str(), d.size(), in_file);
    }
    std::printf("reference_windows=%zu excluded=%zu scanned_bytes=%zu found=%zu\n", windows.size(), excluded, scanned, found);
    if (windows.empty()) {
        std::fprintf(stderr, "clear_scan: no reference windows: nothing to look for\n");
        return 2;
    }
    return expect_found ? (found ? 0 : 1) : (found ? 1 : 0);
}
