// drm_decrypt IN OUT --key HEX [--dump STREAM ENC_OUT]: decrypts a PlayReady-protected ASF file
// (or a pulled/pushed stream turned into one) payload by payload, in place, and writes it to OUT.
// Written from the specification texts, with no asfcast code: ASF-notes §4–§8, §15, §16 for the
// objects and the packets; for the cipher, the PlayReady Format Specification as public readers
// quote it: AES-128 in counter mode per media object, the 8-byte sample ID (payload extension
// system 6698B84E-0AFA-4330-AEB2-1C0A98D7A44D, big-endian) as the IV, the 16-byte block offset
// from the start of the media object as the counter (OpenSSL's CTR over IV || counter).
// Streams whose Stream Properties say Encrypted Content (Flags bit 15) are decrypted.
// --dump writes the first whole media object of STREAM as it is in the file (encrypted) to
// ENC_OUT and prints "sample_id HEX" and "plain_md5-less check" lines for an openssl CLI check.
// Prints "packets=N payloads=N decrypted=N objects=N streams=..." and exits 1 on anything it
// cannot read.
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Fail : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint64_t le(const Bytes& b, std::size_t at, int n) {
    if (at + static_cast<std::size_t>(n) > b.size()) throw Fail("read past the end at " + std::to_string(at));
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{b[at + static_cast<std::size_t>(i)]} << (8 * i);
    return v;
}

// GUID text -> on-disk bytes (ASF-notes §1: DWORD, WORD, WORD little-endian, then 8 bytes).
std::array<std::uint8_t, 16> guid(const char* s) {
    unsigned a, b, c, d[8];
    std::sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &a, &b, &c, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &d[7]);
    std::array<std::uint8_t, 16> g{};
    for (int i = 0; i < 4; ++i) g[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a >> (8 * i));
    g[4] = static_cast<std::uint8_t>(b);
    g[5] = static_cast<std::uint8_t>(b >> 8);
    g[6] = static_cast<std::uint8_t>(c);
    g[7] = static_cast<std::uint8_t>(c >> 8);
    for (int i = 0; i < 8; ++i) g[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d[i]);
    return g;
}

bool is(const Bytes& b, std::size_t at, const std::array<std::uint8_t, 16>& g) {
    return at + 16 <= b.size() && std::memcmp(b.data() + at, g.data(), 16) == 0;
}

const auto kHeader = guid("75B22630-668E-11CF-A6D9-00AA0062CE6C");
const auto kFileProperties = guid("8CABDCA1-A947-11CF-8EE4-00C00C205365");
const auto kStreamProperties = guid("B7DC0791-A9B7-11CF-8EE6-00C00C205365");
const auto kHeaderExtension = guid("5FBF03B5-A92E-11CF-8EE3-00C00C205365");
const auto kExtendedStreamProperties = guid("14E6A5CB-C672-4332-8399-A96952065B5A");
const auto kSampleId = guid("6698B84E-0AFA-4330-AEB2-1C0A98D7A44D");

struct Stream {
    bool encrypted = false;
    std::size_t sample_id_at = SIZE_MAX;  // in the payload extension data
};

void ctr(const std::array<std::uint8_t, 16>& key, const std::uint8_t sample_id[8], std::uint64_t offset, std::uint8_t* data,
         std::size_t n) {
    std::uint8_t iv[16];
    std::memcpy(iv, sample_id, 8);
    const std::uint64_t block = offset / 16;
    for (int i = 0; i < 8; ++i) iv[15 - i] = static_cast<std::uint8_t>(block >> (8 * i));
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int len = 0;
    std::uint8_t skip[16];
    if (!c || EVP_DecryptInit_ex(c, EVP_aes_128_ctr(), nullptr, key.data(), iv) != 1 ||
        (offset % 16 && EVP_DecryptUpdate(c, skip, &len, skip, static_cast<int>(offset % 16)) != 1) ||
        EVP_DecryptUpdate(c, data, &len, data, static_cast<int>(n)) != 1)
        throw Fail("libcrypto AES-CTR failed");
    EVP_CIPHER_CTX_free(c);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: drm_decrypt IN OUT --key HEX [--dump STREAM ENC_OUT]\n");
        return 2;
    }
    try {
        std::array<std::uint8_t, 16> key{};
        int dump_stream = -1;
        std::string dump_path;
        for (int i = 3; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--key" && i + 1 < argc) {
                const std::string h = argv[++i];
                if (h.size() != 32) throw Fail("--key takes 32 hex digits");
                for (std::size_t k = 0; k < 16; ++k) key[k] = static_cast<std::uint8_t>(std::stoul(h.substr(2 * k, 2), nullptr, 16));
            } else if (a == "--dump" && i + 2 < argc) {
                dump_stream = std::stoi(argv[++i]);
                dump_path = argv[++i];
            } else {
                throw Fail("unknown argument " + a);
            }
        }
        std::ifstream in(argv[1], std::ios::binary);
        Bytes f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!is(f, 0, kHeader)) throw Fail("not an ASF file (no Header Object at byte 0)");
        const std::size_t header_size = le(f, 16, 8);
        // Header Object children (ASF-notes §4): walk by size.
        std::uint32_t packet_size = 0;
        std::map<int, Stream> streams;
        for (std::size_t at = 30; at + 24 <= header_size;) {
            const std::size_t size = le(f, at + 16, 8);
            if (size < 24 || at + size > header_size) throw Fail("a header object has a bad size at " + std::to_string(at));
            if (is(f, at, kFileProperties)) {
                packet_size = static_cast<std::uint32_t>(le(f, at + 92, 4));  // Minimum Data Packet Size (§5)
                if (le(f, at + 96, 4) != packet_size) throw Fail("packet size not fixed");
            } else if (is(f, at, kStreamProperties)) {
                const auto flags = le(f, at + 72, 2);  // §6 Flags: number, bit 15 Encrypted Content
                streams[static_cast<int>(flags & 0x7F)].encrypted = flags & 0x8000;
            } else if (is(f, at, kHeaderExtension)) {
                const std::size_t data_size = le(f, at + 42, 4);  // §7
                for (std::size_t e = at + 46; e + 24 <= at + 46 + data_size;) {
                    const std::size_t esize = le(f, e + 16, 8);
                    if (esize < 24) throw Fail("a header extension object has a bad size");
                    if (is(f, e, kExtendedStreamProperties)) {  // §8
                        const int number = static_cast<int>(le(f, e + 72, 2) & 0x7F);
                        const std::size_t names = le(f, e + 84, 2), systems = le(f, e + 86, 2);
                        std::size_t p = e + 88;
                        for (std::size_t n = 0; n < names; ++n) p += 4 + le(f, p + 2, 2);
                        std::size_t ext_at = 0;
                        for (std::size_t s = 0; s < systems; ++s) {
                            const std::size_t dsize = le(f, p + 16, 2);
                            if (dsize == 0xFFFF) throw Fail("variable-size payload extension: not handled");
                            if (is(f, p, kSampleId)) {
                                if (dsize != 8) throw Fail("the sample ID extension is not 8 bytes");
                                streams[number].sample_id_at = ext_at;
                            }
                            ext_at += dsize;
                            p += 16 + 2 + 4 + le(f, p + 18, 4);
                        }
                    }
                    e += esize;
                }
            }
            at += size;
        }
        if (!packet_size) throw Fail("no File Properties Object");
        // Data Object (§15): 50 bytes, then packets; its size when the header was finalized.
        const std::size_t data_start = header_size + 50;
        const std::uint64_t data_object_size = le(f, header_size + 16, 8);
        std::size_t end = f.size();
        if (data_object_size > 50 && header_size + data_object_size <= f.size()) end = header_size + data_object_size;
        std::size_t packets = 0, payloads = 0, decrypted = 0, objects = 0;
        bool dumped = false;
        for (std::size_t pk = data_start; pk + packet_size <= end; pk += packet_size, ++packets) {
            std::size_t p = pk;
            std::uint8_t b = f[p++];
            if (b & 0x80) {  // §16.1 Error Correction Flags
                if (b & 0x60) throw Fail("error correction length type not 0");
                p += b & 0x0F;
                b = f[p++];
            }
            const std::uint8_t ltf = b, pf = f[p++];
            const auto width = [](unsigned t) { return t == 3 ? 4 : static_cast<int>(t); };
            const std::size_t length = width((ltf >> 5) & 3) ? le(f, p, width((ltf >> 5) & 3)) : packet_size;
            p += static_cast<std::size_t>(width((ltf >> 5) & 3));
            p += static_cast<std::size_t>(width((ltf >> 1) & 3));  // Sequence
            const std::size_t padding = width((ltf >> 3) & 3) ? le(f, p, width((ltf >> 3) & 3)) : 0;
            p += static_cast<std::size_t>(width((ltf >> 3) & 3));
            p += 6;  // Send Time, Duration
            const std::size_t content_end = pk + length - padding;
            std::size_t count = 1;
            int payload_length_type = 0;
            if (ltf & 1) {  // §16.3 multiple payloads
                count = f[p] & 0x3F;
                payload_length_type = f[p] >> 6;
                ++p;
            }
            for (std::size_t i = 0; i < count; ++i, ++payloads) {
                const int number = f[p++] & 0x7F;
                p += static_cast<std::size_t>(width((pf >> 4) & 3));  // Media Object Number
                const std::uint64_t offset = le(f, p, width((pf >> 2) & 3));
                p += static_cast<std::size_t>(width((pf >> 2) & 3));
                const std::size_t repl = le(f, p, width(pf & 3));
                p += static_cast<std::size_t>(width(pf & 3));
                if (repl == 1) throw Fail("compressed payloads are not handled");
                const std::size_t repl_at = p;
                const std::uint64_t object_size = repl >= 8 ? le(f, p, 4) : 0;
                p += repl;
                std::size_t n = content_end - p;
                if (ltf & 1) {
                    n = le(f, p, width(static_cast<unsigned>(payload_length_type)));
                    p += static_cast<std::size_t>(width(static_cast<unsigned>(payload_length_type)));
                }
                if (p + n > content_end) throw Fail("a payload runs past its packet " + std::to_string(packets));
                const Stream& s = streams[number];
                if (s.encrypted) {
                    if (s.sample_id_at == SIZE_MAX || repl < 8 + s.sample_id_at + 8)
                        throw Fail("an encrypted payload of stream " + std::to_string(number) + " has no sample ID");
                    const std::uint8_t* sid = f.data() + repl_at + 8 + s.sample_id_at;
                    if (number == dump_stream && !dumped && offset == 0 && n == object_size) {
                        std::ofstream(dump_path, std::ios::binary).write(reinterpret_cast<const char*>(f.data() + p), static_cast<std::streamsize>(n));
                        std::printf("sample_id ");
                        for (int k = 0; k < 8; ++k) std::printf("%02x", sid[k]);
                        std::printf("\n");
                        dumped = true;
                    }
                    ctr(key, sid, offset, f.data() + p, n);
                    ++decrypted;
                    objects += offset == 0;
                }
                p += n;
            }
        }
        std::ofstream out(argv[2], std::ios::binary);
        out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
        if (!out) throw Fail(std::string("cannot write ") + argv[2]);
        std::printf("packets=%zu payloads=%zu decrypted=%zu objects=%zu encrypted_streams=", packets, payloads, decrypted, objects);
        for (const auto& [n, s] : streams)
            if (s.encrypted) std::printf("%d,", n);
        std::printf("\n");
        if (dump_stream >= 0 && !dumped) throw Fail("no whole media object of stream " + std::to_string(dump_stream) + " to dump");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "drm_decrypt: %s\n", e.what());
        return 1;
    }
}
